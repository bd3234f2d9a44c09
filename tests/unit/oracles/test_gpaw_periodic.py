"""gpaw_periodic.py: spec and inputs (fast), real GPAW calculations (marked oracle).

The oracle-marked set uses small cutoffs and k-meshes; it runs in about a minute with
OMP_NUM_THREADS=1. Golden values come from scripts/golden_gpaw_values.py.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule
from ase.calculators.calculator import kptdensity2monkhorstpack

from qaware.errors import ConfigError
from qaware.oracles.gpaw_periodic import (
    REASON_NOT_PERIODIC,
    REASON_SCF,
    GPAWOracle,
    monkhorst_pack_size,
)
from qaware.testing import check_oracle

GOLDEN = Path(__file__).parents[2] / "data" / "oracle_golden" / "gpaw.json"
TIGHT = {"energy_tol_ev": 1e-7, "density_tol": 1e-7}


def _golden() -> dict:
    return json.loads(GOLDEN.read_text())


def _crystal(entry: dict) -> Atoms:
    return Atoms(
        entry["symbols"], cell=entry["cell_angstrom"],
        scaled_positions=entry["scaled_positions"], pbc=True,
    )  # fmt: skip


# -- spec (no calculation) ------------------------------------------------------------------
def test_level_defaults_to_the_xc_and_can_be_renamed():
    assert GPAWOracle().level == "PBE"
    assert GPAWOracle(xc="PBE+U").level == "PBE+U"
    assert GPAWOracle(xc="HSE06", level_name="HSE06@gpaw").level == "HSE06@gpaw"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"xc": "LDA"},
        {"ecut_ev": 0.0},
        {"kpt_density": -1.0},
        {"maxiter": 0},
        {"threads": 0},
        {"hubbard_u": {"Ni": -1.0}},
        {"level_name": " "},
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs):
    with pytest.raises(ConfigError, match=r"oracle\."):
        GPAWOracle(**kwargs)


def test_settings_hash_covers_the_answer_not_the_threads():
    base = GPAWOracle()
    assert base.settings_hash() == GPAWOracle(threads=4).settings_hash()
    assert GPAWOracle(hubbard_u={"Ni": 6.2, "Fe": 5.3}) == GPAWOracle(
        hubbard_u=(("Fe", 5.3), ("Ni", 6.2))
    )
    others = [
        GPAWOracle(ecut_ev=700),
        GPAWOracle(kpt_density=4.0),
        GPAWOracle(xc="PBE+U"),
        GPAWOracle(hubbard_u={"Ni": 6.0}),
        GPAWOracle(smearing_ev=0.1),
        GPAWOracle(descriptors=True),
        GPAWOracle(gamma_centred=False),
    ]
    hashes = {o.settings_hash() for o in others}
    assert base.settings_hash() not in hashes and len(hashes) == len(others)
    clone = pickle.loads(pickle.dumps(GPAWOracle(xc="PBE+U", hubbard_u={"Co": 3.0})))
    assert clone.settings_hash() == GPAWOracle(xc="PBE+U", hubbard_u={"Co": 3.0}).settings_hash()


def test_monkhorst_pack_mesh_follows_the_k_point_density_like_ase():
    assert monkhorst_pack_size(np.eye(3) * 4.0, 3.0) == (5, 5, 5)  # 2 pi / 4 * 3 = 4.71
    assert monkhorst_pack_size(np.diag([3.0, 6.0, 30.0]), 2.0) == (5, 3, 1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        cell = np.eye(3) * rng.uniform(2.5, 9.0) + rng.normal(scale=0.6, size=(3, 3))
        atoms = Atoms("H", cell=cell, pbc=True)
        density = rng.uniform(1.0, 5.0)
        expected = kptdensity2monkhorstpack(atoms, kptdensity=density, even=False)
        assert monkhorst_pack_size(cell, density) == tuple(expected)


def test_hse06_uses_the_documented_coarse_mesh_and_pbe_the_converged_one():
    """HSE06's k-density default is 1.0 per Å^-1 (a cost choice, documented in the module):
    2×2×2 on a cubic perovskite, where PBE's 3.0 gives 5×5×5 (gpaw_convergence.json)."""
    import qaware.oracles.gpaw_periodic as gp

    perovskite = Atoms("SrTiO3", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0],
                       [0.5, 0, 0.5], [0, 0.5, 0.5]], cell=np.eye(3) * 3.905, pbc=True)  # fmt: skip
    assert GPAWOracle().hybrid_kpt_density == gp.DEFAULT_HYBRID_KPT_DENSITY == 1.0
    assert GPAWOracle(xc="HSE06").kpts(perovskite) == (2, 2, 2)
    assert GPAWOracle(xc="HSE06@PBE").kpts(perovskite) == (2, 2, 2)
    assert GPAWOracle(xc="PBE").kpts(perovskite) == GPAWOracle(xc="PBE+U").kpts(perovskite)
    assert GPAWOracle(xc="PBE").kpts(perovskite) == (5, 5, 5)
    assert GPAWOracle(xc="HSE06").kpts(bulk("MgO", "rocksalt", a=4.212)) == (3, 3, 3)
    doc = " ".join((gp.__doc__ or "").split())
    assert f"default {gp.DEFAULT_HYBRID_KPT_DENSITY} per Å^-1: 2×2×2 for a 3.9 Å perovskite" in doc


