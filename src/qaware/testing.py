"""Conformance checks every plug-in's tests call, and reusable physics assertions.

``check_oracle``, ``check_validator``, ``check_generator`` and ``check_store`` hold a new
implementation to the same contract as the built-ins (the torch-sim / e3nn idea). The physics
helpers (finite-difference forces, rotation/permutation/translation invariance) are written once
here and reused by every model's tests. They raise AssertionError with a message saying what failed.
"""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms

from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle, Prediction, Store, StructureGenerator, Validator

__all__ = [
    "assert_energy_invariant",
    "assert_forces_match_finite_differences",
    "check_generator",
    "check_oracle",
    "check_store",
    "check_validator",
    "random_rotation",
]

_HEX = re.compile(r"^[0-9a-f]{16,128}$")


def check_oracle(oracle: Oracle, atoms: Atoms, *, expect_ok: bool = True) -> OracleResult:
    """Check the Oracle contract on one structure and return the result.

    Checks: picklable spec; ``level`` a non-empty string; ``settings_hash`` hex and stable (and
    unchanged by pickling); ``compute`` returns an OracleResult for that level without raising;
    on success a finite energy, forces (n, 3) and stress (6,) when present and finite; on failure
    a non-empty reason; the input structure is not modified.
    """
    assert isinstance(oracle.level, str) and oracle.level, "oracle.level must be a non-empty str"
    h1 = oracle.settings_hash()
    assert isinstance(h1, str) and _HEX.match(h1), (
        f"settings_hash must be lowercase hex, got {h1!r}"
    )
    assert oracle.settings_hash() == h1, "settings_hash is not stable between calls"
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone.settings_hash() == h1, "settings_hash changes through pickling"
    before = atoms.copy()
    result = oracle.compute(atoms)
    assert isinstance(result, OracleResult), f"compute returned {type(result).__name__}"
    assert result.level == oracle.level, (
        f"result.level {result.level!r} != oracle.level {oracle.level!r}"
    )
    assert np.allclose(atoms.positions, before.positions) and np.allclose(
        atoms.cell, before.cell
    ), "compute modified its input structure"
    assert result.settings_hash == h1, "result.settings_hash differs from oracle.settings_hash()"
    assert result.wall_time_s >= 0
    if result.ok:
        assert result.energy is not None and math.isfinite(result.energy), (
            "ok result without finite energy"
        )
        if result.forces is not None:
            assert result.forces.shape == (len(atoms), 3), f"forces shape {result.forces.shape}"
            assert np.all(np.isfinite(result.forces)), "non-finite forces"
        if result.stress is not None:
            assert result.stress.shape == (6,), f"stress shape {result.stress.shape}"
    else:
        assert result.reason, "a failed result must say why (reason)"
    if expect_ok:
        assert result.ok, f"expected a successful calculation, got reason {result.reason!r}"
    roundtrip = OracleResult.from_dict(result.to_dict())
    assert roundtrip.ok == result.ok and roundtrip.energy == result.energy, (
        "to_dict/from_dict lost data"
    )
    return result


def check_validator(
    validator: Validator, structures: Sequence[Atoms], *, atol: float = 1e-4
) -> Prediction:
    """Check the Validator contract: one prediction per structure and level, finite, σ ≥ 0,
    independent of the order of the batch and of the atom order within a structure."""
    assert len(structures) >= 2, "check_validator needs at least two structures"
    pred = validator.predict(structures)
    n = len(structures)
    names = validator.ladder.names
    for table_name in ("energy_per_atom", "e_form_per_atom", "e_form_std_per_atom"):
        table = getattr(pred, table_name)
        assert set(table) == set(names), (
            f"{table_name} levels {sorted(table)} != ladder {list(names)}"
        )
        for level, values in table.items():
            arr = np.asarray(values)
            assert arr.shape == (n,), (
                f"{table_name}[{level}] has shape {arr.shape}, expected ({n},)"
            )
            assert np.all(np.isfinite(arr)), f"{table_name}[{level}] has non-finite values"
    for level, std in pred.e_form_std_per_atom.items():
        assert np.all(np.asarray(std) >= 0), f"negative uncertainty at {level}"
    assert pred.embedding.shape[0] == n, "one embedding row per structure"
    reversed_pred = validator.predict(list(structures)[::-1])
    for level in names:
        a = np.asarray(pred.e_form_per_atom[level])
        b = np.asarray(reversed_pred.e_form_per_atom[level])[::-1]
        assert np.allclose(a, b, atol=atol), f"prediction at {level} depends on batch order"
    permuted = structures[0][np.random.default_rng(0).permutation(len(structures[0]))]
    single = validator.predict([permuted, structures[1]])
    for level in names:
        assert np.isclose(
            single.e_form_per_atom[level][0], pred.e_form_per_atom[level][0], atol=atol
        ), f"prediction at {level} changes when the atoms are permuted"
    return pred


