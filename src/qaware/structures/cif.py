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

import numpy as np
from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.structures.checks import MIN_CELL_VOLUME

__all__ = ["atoms_to_cif", "iter_cif_text", "parse_cif", "split_cif_blocks", "structures_to_cif"]

_BLOCK_START = re.compile(r"^data_(\S*)", re.MULTILINE)
_ANGLES = ("alpha", "beta", "gamma")
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
        parser = None
        try:
            parser = CifParser.from_str(text, check_cif=False)  # formula: see below
            structures = parser.parse_structures(primitive=False, on_error="raise")
        except Exception as exc:
            cell_problem = _cell_problem(parser)
            if cell_problem is not None:
                raise InvalidStructureError(cell_problem, field="cell") from exc
            raise InvalidStructureError(f"CIF could not be parsed: {_explain(exc)}") from exc
    serious = [  # ResourceWarning: the garbage collector closing someone else's file meanwhile
        _clean(w.message)
        for w in caught
        if not issubclass(w.category, (DeprecationWarning, ResourceWarning))
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
    _check_declared_formula(parser, structure)
    from qaware.structures.convert import from_pymatgen

    order = _file_order(parser, structure)
    try:
        atoms = from_pymatgen(structure)
    except InvalidStructureError as exc:
        if exc.atom is None:
            raise
        atom = int(np.flatnonzero(order == exc.atom)[0])
        raise InvalidStructureError(exc.problem, atom=atom, field=exc.field) from None
    return atoms[order]


def _file_order(parser: object, structure: object) -> np.ndarray:
    """Permutation putting pymatgen's sites (grouped by species) back in the file's order.

    Sites are sorted by the position of their label in the _atom_site_label loop (stable, so
    the symmetry images of one site stay in pymatgen's order), so that "atom k" in a message
    is the k-th atom site of a P1 file.
    """
    labels = _block_data(parser).get("_atom_site_label")
    sites = list(structure)  # type: ignore[call-overload]
    if not isinstance(labels, list):
        return np.arange(len(sites))
    rank = {str(label): k for k, label in reversed(list(enumerate(labels)))}
    keys = [rank.get(str(getattr(site, "label", "")), len(rank)) for site in sites]
    return np.argsort(np.asarray(keys), kind="stable")


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


def _clean(message: object) -> str:
    """One line, without pymatgen's generic 'No structure parsed for section 1 in CIF.'."""
    text = " ".join(str(message).split())
    return re.sub(r"^No structure parsed for section \d+ in CIF\.\s*", "", text) or text


def _explain(exc: Exception) -> str:
    """pymatgen's message, with a plain-words reading of the loop errors it gives."""
    text = _clean(exc)
    if "zip()" in text or "is not a multiple of" in text:
        return f"a loop has missing or extra values (truncated or malformed file?): {text}"
    return text


def _block_data(parser: object) -> dict[str, object]:
    cif_file = getattr(parser, "_cif", None)  # pymatgen's parsed CifFile
    blocks = list(cif_file.data.values()) if cif_file is not None else []
    return blocks[0].data if blocks else {}


def _cell_problem(parser: object) -> str | None:
    """Say what is wrong with the cell parameters of a block pymatgen could not build, if so."""
    data = _block_data(parser)
    keys = [f"_cell_length_{x}" for x in "abc"] + [f"_cell_angle_{x}" for x in _ANGLES]
    try:
        a, b, c, alpha, beta, gamma = (float(str(data[k]).split("(")[0]) for k in keys)
    except (KeyError, ValueError):
        return None
    cos = np.cos(np.radians([alpha, beta, gamma]))
    v2 = 1.0 - float(np.sum(cos**2)) + 2.0 * float(np.prod(cos))
    volume = a * b * c * float(np.sqrt(max(v2, 0.0)))
    if min(a, b, c) <= 0.0 or volume < MIN_CELL_VOLUME:
        return (
            f"cell volume {volume:.3g} Å^3 is below {MIN_CELL_VOLUME} Å^3 (a={a}, b={b}, c={c} Å, "
            f"alpha={alpha}, beta={beta}, gamma={gamma}°): zero-volume or degenerate cell"
        )
    return None


def _check_declared_formula(parser: object, structure: object) -> None:
    """A block that states _chemical_formula_sum must hold atoms of that composition.

    This catches a file cut between two lines of the atom loop, which still parses.
    """
    from pymatgen.core import Composition

    declared = _block_data(parser).get("_chemical_formula_sum")
    if not isinstance(declared, str) or not declared.strip():
        return
    try:
        expected = Composition(declared)
    except Exception:
        return
    found = structure.composition  # type: ignore[attr-defined]
    if expected.reduced_composition != found.reduced_composition:
        raise InvalidStructureError(
            f"atom sites give {found.formula!r} but the block declares _chemical_formula_sum "
            f"{declared!r} (truncated or edited file?)",
            field="_chemical_formula_sum",
        )