def test_hubbard_u_applies_only_to_oxides_and_fluorides_at_pbe_plus_u():
    nio, ni = bulk("NiO", "rocksalt", a=4.17), bulk("Ni", "fcc", a=3.52)
    assert GPAWOracle(xc="PBE+U").u_values(nio) == {"Ni": 6.2}
    assert GPAWOracle(xc="PBE+U").u_values(ni) == {}  # metallic reference stays plain PBE
    assert GPAWOracle(xc="PBE").u_values(nio) == {}
    assert GPAWOracle(xc="HSE06").u_values(nio) == {}
    assert GPAWOracle(xc="PBE+U", u_anions=()).u_values(ni) == {"Ni": 6.2}


def test_magnetic_start_is_ferromagnetic_from_the_table_unless_the_structure_has_one():
    oracle = GPAWOracle()
    nio = bulk("NiO", "rocksalt", a=4.17)
    np.testing.assert_array_equal(oracle.initial_magmoms(nio), [5.0, 0.0])
    assert not np.any(oracle.initial_magmoms(bulk("MgO", "rocksalt", a=4.21)))
    afm = bulk("Ni", "fcc", a=3.52).repeat((2, 1, 1))
    afm.set_initial_magnetic_moments([2.0, -2.0])
    np.testing.assert_array_equal(oracle.initial_magmoms(afm), [2.0, -2.0])


@pytest.mark.parametrize(
    "atoms", [molecule("H2O"), fcc111("Al", size=(1, 1, 3), vacuum=5.0)], ids=["molecule", "slab"]
)
def test_structures_that_are_not_fully_periodic_are_refused_without_raising(atoms):
    if not atoms.cell.rank:
        atoms.center(vacuum=4.0)
    result = GPAWOracle().compute(atoms)
    assert not result.ok and result.reason == REASON_NOT_PERIODIC
    assert result.level == "PBE" and result.settings_hash == GPAWOracle().settings_hash()


# -- real GPAW ------------------------------------------------------------------------------
@pytest.mark.oracle
@pytest.mark.parametrize("name", ["Si", "MgO"])
def test_golden_values_are_reproduced(name):
    pytest.importorskip("gpaw")
    golden = _golden()
    entry = golden["entries"][name]
    oracle = GPAWOracle(**golden["settings"])
    atoms = _crystal(entry)
    result = check_oracle(oracle, atoms)
    assert result.stress is not None and result.forces is not None
    if golden["code_version"] != oracle.code_version:
        pytest.skip(f"golden values are from GPAW {golden['code_version']}")
    assert result.settings_hash == entry["settings_hash"]
    assert result.energy / len(atoms) == pytest.approx(entry["energy_per_atom_ev"], abs=1e-4)
    assert result.diagnostics["kpts"] == entry["diagnostics"]["kpts"]
    np.testing.assert_allclose(result.forces, 0.0, atol=1e-4)  # all atoms on inversion centres