def check_generator(generator: StructureGenerator, *, n: int = 4, seed: int = 0) -> list[Atoms]:
    """Check the StructureGenerator contract: n Atoms with finite positions, a given seed
    reproduces its samples exactly, and another seed changes them."""
    first = generator.sample(n, seed=seed)
    assert isinstance(first, list) and len(first) == n, f"expected a list of {n} structures"
    for i, atoms in enumerate(first):
        assert isinstance(atoms, Atoms), f"sample {i} is {type(atoms).__name__}, not ase.Atoms"
        assert len(atoms) > 0 and np.all(np.isfinite(atoms.positions)), (
            f"sample {i} is empty or non-finite"
        )
    again = generator.sample(n, seed=seed)
    for a, b in zip(first, again, strict=True):
        assert a.get_chemical_symbols() == b.get_chemical_symbols() and np.allclose(
            a.positions, b.positions
        ), "the same seed must reproduce the same samples"
    return first


def check_store(store: Store, structures: Sequence[Atoms]) -> None:
    """Check the Store contract: insert with dedupe, state transitions, result round trip.

    ``structures`` must be distinct crystals. Oracle-call keys are built as the campaign builds
    them: ``oracle_call_key(candidate structure hash, result settings hash)``.
    """
    from qaware.store.keys import oracle_call_key

    ids = store.add_candidates(structures, cycle=0, origin="check_store")
    assert len(ids) == len(structures) and len(set(ids)) == len(ids), "one new id per structure"
    again = store.add_candidates(structures[:1], cycle=1, origin="check_store")
    assert again == ids[:1], "re-adding a known structure must return its existing id"
    assert store.count(status="generated") == len(ids)
    store.set_status([ids[0]], "scored", fields={"D_signed": 0.5})
    record = store.get(ids[0])
    assert record.status == "scored" and record.key_value_pairs.get("D_signed") == 0.5
    try:
        store.set_status([ids[0]], "done")
    except Exception:
        pass
    else:
        raise AssertionError("scored -> done must be refused by the state machine")
    assert store.get(ids[0]).status == "scored", "a refused transition must leave the row unchanged"
    assert store.summary()[0].get("scored") == 1
    result = OracleResult(
        ok=True,
        level="L",
        energy=-1.25,
        forces=np.zeros((len(structures[0]), 3)),
        settings_hash="ab" * 32,
    )
    key = oracle_call_key(record.structure_hash, result.settings_hash)
    assert store.find_result(key) is None, "no result before one is recorded"
    store.begin_call(ids[0], record.atoms, oracle_key=key, level="L")
    store.record_result(ids[0], key, result)
    found = store.find_result(key)
    assert found is not None and found.energy == -1.25, (
        "record_result/find_result round trip failed"
    )
    np.testing.assert_array_equal(found.forces, result.forces)
    failed = OracleResult.failure("L", "timeout", settings_hash="cd" * 32)
    bad_key = oracle_call_key(record.structure_hash, failed.settings_hash)
    store.record_result(ids[0], bad_key, failed)
    assert store.find_result(bad_key) is None, "a failed result must never be served as truth"


# ------------------------------------------------------------------------------------------
# physics assertions


