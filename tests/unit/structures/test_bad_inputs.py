"""Every structure file of the bad-input corpus is refused with an error that says where and what.

The corpus is tests/data/bad/ (README.md there says what is wrong with each file). Each case
gives the expected row/frame/block index, atom, field and words of the problem. The YAML configs
and the run directory of the corpus are checked through the CLI in
tests/integration/test_bad_input_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.errors import InvalidStructureError
from qaware.structures import read_structures

from .conftest import BAD

NO = object()  # "this location must be absent"

# file: (index, atom, field, words that must appear in the message)
CASES: dict[str, tuple[object, object, object, tuple[str, ...]]] = {
    "malformed.cif": (0, NO, NO, ("block 'data_broken'", "could not be parsed", "loop")),
    "truncated.cif": (0, NO, NO, ("truncated or malformed",)),
    "truncated_at_line.cif": (0, NO, "_chemical_formula_sum", ("'Sr1'", "Sr1 Ti1 O3")),
    "unknown_element.cif": (0, 4, NO, ("unknown element 'Xq'",)),
    "zero_volume.cif": (0, NO, "cell", ("cell volume 0 Å^3", "c=0.0")),
    "degenerate_cell.cif": (0, NO, "cell", ("degenerate cell", "alpha=120.0")),
    "overlapping_atoms.cif": (0, 2, NO, ("atoms 2 and 5 are 0.039 Å apart", "minimum 0.5 Å")),
    "partial_occupancy.cif": (0, 0, NO, ("partially occupied",)),
    "no_data_block.cif": (NO, NO, NO, ("no 'data_' block",)),
    "second_block_bad.cif": (1, 2, NO, ("block 'data_second'", "atoms 2 and 5")),
    "empty.cif": (NO, NO, NO, ("file is empty",)),
    "garbage.cif": (NO, NO, NO, ("binary",)),
    "truncated.extxyz": (0, NO, NO, ("truncated", "declares 5 atoms but only 3")),
    "nan_coordinates.extxyz": (0, 3, NO, ("not finite", "nan")),
    "missing_cell.extxyz": (0, NO, "cell", ("periodic along axis 0, 1, 2", "missing or zero cell")),
    "bad_count_line.extxyz": (0, NO, NO, ("number of atoms", "'five'")),
    "second_frame_bad.extxyz": (1, NO, NO, ("line 6", "'oops'")),
    "close_atoms.extxyz": (0, 0, NO, ("atoms 0 and 1 are 0.2 Å apart",)),
    "unknown_element.xyz": (0, 1, NO, ("unknown element symbol 'Qq'", "line 4")),
    "latin1.extxyz": (NO, NO, NO, ("not UTF-8",)),
    "broken_row.csv": (2, NO, "cif", ("2 fields but the header has 4", "'cif', 'heat_ref'")),
    "missing_cif_column.csv": (NO, NO, "cif", ("no 'cif' column", "'structure'")),
    "bad_cif_in_row.csv": (1, NO, "cif", ("CSV line 31", "'oops'")),
    "empty_cif_cell.csv": (1, NO, "cif", ("cif cell is empty",)),
    "header_only.csv": (NO, NO, NO, ("no structures found",)),
    "mixed_good_bad.csv": (2, 2, NO, ("atoms 2 and 5",)),
    "empty.csv": (NO, NO, NO, ("file is empty",)),
    "structure.pdb": (NO, NO, NO, ("extension '.pdb'", "format=")),
    "too_many_atoms.extxyz": (0, NO, "numbers", ("10000 atoms", "limit of 200", "max_atoms")),
    "no_atoms.extxyz": (0, NO, "numbers", ("structure has no atoms",)),
}
KWARGS: dict[str, dict[str, object]] = {"too_many_atoms.extxyz": {"max_atoms": 200}}
NOT_STRUCTURES = (".py", ".md", ".yaml")  # the YAML configs and run directory: CLI tests


def test_corpus_is_complete():
    on_disk = {p.name for p in BAD.iterdir() if p.is_file() and p.suffix not in NOT_STRUCTURES}
    assert on_disk == set(CASES)
    readme = (BAD / "README.md").read_text()
    assert all(f"| {name} |" in readme for name in CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_gives_its_specific_error(name: str):
    index, atom, field, words = CASES[name]
    path = BAD / name
    with pytest.raises(InvalidStructureError) as info:
        read_structures(path, **KWARGS.get(name, {}))  # type: ignore[arg-type]
    err = info.value
    message = str(err)
    assert err.source == str(path)
    assert message.startswith(str(path))
    unit = {".cif": "block", ".extxyz": "frame", ".xyz": "frame"}.get(path.suffix, "row")
    for expected, got, label in ((index, err.index, unit), (atom, err.atom, "atom")):
        if expected is NO:
            assert got is None, message
        else:
            assert got == expected, message
            assert f"{label} {expected}" in message
    if field is not NO:
        assert err.field == field, message
    for word in words:
        assert word in message


def test_skip_returns_the_good_rows_and_reports_the_bad_one():
    path = BAD / "mixed_good_bad.csv"
    batch = read_structures(path, on_error="skip")
    assert [a.info["index"] for a in batch] == [0, 1, 3]
    assert [a.info["material_id"] for a in batch] == ["id-0", "id-1", "id-3"]
    (bad,) = batch.skipped
    assert (bad.source, bad.index, bad.atom) == (str(path), 2, 2)
    assert "0.039 Å apart" in bad.problem


def test_skip_goes_on_after_a_bad_block_and_frame():
    cif = read_structures(BAD / "second_block_bad.cif", on_error="skip")
    assert len(cif) == 1
    assert [e.index for e in cif.skipped] == [1]
    xyz = read_structures(BAD / "second_frame_bad.extxyz", on_error="skip")
    assert len(xyz) == 1
    assert xyz[0].get_chemical_formula() == "H2O"
    assert [e.index for e in xyz.skipped] == [1]


@pytest.mark.parametrize("name", ["missing_cif_column.csv", "empty.csv", "garbage.cif"])
def test_file_level_problems_raise_even_when_skipping(name: str):
    with pytest.raises(InvalidStructureError):
        read_structures(BAD / name, on_error="skip")


def test_the_atom_cap_is_what_refuses_the_big_cell():
    """10,000 atoms 4 Å apart are a valid structure: only the cap (checked first) refuses it."""
    batch = read_structures(BAD / "too_many_atoms.extxyz", max_atoms=10_000, min_distance=3.9)
    assert len(batch) == 1 and len(batch[0]) == 10_000


def test_missing_file_and_bad_on_error(tmp_path: Path):
    with pytest.raises(InvalidStructureError, match="file not found"):
        read_structures(tmp_path / "nope.cif")
    with pytest.raises(ValueError, match="on_error"):
        read_structures(BAD / "empty.csv", on_error="ignore")  # type: ignore[arg-type]


def test_min_distance_threshold_is_honoured():
    path = BAD / "close_atoms.extxyz"  # 0.2 Å apart
    assert len(read_structures(path, min_distance=0.1)) == 1
    with pytest.raises(InvalidStructureError, match=r"minimum 0\.3 Å"):
        read_structures(path, min_distance=0.3)


def test_a_resource_warning_during_parsing_is_not_the_cifs_problem(monkeypatch):
    """The garbage collector may close some other object's file while pymatgen parses, and
    that ResourceWarning lands in the parser's warning record; the CIF is still fine."""
    import warnings

    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifParser, CifWriter

    from qaware.structures.cif import parse_cif

    text = str(CifWriter(AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64))))
    original = CifParser.from_str.__func__

    def noisy(cls, *args, **kwargs):
        warnings.warn("unclosed file <_io.BufferedRandom>", ResourceWarning, stacklevel=2)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CifParser, "from_str", classmethod(noisy))
    assert len(parse_cif(text)) > 0
