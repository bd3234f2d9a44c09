"""OracleResult: failures are explicit, non-finite numbers never pass as truth, dict round trip."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from qaware.errors import InvalidStructureError, MissingDependencyError
from qaware.oracles.result import OracleResult


def test_round_trip_through_json_keeps_every_field():
    res = OracleResult(
        ok=True,
        level="PBE",
        energy=-12.5,
        forces=np.arange(6.0).reshape(2, 3),
        stress=np.arange(6.0),
        descriptors={"dos": np.linspace(0, 1, 5)},
        code="pyscf",
        code_version="2.14.0",
        settings_hash="ab" * 16,
        wall_time_s=1.5,
        peak_memory_mb=120.0,
        diagnostics={"s2": np.float64(0.75), "n_scf": np.int64(12), "flags": [np.bool_(True)]},
    )
    back = OracleResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back.ok and back.energy == -12.5 and back.level == "PBE"
    np.testing.assert_array_equal(back.forces, res.forces)
    np.testing.assert_array_equal(back.stress, res.stress)
    np.testing.assert_array_equal(back.descriptors["dos"], res.descriptors["dos"])
    assert back.diagnostics == {"s2": 0.75, "n_scf": 12, "flags": [True]}


@pytest.mark.parametrize("energy", [None, math.nan, math.inf])
def test_success_without_finite_energy_becomes_failure(energy):
    res = OracleResult(ok=True, level="PBE", energy=energy)
    assert not res.ok and res.reason == "non_finite_energy"


def test_nan_forces_fail():
    res = OracleResult(ok=True, level="PBE", energy=-1.0, forces=[[0, 0, math.nan]])
    assert not res.ok and res.reason == "non_finite_forces"


def test_failure_constructor():
    res = OracleResult.failure("CCSD(T)", "timeout", wall_time_s=3600.0)
    assert not res.ok and res.reason == "timeout" and res.energy is None


def test_structure_error_message_and_pickling():
    err = InvalidStructureError(
        "atoms 3 and 4 are 0.12 Å apart", source="val.csv", index=17, atom=3
    )
    assert str(err) == "val.csv, row 17, atom 3: atoms 3 and 4 are 0.12 Å apart"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.atom == 3
    assert str(err.located(source="other.csv")).startswith("other.csv, row 17")


def test_missing_dependency_names_the_extra():
    err = MissingDependencyError("gpaw", "gpaw", "The GPAW oracle")
    assert "pip install 'qaware[gpaw]'" in str(err) and isinstance(err, ImportError)


def test_structure_error_names_frames_and_blocks():
    err = InvalidStructureError("NaN position", source="a.extxyz", index=2, atom=0, unit="frame")
    assert str(err) == "a.extxyz, frame 2, atom 0: NaN position"
    assert str(pickle.loads(pickle.dumps(err))) == str(err)
    assert str(err.located(unit="block")).startswith("a.extxyz, block 2")
