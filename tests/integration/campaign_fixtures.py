"""A small real campaign for tests: EMT ladder on binary fcc alloys, a tiny MF-ENNP.

Levels: ``EMT-cut`` (ASE's EMT with the ASAP cutoff, the cheap level) and ``EMT`` (the top).
Both are real calculators; the pool holds L1_2, L1_0 and B2-like cells of seven fcc metals.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

METALS = ("Cu", "Ni", "Pd", "Ag", "Au", "Pt", "Al")
LOW, TOP = "EMT-cut", "EMT"


def _a(el: str) -> float:
    return float(bulk(el).cell.lengths()[0] * np.sqrt(2))


def alloy_pool(seed: int = 0) -> list[Atoms]:
    """Ordered binary cells of every metal pair, lattice constant by Vegard's law, rattled."""
    rng = np.random.default_rng(seed)
    out = []
    for a, b in itertools.permutations(METALS, 2):
        a0 = 0.75 * _a(a) + 0.25 * _a(b)
        l12 = Atoms(a * 3 + b, scaled_positions=[[0, .5, .5], [.5, 0, .5], [.5, .5, 0], [0, 0, 0]],
                    cell=np.eye(3) * a0, pbc=True)  # fmt: skip
        out.append(l12)
        if a < b:
            a1 = 0.5 * (_a(a) + _a(b))
            l10 = Atoms(a + b, scaled_positions=[[0, 0, 0], [.5, .5, .5]],
                        cell=[a1 / np.sqrt(2), a1 / np.sqrt(2), a1], pbc=True)  # fmt: skip
            out.append(l10)
    for atoms in out:
        atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
    return out


def write_campaign_inputs(
    folder: Path,
    *,
    budget: int = 6,
    cycles: int = 3,
    calculator: str = "ase.calculators.emt:EMT",
    seeds: bool = False,
    top_calculator: str | None = None,
    top_timeout: float = 60,
    top_retries: int = 0,
) -> Path:
    """Pool file, a trained tiny validator and the config; returns the config path.

    seeds: use 12 pool members not used in training (seeds.extxyz) as hull seeds and as the
    held-out calibration set.
    """
    from qaware.fidelity import Fidelity, FidelityLadder
    from qaware.oracles.ase_calculator import ASECalculatorOracle
    from qaware.thermo.references import compute_references
    from qaware.validator import MFValidator
    from qaware.validator.config import ModelConfig
    from qaware.validator.train import TrainConfig

    pool = alloy_pool()
    ase.io.write(folder / "pool.extxyz", pool)
    ase.io.write(folder / "seeds.extxyz", [a for i, a in enumerate(pool) if i % 6 == 3][:12])
    oracles = {
        LOW: ASECalculatorOracle(
            factory="ase.calculators.emt:EMT", level=LOW, kwargs={"asap_cutoff": True}
        ),
        TOP: ASECalculatorOracle(factory="ase.calculators.emt:EMT", level=TOP),
    }
    refs = {k: compute_references(o, METALS, kind="periodic") for k, o in oracles.items()}
    train = pool[::6]
    labels = {k: [o.compute(a).energy for a in train] for k, o in oracles.items()}
    ladder = FidelityLadder((Fidelity(LOW, weight=0.3, kind="empirical"),
                             Fidelity(TOP, weight=1.0, kind="empirical")))  # fmt: skip
    model = ModelConfig(levels=(LOW, TOP), species=METALS, cutoff=4.0, channels=8, n_layers=1,
                        radial_hidden=16, readout_hidden=8, n_heads=3, head_hidden=8)  # fmt: skip
    train_config = TrainConfig(epochs=3, validation_fraction=0.3)
    validator = MFValidator(ladder, refs, model_config=model, train_config=train_config)
    validator.fit(train, labels, warm_start=False)
    validator.save(folder / "validator.pt")
    top_isolate = "true" if top_calculator else "false"
    top_calc = top_calculator or calculator
    config = f"""
run: {{name: emt-test, directory: {folder / "run"}, seed: 7}}
fidelities:
  - {{name: {LOW}, weight: 0.3, kind: empirical}}
  - {{name: {TOP}, weight: 1.0, kind: empirical}}
oracles:
  - {{level: {LOW}, kind: ase, settings: {{calculator: "{calculator}",
      kwargs: {{asap_cutoff: true}}}}, timeout_s: 60, max_retries: 0, isolate: false}}
  - {{level: {TOP}, kind: ase, settings: {{calculator: "{top_calc}"}},
      timeout_s: {top_timeout}, max_retries: {top_retries}, isolate: {top_isolate}}}
generator: {{kind: pool, structures: [pool.extxyz]}}
validator: {{checkpoint: validator.pt, retrain_epochs: 2, retrain_max_seconds: 60}}
campaign:
  max_cycles: {cycles}
  budget: {budget}
  candidates_per_cycle: 20
  batch_size: 2
  patience: 3
  hit_threshold: 0.05
  stability_window: null
  hull_seeds: {"[seeds.extxyz]" if seeds else "[]"}
  calibration_structures: {"[seeds.extxyz]" if seeds else "[]"}
  max_calibration_error: 1.0
execution: {{backend: local, max_workers: 1}}
"""
    path = folder / "campaign.yaml"
    path.write_text(config)
    return path


class CountingEMT(EMT):
    """EMT that appends one line per energy evaluation to $QAWARE_TEST_CALL_LOG (counts calls
    across worker processes; a test-only wrapper around the real calculator)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):  # type: ignore[no-untyped-def]
        import os

        super().calculate(atoms, properties, system_changes)
        log = os.environ.get("QAWARE_TEST_CALL_LOG")
        if log:
            key = (
                f"{self.parameters.get('asap_cutoff', False)} {self.atoms.get_chemical_formula()} "
            )
            key += f"{self.results['energy']:.10f}\n"
            with open(log, "a", encoding="utf-8") as f:
                f.write(key)


FAULTS = ("ok", "ok", "raise", "nan", "hang", "die")


def fault_of(atoms: Atoms) -> str:
    """The fault a structure triggers in FaultyEMT: fixed by its formula and positions;
    elemental reference cells always work (without them no formation energy exists)."""
    import hashlib

    if len(set(atoms.get_chemical_symbols())) == 1:
        return "ok"
    key = atoms.get_chemical_formula() + np.round(atoms.positions, 3).tobytes().hex()
    return FAULTS[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(FAULTS)]


class FaultyEMT(EMT):
    """EMT that misbehaves, by structure (test-only): raises, returns NaN, hangs past any
    timeout, or kills its own process; the rest are ordinary EMT results."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):  # type: ignore[no-untyped-def]
        import os
        import time

        fault = fault_of(atoms if atoms is not None else self.atoms)
        if fault == "raise":
            raise RuntimeError("injected fault: the calculator raised")
        if fault == "hang":
            time.sleep(3600)
        if fault == "die":
            os._exit(9)
        super().calculate(atoms, properties, system_changes)
        if fault == "nan":
            self.results["energy"] = float("nan")


class GatedEMT(EMT):
    """EMT that refuses every compound holding Pd or Pt, the way a sanity gate refuses a whole
    family of molecules (test-only; raises in-process, no isolation needed)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):  # type: ignore[no-untyped-def]
        symbols = set((atoms if atoms is not None else self.atoms).get_chemical_symbols())
        if len(symbols) > 1 and symbols & {"Pd", "Pt"}:
            raise RuntimeError("gated: Pd/Pt compounds fail the test's gate")
        super().calculate(atoms, properties, system_changes)
