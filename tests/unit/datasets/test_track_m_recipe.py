"""Track M recipe: enough distinct, well-formed, deterministic structures with sane spin states."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.formula import Formula

from qaware.datasets.recipes import track_m
from qaware.errors import ConfigError
from qaware.oracles.spin import ATOM_MULTIPLICITY, n_electrons
from qaware.structures import read_structures, structure_hash, validate_structure, write_structures

INFO_KEYS = ("tag", "formula", "multiplicity", "spin", "charge", "scan", "geometry_index")


@pytest.fixture(scope="module")
def structures() -> list[Atoms]:
    return track_m.structures()


def test_at_least_300_distinct_structures(structures: list[Atoms]) -> None:
    hashes = [structure_hash(a) for a in structures]
    assert len(structures) >= 300
    duplicates = [h for h, n in Counter(hashes).items() if n > 1]
    assert not duplicates


def test_every_family_present_in_cheap_first_order(structures: list[Atoms]) -> None:
    tags = [a.info["tag"] for a in structures]
    counts = Counter(tags)
    assert set(counts) == set(track_m.TAGS)
    assert counts["monoxide"] >= 10 * 6 and counts["dioxide"] >= 10 * 3
    assert counts["cluster"] >= 10 * 4
    first = [tags.index(t) for t in track_m.TAGS]
    assert first == sorted(first)  # atoms, references, monoxides, dioxides, clusters
    formulas = {a.info["formula"] for a in structures}
    for metal in track_m.METALS:
        assert {metal, f"{metal}O", f"{metal}O2", f"{metal}2O2", f"{metal}2O3"} <= formulas
    assert {"O2", "H2O", "CO", "CO2", "O3", "SiO2", "MgO", "CaO", "SiO", "AlO"} <= formulas


def test_same_seed_same_structures_other_seed_moves_only_rattled(
    structures: list[Atoms],
) -> None:
    again = track_m.structures()
    other = track_m.structures(seed=1)
    assert len(again) == len(other) == len(structures)
    for a, b, c in zip(structures, again, other, strict=True):
        assert a.info == b.info == c.info
        np.testing.assert_array_equal(a.positions, b.positions)
        if a.info["scan"] == "rattle":
            assert not np.allclose(a.positions, c.positions)
        else:
            np.testing.assert_array_equal(a.positions, c.positions)


def test_molecules_are_non_periodic_valid_and_labelled(structures: list[Atoms]) -> None:
    for k, atoms in enumerate(structures):
        assert not atoms.pbc.any()
        validate_structure(atoms, min_distance=0.6, index=k)
        assert all(key in atoms.info for key in INFO_KEYS), k
        assert Formula(atoms.info["formula"]).count() == atoms.symbols.formula.count(), k
        np.testing.assert_allclose(atoms.positions.mean(axis=0), 0.0, atol=1e-12)


def test_multiplicity_is_allowed_and_matches_the_spin_tables(structures: list[Atoms]) -> None:
    for atoms in structures:
        m, n_elec = atoms.info["multiplicity"], n_electrons(atoms)
        assert (n_elec - (m - 1)) % 2 == 0 and m - 1 <= n_elec, atoms.info
        assert atoms.info["spin"] == m - 1 and atoms.info["charge"] == 0
        if atoms.info["tag"] == "atom":
            assert m == ATOM_MULTIPLICITY[atoms.info["formula"]]
    by_formula = defaultdict(set)
    for atoms in structures:
        by_formula[atoms.info["formula"]].add(atoms.info["multiplicity"])
    assert all(len(ms) == 1 for ms in by_formula.values())  # one spin surface per species
    assert by_formula["O2"] == {3} and by_formula["FeO"] == {5} and by_formula["Fe2O2"] == {9}
    assert by_formula["O3"] == by_formula["SiO2"] == {1}  # closed-shell singlets


def test_monoxide_scans_bracket_the_experimental_bond(structures: list[Atoms]) -> None:
    for metal, r_e in track_m.MONOXIDE_BOND.items():
        scan = [a for a in structures if a.info["formula"] == f"{metal}O"]
        r = [
            float(a.get_distance(0, 1))
            for a in sorted(scan, key=lambda a: a.info["geometry_index"])
        ]
        assert len(r) == 13 and np.all(np.diff(r) > 0)
        assert r[0] == pytest.approx(0.88 * r_e) and r[-1] == pytest.approx(1.25 * r_e)
        assert min(r) < r_e < max(r)


def test_triatomic_references_keep_their_geometry(structures: list[Atoms]) -> None:
    for formula, (outer, centre, r, angle) in track_m.TRIATOMIC_REFERENCES.items():
        scan = [a for a in structures if a.info["formula"] == formula]
        assert len(scan) == 8 and all(a.info["tag"] == "reference" for a in scan)
        (eq,) = [a for a in scan if a.info["scan"] == "stretch" and a.info["geometry_index"] == 1]
        assert eq.get_chemical_symbols() == [centre, outer, outer]
        assert eq.get_distance(0, 1) == pytest.approx(r) == eq.get_distance(0, 2)
        assert eq.get_angle(1, 0, 2) == pytest.approx(angle)


def test_scan_coordinate_increases_with_geometry_index(structures: list[Atoms]) -> None:
    scans: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for a in structures:
        scans[(a.info["formula"], a.info["scan"])].append(
            (a.info["geometry_index"], a.info["scan_coordinate"])
        )
    for key, points in scans.items():
        points.sort()
        assert [i for i, _ in points] == list(range(len(points))), key
        if key[1] in ("stretch", "breathe"):
            assert np.all(np.diff([c for _, c in points]) > 0), key


def test_extxyz_round_trip_keeps_the_labels(structures: list[Atoms], tmp_path: Path) -> None:
    path = tmp_path / "track_m.extxyz"
    write_structures(structures[:40] + structures[-5:], path)
    back = list(read_structures(path))
    assert len(back) == 45
    for a, b in zip(structures[:40] + structures[-5:], back, strict=True):
        assert structure_hash(a) == structure_hash(b)
        for key in INFO_KEYS:
            assert a.info[key] == b.info[key], key


def test_families_select_the_same_structures(structures: list[Atoms]) -> None:
    light = track_m.structures(families=["atom", "reference", "monoxide"])
    expected = [a for a in structures if a.info["tag"] in ("atom", "reference", "monoxide")]
    assert [structure_hash(a) for a in light] == [structure_hash(a) for a in expected]
    clusters = track_m.structures(families=["cluster"])
    assert [structure_hash(a) for a in clusters] == [
        structure_hash(a) for a in structures if a.info["tag"] == "cluster"
    ]
    with pytest.raises(ConfigError, match="oxide"):
        track_m.structures(families=["oxide"])


def test_formulas_select_the_same_structures(structures: list[Atoms]) -> None:
    picked = track_m.structures(families=["cluster"], formulas=["Sc2O2", "Ti2O2"])
    expected = [a for a in structures if a.info["formula"] in ("Sc2O2", "Ti2O2")]
    assert len(expected) == 12
    assert [structure_hash(a) for a in picked] == [structure_hash(a) for a in expected]
    with pytest.raises(ConfigError, match="Sc2O2"):  # a formula of another family: say so
        track_m.structures(families=["monoxide"], formulas=["Sc2O2"])


SPECS = Path(__file__).resolve().parents[3] / "data" / "track_m"


def test_specs_name_the_basis_and_cover_the_issue() -> None:
    from qaware.datasets.build import collect_structures
    from qaware.datasets.spec import load_dataset_spec

    full = load_dataset_spec(SPECS / "spec.yaml")
    levels = [o.level for o in full.oracles]
    assert levels == ["PBE/def2-SVP", "r2SCAN/def2-SVP", "HSE06/def2-SVP", "CCSD(T)/def2-SVP"]
    assert len(collect_structures(full, SPECS)[0]) >= 300
    tzvp = load_dataset_spec(SPECS / "spec_tzvp.yaml")
    assert [o.level for o in tzvp.oracles] == ["CCSD(T)/def2-TZVP"]
    subset = collect_structures(tzvp, SPECS)[0]
    assert len(subset) >= 60
    assert {"atom", "reference", "monoxide", "dioxide"} == {a.info["tag"] for a in subset}
    light = load_dataset_spec(SPECS / "spec_light.yaml")  # a stage of spec.yaml: same oracles
    assert light.oracles == full.oracles and light.output == full.output