def random_rotation(rng: np.random.Generator, *, reflect: bool = False) -> np.ndarray:
    """A uniformly random 3×3 rotation matrix (times -1 when ``reflect``)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return -q if reflect else q


def assert_forces_match_finite_differences(
    energy_and_forces: Callable[[Atoms], tuple[float, np.ndarray]],
    atoms: Atoms,
    *,
    delta: float = 1e-4,
    atol: float = 1e-3,
    atoms_to_check: Sequence[int] | None = None,
) -> None:
    """forces = -dE/dr by central differences (ASE's numeric_forces idea), in eV/Å."""
    _, forces = energy_and_forces(atoms)
    indices = range(len(atoms)) if atoms_to_check is None else atoms_to_check
    for a in indices:
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, c] += delta
            minus.positions[a, c] -= delta
            numeric = -(energy_and_forces(plus)[0] - energy_and_forces(minus)[0]) / (2 * delta)
            assert abs(numeric - forces[a, c]) <= atol, (
                f"atom {a}, axis {'xyz'[c]}: analytic force {forces[a, c]:.6f} vs "
                f"finite difference {numeric:.6f} eV/Å"
            )


def assert_energy_invariant(
    energy: Callable[[Atoms], float],
    atoms: Atoms,
    *,
    seed: int = 0,
    atol: float = 1e-6,
) -> None:
    """Energy unchanged by rotation+reflection, translation, permutation and (pbc) wrapping."""
    rng = np.random.default_rng(seed)
    e0 = energy(atoms)
    rotated = atoms.copy()
    rot = random_rotation(rng, reflect=True)
    rotated.positions = atoms.positions @ rot.T
    if atoms.pbc.any():
        rotated.set_cell(np.asarray(atoms.cell) @ rot.T, scale_atoms=False)
    moved = atoms.copy()
    moved.positions += rng.normal(size=3)
    permuted = atoms[rng.permutation(len(atoms))]
    variants = {"rotation/reflection": rotated, "translation": moved, "permutation": permuted}
    if atoms.pbc.all():
        wrapped = moved.copy()
        wrapped.wrap()
        variants["periodic wrapping"] = wrapped
    for name, variant in variants.items():
        e = energy(variant)
        assert abs(e - e0) <= atol, f"energy changes under {name}: {e0:.9f} -> {e:.9f} eV"


# ------------------------------------------------------------------------------------------
# physics assertions for potentials (forces, stress, batching, cutoff); appended for MF-ENNP

from typing import Any  # noqa: E402  (kept with the helpers that use it)

EnergyForces = Callable[[Atoms], tuple[float, np.ndarray]]
"""``f(atoms) -> (energy eV, forces (n, 3) eV/Å)``."""


def assert_equivariant_forces(
    energy_and_forces: EnergyForces,
    atoms: Atoms,
    *,
    seed: int = 0,
    atol: float = 1e-9,
    reflect: bool = True,
) -> None:
    """E(Rx) = E(x) and F(Rx) = R F(x) for a random rotation (times −1 when ``reflect``).

    The cell of a periodic structure is rotated with the atoms (the e3nn ``assert_equivariant``
    idea for an ASE-level model).
    """
    rot = random_rotation(np.random.default_rng(seed), reflect=reflect)
    e0, f0 = energy_and_forces(atoms)
    turned = atoms.copy()
    turned.positions = atoms.positions @ rot.T
    turned.set_cell(np.asarray(atoms.cell) @ rot.T, scale_atoms=False)
    e1, f1 = energy_and_forces(turned)
    what = "rotation+reflection" if reflect else "rotation"
    assert abs(e1 - e0) <= atol, f"energy changes under {what}: {e0:.12f} -> {e1:.12f} eV"
    err = float(np.max(np.abs(f1 - np.asarray(f0) @ rot.T)))
    assert err <= atol, f"forces are not equivariant under {what}: max |F(Rx) - R F(x)| = {err:.3g}"


