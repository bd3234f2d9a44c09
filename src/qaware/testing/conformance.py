"""Conformance checks: a new Oracle, Validator, StructureGenerator or Store is held to the same
contract as the built-ins (the torch-sim / e3nn idea). Each raises AssertionError saying what
failed."""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle, Prediction, Store, StructureGenerator, Validator

__all__ = ["check_generator", "check_oracle", "check_store", "check_validator"]

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
