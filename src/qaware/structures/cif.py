"""CIF text <-> ase.Atoms, one structure per ``data_`` block, parsed by pymatgen's CifParser.

A file is split into its blocks first, so one malformed block is one bad item (its 0-based block
number is the ``index`` of the error) and the others still parse. pymatgen's warnings are
errors here, except the few that only report a harmless normalisation (_BENIGN_WARNINGS): a
parser that "guesses" an element or drops a bad line would hand on a structure nobody wrote.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence

from ase import Atoms

from qaware.errors import InvalidStructureError

__all__ = ["atoms_to_cif", "iter_cif_text", "parse_cif", "split_cif_blocks", "structures_to_cif"]

_BLOCK_START = re.compile(r"^data_(\S*)", re.MULTILINE)
_BENIGN_WARNINGS = (
    "fractional coordinates rounded to ideal values",
    "1-line symmetry op P1 CIF is detected",
    "No _symmetry_equiv_pos_as_xyz type key found. Defaulting to P1",
    "No magnetic symmetry detected",
    "Keys changed to match new magCIF specification",
)


def split_cif_blocks(text: str) -> list[tuple[str, str]]:
    """Split CIF text into ``(block name, block text)`` pairs, in file order.

    Text before the first ``data_`` line (comments) is kept with the first block.
    Raises InvalidStructureError when there is no ``data_`` block at all.
    """
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    if not starts:
        raise InvalidStructureError("no 'data_' block found: not a CIF file")
    names = [m.group(1) for m in _BLOCK_START.finditer(text)]
    bounds = [0, *starts[1:], len(text)]
    return [(names[k], text[bounds[k] : bounds[k + 1]]) for k in range(len(starts))]


def parse_cif(text: str) -> Atoms:
    """Parse the single structure of one CIF block (text) into Atoms (pbc True, cell rows Å).

    Raises InvalidStructureError (no source/index: the caller adds them) when pymatgen fails,
    warns about anything but a benign normalisation, or finds a disordered (partially
    occupied) site, which ase.Atoms cannot hold.
    """
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
            structures = parser.parse_structures(primitive=False, on_error="raise")
        except InvalidStructureError:
            raise
        except Exception as exc:
            raise InvalidStructureError(f"CIF could not be parsed: {_one_line(exc)}") from exc
    serious = [
        _one_line(w.message)
        for w in caught
        if not issubclass(w.category, DeprecationWarning)
        and not any(b in str(w.message) for b in _BENIGN_WARNINGS)
    ]
    if serious:
        raise InvalidStructureError(f"CIF parser reported: {'; '.join(dict.fromkeys(serious))}")
    if len(structures) != 1:
        raise InvalidStructureError(f"expected one structure in the block, got {len(structures)}")
    structure = structures[0]
    for i, site in enumerate(structure):
        if not site.is_ordered:
            raise InvalidStructureError(
                f"site {site.species} is partially occupied; only ordered structures are supported",
                atom=i,
            )
    from qaware.structures.convert import from_pymatgen

    return from_pymatgen(structure)


def iter_cif_text(text: str) -> Iterator[Atoms | InvalidStructureError]:
    """Yield one Atoms per block, or the InvalidStructureError of that block (index = block).

    ``atoms.info["cif_block"]`` holds the block name.
    """
    for k, (name, block) in enumerate(split_cif_blocks(text)):
        try:
            atoms = parse_cif(block)
        except InvalidStructureError as exc:
            problem = f"block 'data_{name}': {exc.problem}"
            yield InvalidStructureError(problem, index=k, atom=exc.atom, field=exc.field)
            continue
        atoms.info["cif_block"] = name
        yield atoms


def atoms_to_cif(atoms: Atoms, *, block_name: str | None = None) -> str:
    """One CIF block (P1, 8 significant digits, pymatgen's writer) for a periodic structure.

    ``block_name`` replaces the default ``data_<formula>`` name (characters CIF forbids in a
    name are replaced by '_').
    """
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    from qaware.structures.convert import to_pymatgen

    structure = to_pymatgen(atoms)
    if not isinstance(structure, Structure):
        raise InvalidStructureError("CIF needs a periodic structure (pbc all True)", field="pbc")
    text = str(CifWriter(structure))
    if block_name is not None:
        safe = re.sub(r"\s", "_", block_name)
        text = _BLOCK_START.sub(lambda _: f"data_{safe}", text, count=1)
    return text


def structures_to_cif(structures: Sequence[Atoms]) -> str:
    """A multi-block CIF; block k is named ``<k>_<formula>`` so that names are unique."""
    return "".join(
        atoms_to_cif(a, block_name=f"{k}_{a.get_chemical_formula(mode='reduce')}")
        for k, a in enumerate(structures)
    )


def _one_line(message: object) -> str:
    return " ".join(str(message).split())
