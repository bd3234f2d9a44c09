"""The shipped quick-start validator: loads with its checksum, predicts its held-out family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from qaware.validator import MFValidator

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "src" / "qaware" / "data" / "models" / "validator_quickstart.pt"
TOP, LOW = "r2SCAN@SevenNet-MF-0", "GGA+U@SevenNet-MF-0"


@pytest.fixture(scope="module")
def validator() -> MFValidator:
    return MFValidator.load(MODEL)


def test_checkpoint_is_small_and_names_its_stand_in_levels(validator):
    assert MODEL.stat().st_size < 2_000_000
    assert validator.ladder.names == (LOW, TOP)
    assert all(f.kind == "stand-in" for f in validator.ladder)
    assert validator.model.config.l_max == 1
    assert set(validator.calibration) == {LOW, TOP}


def test_held_out_family_is_predicted_to_the_documented_accuracy(validator, perov_standin_frames):
    frames = [a for a in perov_standin_frames if a.info["tag"] == "X3=ONF"][::10]
    pred = validator.predict(frames)
    true = np.array([a.info["energy_r2SCAN_at_SevenNet_MF_0"] / len(a) for a in frames])
    mae = np.mean(np.abs(pred.energy_per_atom[TOP] - true))
    assert mae < 0.2  # card: 113 meV/atom on the whole family
    z = np.abs(pred.energy_per_atom[TOP] - true) / pred.e_form_std_per_atom[TOP]
    assert 0.4 < np.mean(z < 1.0) < 0.95  # calibrated σ: about 68 % within 1σ


def test_calculator_on_cubic_srtio3_has_no_net_force_and_symmetric_forces(validator):
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    atoms = Atoms("SrTiO3", scaled_positions=frac, cell=np.eye(3) * 3.905, pbc=True)
    atoms.calc = validator.calculator()
    forces = atoms.get_forces()
    assert np.allclose(forces, 0.0, atol=1e-4)  # every atom sits on an inversion centre
    assert np.isfinite(atoms.calc.results["divergence"])