def _rattled_si() -> Atoms:
    atoms = bulk("Si", "diamond", a=5.431)
    atoms.rattle(0.05, seed=3)
    return atoms


@pytest.mark.oracle
def test_forces_are_minus_the_gradient_of_the_free_energy():
    pytest.importorskip("gpaw")
    oracle = GPAWOracle(ecut_ev=250, kpt_density=1.0, **TIGHT)
    atoms = _rattled_si()

    def free_energy(a: Atoms) -> float:
        res = oracle.compute(a)
        assert res.ok, res.reason
        return res.diagnostics["free_energy_ev"]

    forces = oracle.compute(atoms).forces
    assert np.abs(forces).max() > 0.1  # the rattle must produce real forces to test
    delta = 0.01
    for axis in range(3):
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[0, axis] += delta
        minus.positions[0, axis] -= delta
        numeric = -(free_energy(plus) - free_energy(minus)) / (2 * delta)
        assert numeric == pytest.approx(forces[0, axis], abs=2e-3)


@pytest.mark.oracle
def test_stress_is_the_strain_derivative_of_the_energy():
    # Finite strains at a fixed cutoff change the plane-wave basis; the analytic stress does
    # not see that (Pulay stress, isotropic, ~2e-4 eV/Å^3 at 250 eV for Si). Traceless strains
    # are free of it and are checked tightly; the uniaxial one within the Pulay term. The mesh
    # is shifted off Γ, where plane-wave shells cross the cutoff in jumps under strain.
    pytest.importorskip("gpaw")
    oracle = GPAWOracle(ecut_ev=250, kpt_density=1.0, gamma_centred=False, **TIGHT)
    atoms = _rattled_si()
    s = oracle.compute(atoms).stress  # Voigt xx yy zz yz xz xy, eV/Å^3
    volume, d = atoms.get_volume(), 0.005
    cases = [
        (np.diag([1.0, -1.0, 0.0]), s[0] - s[1], 2e-5),
        (np.array([[0, 0.5, 0], [0.5, 0, 0], [0, 0, 0]]), s[5], 1e-4),
        (np.diag([1.0, 0.0, 0.0]), s[0], 5e-4),
    ]
    for direction, analytic, tol in cases:
        energies = []
        for sign in (1, -1):
            strained = atoms.copy()
            strained.set_cell(
                atoms.cell.array @ (np.eye(3) + sign * d * direction), scale_atoms=True
            )
            energies.append(oracle.compute(strained).diagnostics["free_energy_ev"])
        numeric = (energies[0] - energies[1]) / (2 * d) / volume
        assert numeric == pytest.approx(analytic, abs=tol)


@pytest.mark.oracle
def test_an_scf_that_runs_out_of_iterations_is_a_failure_not_a_number():
    pytest.importorskip("gpaw")
    result = check_oracle(
        GPAWOracle(ecut_ev=250, kpt_density=1.0, maxiter=2),
        bulk("Si", "diamond", a=5.431),
        expect_ok=False,
    )
    assert result.reason == REASON_SCF and result.energy is None
    assert result.diagnostics["scf_converged"] is False


@pytest.mark.oracle
def test_hubbard_u_opens_the_gap_of_ferromagnetic_nio():
    pytest.importorskip("gpaw")
    nio = bulk("NiO", "rocksalt", a=4.17)
    settings = {"ecut_ev": 300, "kpt_density": 1.5}
    pbe = GPAWOracle(xc="PBE", **settings).compute(nio)
    pbe_u = GPAWOracle(xc="PBE+U", **settings).compute(nio)
    assert pbe.ok and pbe_u.ok
    assert pbe_u.diagnostics["hubbard_u"] == {"Ni": 6.2}
    # PBE: a ferromagnetic metal (or nearly); PBE+U: an insulator (1.3 eV on this coarse
    # Γ-centred 4³ mesh, 2.6 eV on 7³)
    assert pbe.diagnostics["gap_ev"] < 0.5
    assert pbe_u.diagnostics["gap_ev"] > pbe.diagnostics["gap_ev"] + 0.8
    # Ni2+ (d8) carries 2 unpaired electrons per cell once U localises the d shell
    assert pbe_u.diagnostics["magnetic_moment"] == pytest.approx(2.0, abs=0.02)


