"""Does Δ-learning bend the low level's potential energy surface? A relaxation check.

    OMP_NUM_THREADS=1 python benchmarks/validator_residual_relax.py      # ~1 min on one core

With ``ModelConfig.residual_levels`` an upper level is the level below plus a correction. The
lower level's heads enter it as constants, but the shared backbone does not: an upper loss on
energies alone can still move the features the lower heads read. This measures the effect
where it shows: MF-ENNP trained briefly (20 epochs) on rattled 4-atom Cu / CuAl cells with EMT
energies, forces and stress as the low level and a **made-up** energy-only upper level
(1.05 × EMT + 0.2 eV per Al atom, on every third cell: a synthetic level for this check, not a
level of theory); then a rattled Cu cell is relaxed with BFGS on the *low* level and EMT's own
largest force at the relaxed geometry is recorded (near 0 when the low level learned EMT; large
when the relaxation ran into a region the model gets wrong). Six model seeds, independent heads
vs Δ-learning heads. Writes ``benchmarks/results/validator_residual_relax.json``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.optimize import BFGS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.testing import emt_two_level_cells
from qaware.validator import ModelConfig
from qaware.validator.calculator import QawareCalculator
from qaware.validator.train import TrainConfig, initialise_model, prepare_samples, train

LADDER = FidelityLadder((Fidelity("EMT", weight=0.3), Fidelity("TOP", weight=1.0)))
SEEDS = tuple(range(6))
BROKEN_EV_PER_A = 1.0  # EMT force after relaxation above which the low level's minimum is wrong


def relax_check(residual: bool, seed: int) -> dict[str, Any]:
    base = ModelConfig(levels=LADDER.names, species=("Cu", "Al"), cutoff=4.0, channels=8,
                       n_layers=2, radial_hidden=16, readout_hidden=8, head_hidden=8,
                       fidelity_dim=4, seed=seed)  # fmt: skip
    config = replace(base, residual_levels=residual)
    samples = prepare_samples(emt_two_level_cells(24, seed=5), config)
    model = initialise_model(config, samples).double()
    torch.manual_seed(0)
    result = train(model, samples, LADDER, TrainConfig(epochs=20, learning_rate=1e-2))
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True)
    atoms.rattle(0.1, seed=8)
    atoms.calc = QawareCalculator(model, fidelity="EMT")
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=40)
    emt_force = float(np.abs(EMT().get_forces(atoms)).max())
    return {
        "residual_levels": residual,
        "seed": seed,
        "final_force_mae_EMT": round(result.history[-1].force_mae["EMT"], 4),
        "emt_max_force_after_relaxation": round(emt_force, 4),
        "broken": emt_force > BROKEN_EV_PER_A,
    }


def main() -> None:
    torch.set_num_threads(1)
    rec = Recorder("validator_residual_relax", seeds={"model": list(SEEDS)})
    runs = []
    for residual in (False, True):
        for seed in SEEDS:
            runs.append(relax_check(residual, seed))
            print(runs[-1], flush=True)
    summary = {
        ("residual" if r else "independent"): sum(x["broken"] for x in runs
                                                  if x["residual_levels"] == r)
        for r in (False, True)
    }  # fmt: skip
    rec.write(RESULTS / "validator_residual_relax.json", {
        "what": "broken low-level relaxations (EMT max force > 1 eV/Å at the model's minimum) "
                f"out of {len(SEEDS)} seeds; the upper level is made up, not a level of theory",
        "broken_relaxations": summary,
        "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
