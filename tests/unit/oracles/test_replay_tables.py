"""Replay tables: parsing the published CSVs, keys, families, and the counts their READMEs give."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.errors import ConfigError, InvalidStructureError
from qaware.oracles.replay_tables import (
    ReplayTable,
    chemical_family,
    formula_key,
    load_band_gaps,
    load_formation_enthalpies,
    parse_formula,
    read_table,
    shared_data_dir,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "replay"
RXN = DATA / "rxnnet_main_sample.csv"
GAPS = DATA / "revised_bandgap_sample.csv"
ENERGY_LEVELS = ["GGA(+U)@MP", "r2SCAN@MP", "experiment"]
GAP_LADDER = ["PBE@Borlido2019", "SCAN@Borlido2019", "HSE06@Borlido2019", "experiment"]


def _raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_formation_fixture_reads_levels_values_and_atom_counts():
    t = read_table(RXN)
    raw = _raw_rows(RXN)
    assert len(t) == len(raw) == 34
    assert t.quantity == "formation_energy_per_atom"
    assert t.unit == "eV/atom"
    assert set(ENERGY_LEVELS) <= set(t.levels)
    nio = t.keys.index("NiO")
    assert t.ids[nio] == "mp-19009"
    assert t.column("r2SCAN@MP")[nio] == -1.107089
    assert t.column("experiment")[nio] == -1.242158
    # every parsed formula (hydrates, fractions, nested parentheses) has the file's atom count
    for comp, row in zip(t.compositions, raw, strict=True):
        assert sum(comp.values()) == pytest.approx(float(row["num_atoms"])), row["formula"]
    complete = sum(all(row[c] for c in ("hf_gga_gga_u", "hf_r2scan", "hf_ref")) for row in raw)
    assert int(t.complete(ENERGY_LEVELS).sum()) == complete == 26
    assert t.sha256 == hashlib.sha256(RXN.read_bytes()).hexdigest()


def test_keys_scale_fractions_and_sum_hydrates():
    t = read_table(RXN)
    by_formula = dict(zip(t.formulas, t.keys, strict=True))
    assert by_formula["ThH3.75"] == "H15Th4"
    assert by_formula["UF4.5"] == "F9U2"
    assert by_formula["Na2TeO3·5H2O"] == "H10Na2O8Te"
    assert by_formula["(0.5Na2O·0.5Li2O·2B2O3)"] == "B4LiNaO7"
    assert parse_formula("Nd(IO3)3") == {"Nd": 1, "I": 3, "O": 9}


def test_formula_key_matches_composition_key_of_atoms():
    hashing = pytest.importorskip("qaware.structures.hashing")
    structures = [
        bulk("NiO", "rocksalt", a=4.17),
        bulk("NiO", "rocksalt", a=4.17).repeat(2),
        bulk("Si", "diamond", a=5.43),
        Atoms("SrTiO3", positions=np.zeros((5, 3))),
        Atoms("Fe4O6", positions=np.zeros((10, 3))),
    ]
    for atoms in structures:
        counts = Counter(atoms.get_chemical_symbols())
        assert formula_key(counts) == hashing.composition_key(atoms)


def test_families_follow_the_documented_rules():
    t = read_table(RXN)
    fam = dict(zip(t.formulas, t.families, strict=True))
    assert fam["NiO"] == fam["Fe2O3"] == fam["Na2CrO4"] == fam["Ni(NO3)2"] == "3d-oxide"
    assert fam["ZnO"] == fam["Li2O"] == "oxide"  # Zn is d10: closed shell
    assert fam["NaCl"] == fam["CoF2"] == "halide"
    assert fam["Ni3N"] == "pnictide"
    assert fam["ThH3.75"] == "hydride"
    assert fam["MoC"] == "carbide-boride"
    assert chemical_family({"Cu": 3, "Au": 1}) == "intermetallic"
    assert chemical_family({"Ga": 1, "As": 1}) == "pnictide"


def test_gap_fixture_levels_and_polymorphs():
    t = read_table(GAPS)
    assert len(t) == 34
    assert t.quantity == "band_gap"
    assert t.unit == "eV"
    assert set(GAP_LADDER) <= set(t.levels)
    assert t.complete(GAP_LADDER).all()
    si = t.keys.index("Si")
    assert (t.column("PBE@Borlido2019")[si], t.column("HSE06@Borlido2019")[si]) == (0.62, 1.2)
    assert t.column("experiment")[si] == 1.17
    assert Counter(t.keys)["CSi"] == 4  # four SiC polytypes share one composition key
    assert np.isnan(t.column("QSGW@Grossmann2025")).sum() > 0  # GW columns are partial


def test_subset_keeps_provenance():
    t = read_table(RXN)
    sub = t.subset(np.array(t.families) == "3d-oxide")
    assert len(sub) == t.families.count("3d-oxide")
    assert set(sub.families) == {"3d-oxide"}
    assert (sub.sha256, sub.columns) == (t.sha256, t.columns)
    assert sub.column("experiment")[sub.keys.index("NiO")] == -1.242158


def test_generic_csv_and_records(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("formula,id,PBE@mine,HSE06@mine\nNiO,a,-1.2,-1.4\nCuO,b,,-0.9\n")
    t = read_table(p, quantity="formation_energy_per_atom")
    assert t.levels == ("PBE@mine", "HSE06@mine")
    assert t.ids == ["a", "b"]
    assert np.isnan(t.column("PBE@mine")[1])
    with pytest.raises(ConfigError, match="quantity"):
        read_table(p)
    r = ReplayTable.from_records("mem", "band_gap", ["Si", "GaAs"], {"PBE@x": [0.6, None]})
    assert r.keys == ["Si", "AsGa"]
    assert np.isnan(r.column("PBE@x")[1])
    with pytest.raises(ConfigError, match="no level"):
        r.column("HSE06@x")


def test_bad_rows_name_file_row_and_field(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("formula,PBE@x\nNiO,-1.0\nXx2O,-2.0\n")
    with pytest.raises(InvalidStructureError, match=r"bad.csv, row 1, field 'formula'"):
        read_table(p, quantity="formation_energy_per_atom")
    p.write_text("formula,PBE@x\nNiO,-1.0\nCuO,oops\n")
    with pytest.raises(InvalidStructureError, match=r"row 1, field 'PBE@x'"):
        read_table(p, quantity="formation_energy_per_atom")
    with pytest.raises(ConfigError, match="does not exist"):
        read_table(tmp_path / "missing.csv")


def test_shared_data_dir_argument_env_and_error(tmp_path, monkeypatch):
    assert shared_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("QAWARE_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("QAWARE_SHARED_DATA", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="QAWARE_SHARED_DATA"):
        shared_data_dir()


def _shared_or_skip() -> Path:
    try:
        return shared_data_dir()
    except ConfigError as exc:
        pytest.skip(f"published tables not available: {exc}")


def test_full_published_tables_have_the_readme_counts_and_design_hit_prevalences():
    root = _shared_or_skip()
    main = load_formation_enthalpies(root)
    assert len(main) == 1555
    both = main.complete(ENERGY_LEVELS)
    assert int(both.sum()) == 974
    assert int(main.complete(["r2SCAN@MP"]).sum()) == 974
    assert int(main.complete(["experiment@Wang2021"]).sum()) == 587
    assert main.sha256 == "db7467f3e413f121885329a763ff1a56bfd556687c4ffdf42139e2bb65f95f1a"
    fam = np.array(main.families)
    assert int((both & (fam == "3d-oxide")).sum()) == 96  # README: "96 rows with a 3d metal and O"
    gga, r2, exp = (main.column(lv)[both] for lv in ENERGY_LEVELS)
    assert np.mean(np.abs(gga - exp)) == pytest.approx(0.157, abs=5e-4)
    assert np.mean(np.abs(r2 - exp)) == pytest.approx(0.079, abs=5e-4)
    assert int((exp < gga - 0.1).sum()) == 56  # DESIGN §5: "stabler than PBE says"
    inter = load_formation_enthalpies(root, intermetallics=True)
    assert len(inter) == 272
    assert int(inter.complete(ENERGY_LEVELS).sum()) == 243

    gaps = load_band_gaps(root)
    assert len(gaps) == 464
    assert gaps.complete(GAP_LADDER).all()
    assert int(gaps.complete(["QSGW^@Grossmann2025"]).sum()) == 97
    assert int(gaps.complete(["G0W0(PBE,PPA)@Grossmann2025"]).sum()) == 294
    e = gaps.column("experiment")
    assert int(((e >= 1.1) & (e <= 1.8)).sum()) == 116  # DESIGN §5: solar window
    mae = {lv: np.mean(np.abs(gaps.column(lv) - e)) for lv in GAP_LADDER[:3]}
    assert mae["PBE@Borlido2019"] == pytest.approx(1.04, abs=5e-3)
    assert mae["SCAN@Borlido2019"] == pytest.approx(0.80, abs=5e-3)
    assert mae["HSE06@Borlido2019"] == pytest.approx(0.515, abs=5e-3)  # README rounds to 0.52
    assert len(load_band_gaps(root, revised=False)) == 472