def assert_stress_matches_finite_strain(
    energy: Callable[[Atoms], float],
    stress: Callable[[Atoms], np.ndarray],
    atoms: Atoms,
    *,
    delta: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """stress = (1/V) dE/dε (eV/Å³, ASE sign) by central differences of a symmetric strain.

    ``stress(atoms)`` may return (3, 3) or Voigt (6,) xx, yy, zz, yz, xz, xy. Atoms move with
    the cell (``scale_atoms=True``), as in ``ase.calculators.calculator``'s numerical stress.
    """
    analytic = np.asarray(stress(atoms), dtype=float)
    if analytic.shape == (6,):
        xx, yy, zz, yz, xz, xy = analytic
        analytic = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    volume = atoms.get_volume()
    cell = np.asarray(atoms.cell)
    for i in range(3):
        for j in range(i, 3):
            values = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[i, j] += sign * delta
                strain[j, i] += sign * delta if i != j else 0.0
                strained = atoms.copy()
                strained.set_cell(cell @ strain, scale_atoms=True)
                values.append(energy(strained))
            numeric = (values[0] - values[1]) / ((2 if i == j else 4) * delta * volume)
            assert abs(numeric - analytic[i, j]) <= atol, (
                f"stress[{'xyz'[i]}{'xyz'[j]}]: analytic {analytic[i, j]:.8f} vs finite strain "
                f"{numeric:.8f} eV/Å³"
            )


def assert_zero_cross_gradients(
    energies: Callable[[Any], Any], positions: Any, batch: Sequence[int]
) -> None:
    """In a batch, structure k's energy has zero gradient w.r.t. every atom of the others.

    energies:  ``f(positions) -> (B,)`` torch tensor of the batch's energies.
    positions: (N, 3) torch tensor of all atoms of the batch (a leaf; gradients are taken).
    batch:     (N,) structure index of each atom.
    """
    import torch

    pos = positions.detach().clone().requires_grad_(True)
    values = energies(pos)
    owner = np.asarray(batch)
    for k in range(values.shape[0]):
        (grad,) = torch.autograd.grad(values[k], pos, retain_graph=True, allow_unused=True)
        if grad is None:
            continue
        leak = grad[torch.as_tensor(owner != k)].abs().max().item() if (owner != k).any() else 0
        assert leak == 0.0, f"energy of structure {k} depends on other structures' atoms ({leak})"


def assert_smooth_cutoff(
    energy_and_forces: EnergyForces,
    atoms_at: Callable[[float], Atoms],
    cutoff: float,
    *,
    delta: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """Energy and forces are continuous, and flat, as a neighbour crosses the cutoff sphere.

    atoms_at: ``f(r) -> Atoms`` with one pair at separation r Å (and no other pair crossing).
    Checks E(r_c − δ) ≈ E(r_c + δ), forces near r_c ≈ forces beyond it, and E constant beyond.
    """
    e_in, f_in = energy_and_forces(atoms_at(cutoff - delta))
    e_out, f_out = energy_and_forces(atoms_at(cutoff + delta))
    e_far, _ = energy_and_forces(atoms_at(cutoff + 0.5))
    assert abs(e_in - e_out) <= atol, f"energy jumps at the cutoff: {e_in:.9f} -> {e_out:.9f} eV"
    jump = float(np.max(np.abs(np.asarray(f_in) - np.asarray(f_out))))
    assert jump <= atol, f"forces jump by {jump:.3g} eV/Å at the cutoff"
    assert abs(e_far - e_out) <= atol, "energy still changes beyond the cutoff"


__all__ += [
    "EnergyForces",
    "assert_equivariant_forces",
    "assert_smooth_cutoff",
    "assert_stress_matches_finite_strain",
    "assert_zero_cross_gradients",
]


def made_up_top_energy(atoms: Atoms, emt_energy: float) -> float:
    """A made-up upper level for testing ladders (not a level of theory): 1.05 × EMT plus
    0.2 eV per Al atom."""
    return 1.05 * emt_energy + 0.2 * int((atoms.symbols == "Al").sum())


def emt_two_level_cells(n: int, *, seed: int = 0, top_every: int = 3) -> list[Atoms]:
    """Rattled 4-atom Cu / CuAl cells labelled for a two-level ladder: EMT energies, forces and
    stress on all (``energy_EMT``...), :func:`made_up_top_energy` on every ``top_every``-th
    (``energy_TOP``), ``info["family"]`` "Cu" or "CuAl". Deterministic in ``seed``."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.05 * rng.normal(), cubic=True)
        if i % 2:
            atoms.symbols[[0, 3]] = "Al"
        atoms.rattle(0.05, seed=seed * 1000 + i)
        atoms.calc = EMT()
        energy = atoms.get_potential_energy()
        atoms.info["energy_EMT"] = energy
        atoms.info["stress_EMT"] = atoms.get_stress()
        atoms.arrays["forces_EMT"] = atoms.get_forces()
        atoms.calc = None
        if i % top_every == 0:
            atoms.info["energy_TOP"] = made_up_top_energy(atoms, energy)
        atoms.info["family"] = "CuAl" if i % 2 else "Cu"
        out.append(atoms)
    return out


__all__ += ["emt_two_level_cells", "made_up_top_energy"]