@pytest.mark.oracle
def test_hse06_widens_the_silicon_gap_and_reports_no_stress():
    pytest.importorskip("gpaw")
    si = bulk("Si", "diamond", a=5.431)
    pbe = GPAWOracle(xc="PBE", ecut_ev=200, kpt_density=0.9).compute(si)
    hse = GPAWOracle(xc="HSE06", ecut_ev=200, hybrid_kpt_density=0.9).compute(si)
    assert hse.ok, hse.reason
    assert pbe.diagnostics["kpts"] == hse.diagnostics["kpts"] == [2, 2, 2]
    assert hse.stress is None and hse.forces is not None
    # The sampled (2³ mesh) gap opens by 1.3 eV here; the converged indirect gap by ~0.6 eV.
    assert 0.5 < hse.diagnostics["gap_ev"] - pbe.diagnostics["gap_ev"] < 2.0


@pytest.mark.oracle
def test_hse06_at_pbe_is_the_hybrid_energy_on_pbe_orbitals_close_to_self_consistent():
    """HSE06@PBE = PBE energy + GPAW's one-shot hybrid correction, on the hybrid mesh. The
    self-consistent hybrid is variational, so it lies lower; on Si by a few meV/atom only."""
    pytest.importorskip("gpaw")
    si = bulk("Si", "diamond", a=5.431)
    pbe = GPAWOracle(xc="PBE", ecut_ev=200, kpt_density=0.9).compute(si)
    nsc = GPAWOracle(xc="HSE06@PBE", ecut_ev=200, hybrid_kpt_density=0.9).compute(si)
    sc = GPAWOracle(xc="HSE06", ecut_ev=200, hybrid_kpt_density=0.9).compute(si)
    assert nsc.ok, nsc.reason
    assert nsc.level == "HSE06@PBE" and nsc.diagnostics["kpts"] == [2, 2, 2]
    assert nsc.forces is None and nsc.stress is None
    d = nsc.diagnostics
    assert d["pbe_energy_ev"] == pytest.approx(pbe.energy, abs=1e-4)
    assert nsc.energy == pytest.approx(d["pbe_energy_ev"] + d["hybrid_correction_ev"], abs=1e-9)
    assert d["pbe_gap_ev"] == pytest.approx(pbe.diagnostics["gap_ev"], abs=1e-3)
    assert "gap_ev" not in d  # the orbitals are PBE's: no hybrid gap is claimed
    assert abs(d["hybrid_correction_ev"]) > 1.0  # the hybrid moves the energy by eV
    per_atom = (nsc.energy - sc.energy) / len(si)
    assert 0.0 <= per_atom < 0.03


@pytest.mark.oracle
def test_hse06_at_pbe_runs_spin_polarised_on_the_pbe_moments():
    """A ferromagnetic start (bcc Fe with its own 2.2 μB) gives a spin-polarised PBE run; the
    one-shot hybrid is evaluated on those orbitals (Track X's magnetic perovskites)."""
    pytest.importorskip("gpaw")
    fe = bulk("Fe", "bcc", a=2.87)
    fe.set_initial_magnetic_moments([2.2])
    nsc = GPAWOracle(xc="HSE06@PBE", ecut_ev=200, hybrid_kpt_density=0.6).compute(fe)
    assert nsc.ok, nsc.reason
    d = nsc.diagnostics
    assert d["spin_polarised"] and d["pbe_magnetic_moment"] > 1.5  # ferromagnetic PBE orbitals
    assert nsc.energy == pytest.approx(d["pbe_energy_ev"] + d["hybrid_correction_ev"], abs=1e-9)


@pytest.mark.oracle
def test_descriptors_come_with_a_pbe_result():
    pytest.importorskip("gpaw")
    result = GPAWOracle(ecut_ev=250, kpt_density=1.5, descriptors=True).compute(
        bulk("Si", "diamond", a=5.431)
    )
    assert result.ok
    assert sorted(result.descriptors) == ["dos", "elf", "gap", "response"]
    assert result.descriptors["gap"][0] == pytest.approx(result.diagnostics["gap_ev"])
    assert result.descriptors["elf"].sum() == pytest.approx(1.0)
