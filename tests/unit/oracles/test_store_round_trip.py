"""Oracle results through the campaign store: what comes back is what was computed, and a
failed calculation (SCF not converged, timeout, spin contamination) is stored as a failed
call, never as truth (issue 4, "Done when").

EMT and the replay table run in a second; the PySCF/GPAW ones are marked oracle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.execution.local import LocalExecutor
from qaware.oracles.ase_calculator import ASECalculatorOracle
from qaware.oracles.replay import ReplayOracle
from qaware.oracles.result import OracleResult
from qaware.oracles.runner import OracleRunner, Task
from qaware.store import CallStatus, CampaignStore, oracle_call_key
from qaware.structures import structure_hash

REPLAY = Path(__file__).resolve().parents[2] / "data" / "replay" / "rxnnet_main_sample.csv"
FEO = Atoms("FeO", positions=[[0, 0, 0], [0, 0, 1.62]])
CN = Atoms("CN", positions=[[0, 0, 0], [0, 0, 1.172]])  # UHF: <S^2> 1.1 for a doublet
WATER = Atoms("OH2", positions=[[0, 0, 0], [0.757, 0, 0.587], [-0.757, 0, 0.587]])


def _run(db: Path, oracle, atoms: Atoms, *, child: bool = False, timeout: float = 600.0):
    """One call through OracleRunner + CampaignStore; returns (result, stored row, truth)."""
    key = oracle_call_key(structure_hash(atoms), oracle.settings_hash())
    with CampaignStore(db, campaign="t") as store, LocalExecutor(max_workers=1) as ex:
        runner = OracleRunner(store, ex, timeout_s=timeout, max_retries=0, run_in_child=child)
        ((_, result, cached),) = runner.evaluate([Task(None, atoms, oracle, structure_hash(atoms))])
        assert not cached
    with CampaignStore(db, campaign="t") as store:  # a fresh connection: what is on disk
        (row,) = [c for c in store.calls() if c.oracle_key == key]
        return result, row, store.find_result(key)


def _assert_same(stored: OracleResult, computed: OracleResult) -> None:
    assert stored.ok and stored.energy == computed.energy
    assert (stored.level, stored.code, stored.code_version, stored.settings_hash) == (
        computed.level, computed.code, computed.code_version, computed.settings_hash,
    )  # fmt: skip
    for name in ("forces", "stress"):
        a, b = getattr(stored, name), getattr(computed, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert set(stored.descriptors) == set(computed.descriptors)
    for name, vector in computed.descriptors.items():
        np.testing.assert_array_equal(stored.descriptors[name], vector)
    assert stored.to_dict()["diagnostics"] == computed.to_dict()["diagnostics"]


def test_an_emt_result_with_forces_and_stress_survives_the_store(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=3)
    oracle = ASECalculatorOracle("ase.calculators.emt:EMT", level="EMT")
    result, row, truth = _run(tmp_path / "c.db", oracle, atoms)
    assert row.status == CallStatus.DONE
    assert truth is not None and truth.stress is not None
    _assert_same(truth, result)


def test_a_replayed_label_survives_the_store_and_a_missing_one_is_no_truth(tmp_path):
    oracle = ReplayOracle(REPLAY, "r2SCAN@MP")
    result, row, truth = _run(tmp_path / "c.db", oracle, bulk("NiO", "rocksalt", a=4.17))
    assert truth is not None
    _assert_same(truth, result)
    missing, row, truth = _run(tmp_path / "c.db", oracle, bulk("Cu"))
    assert not missing.ok and row.status == CallStatus.FAILED and truth is None


@pytest.mark.oracle
def test_a_pyscf_result_with_forces_and_descriptors_survives_the_store(tmp_path):
    from qaware.oracles.pyscf_molecular import PySCFOracle

    oracle = PySCFOracle(method="PBE", descriptors=True, num_threads=1)
    result, _, truth = _run(tmp_path / "c.db", oracle, WATER)
    assert set(result.descriptors) == {"dos", "gap", "elf", "response"}
    assert result.descriptors["gap"][0] > 4.0  # water's PBE HOMO-LUMO gap, eV
    assert truth is not None
    _assert_same(truth, result)


@pytest.mark.oracle
def test_a_gpaw_result_with_descriptors_survives_the_store(tmp_path):
    from qaware.oracles.gpaw_periodic import GPAWOracle

    oracle = GPAWOracle(ecut_ev=200, kpt_density=1.0, descriptors=True)
    result, _, truth = _run(tmp_path / "c.db", oracle, bulk("Si", "diamond", a=5.43))
    assert {"dos", "gap"} <= set(result.descriptors)
    assert truth is not None
    _assert_same(truth, result)


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("spec", "atoms", "child", "timeout", "reason"),
    [
        ({"method": "PBE", "max_cycle": 1}, FEO, False, 600.0, "scf_not_converged"),
        ({"method": "CCSD(T)"}, FEO, True, 3.0, "timeout"),
        ({"method": "HF"}, CN, False, 600.0, "spin_contamination: <S^2>=1.1"),
    ],
)
def test_a_failed_calculation_is_stored_as_a_failed_call_not_as_truth(
    tmp_path, spec, atoms, child, timeout, reason
):
    from qaware.oracles.pyscf_molecular import PySCFOracle

    oracle = PySCFOracle(num_threads=1, **spec)
    result, row, truth = _run(tmp_path / "c.db", oracle, atoms, child=child, timeout=timeout)
    assert not result.ok and result.reason.startswith(reason)
    assert row.status == CallStatus.FAILED and row.result.reason == result.reason
    assert truth is None, "a failure must never be served as a result"
