"""Does training MF-ENNP on a data set's reference cells hurt its compounds? (issue 6)

    OMP_NUM_THREADS=1 python benchmarks/validator_reference_cells.py      # ~2 min on one core

Data: the stand-in columns of ``data/track_x/track_x.extxyz.gz`` (GGA+U@SevenNet-MF-0 ->
r2SCAN@SevenNet-MF-0 on all 618 cells; stand-ins, not DFT). Test family: the X3=O3
perovskites, never trained on. Training sets: the other perovskite families (``perovskites``),
plus the binary oxides (``+oxides``), plus every elemental reference cell, solids and O2/N2/F2
in boxes (``+elements``). Same architecture as the quick-start validator, 25 epochs, seeds 0
and 1. Per run: top-level e_form MAE on the test family (eV/atom), R² of the predicted D, the
per-level energy scale the model fits before training, and the epoch early stopping kept.
Writes ``benchmarks/results/validator_reference_cells.json``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from train_quickstart_validator import quickstart_model_config

from _provenance import REPO, RESULTS, Recorder
from qaware.datasets import dataset_file, elemental_references, formation_energies, read_dataset
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.validator import MFValidator
from qaware.validator.train import TrainConfig

LEVELS: Final = ("GGA_plus_U_at_SevenNet_MF_0", "r2SCAN_at_SevenNet_MF_0")
TEST: Final = "X3=O3"
VARIANTS: Final = ("perovskites", "+oxides", "+elements")
SEEDS: Final = (0, 1)


def training_rows(tags: np.ndarray, variant: str) -> np.ndarray:
    keep = np.char.startswith(tags.astype(str), "X3=") & (tags != TEST)
    if variant != "perovskites":
        keep |= tags == "ref:oxide"
    if variant == "+elements":
        keep |= tags == "ref:element"
    return np.flatnonzero(keep)


def main() -> None:
    data = dataset_file(REPO / "data" / "track_x", "track_x")
    frames = read_dataset(data)
    tags = np.array([str(a.info.get("tag", "")) for a in frames])
    refs = {lv: elemental_references(frames, lv, ["ref:element"]) for lv in LEVELS}
    e_form = {lv: formation_energies(frames, lv, refs[lv]) for lv in LEVELS}
    test = np.flatnonzero(tags == TEST)
    species = tuple(sorted({s for a in frames for s in a.get_chemical_symbols()}))
    ladder = FidelityLadder(tuple(Fidelity(lv) for lv in LEVELS))
    rec = Recorder("validator_reference_cells", seeds={"model_and_split": list(SEEDS)},
                   data_files=[data])  # fmt: skip
    runs = []
    for variant in VARIANTS:
        rows = training_rows(tags, variant)
        labels = {lv: [float(frames[i].info[f"energy_{lv}"]) if np.isfinite(e_form[lv][i])
                       else None for i in rows] for lv in LEVELS}  # fmt: skip
        for seed in SEEDS:
            config = replace(quickstart_model_config(species, seed), levels=LEVELS)
            train = TrainConfig(epochs=25, batch_size=16, learning_rate=5e-3, patience=10,
                                seed=seed)  # fmt: skip
            v = MFValidator(ladder, refs, model_config=config, train_config=train)
            v.fit([frames[i] for i in rows], labels, warm_start=False)
            pred = v.predict([frames[i] for i in test])
            top, low = LEVELS[-1], LEVELS[0]
            mae = float(np.mean(np.abs(pred.e_form_per_atom[top] - e_form[top][test])))
            d_true = e_form[low][test] - e_form[top][test]
            d_pred = pred.e_form_per_atom[low] - pred.e_form_per_atom[top]
            r2 = 1 - np.sum((d_pred - d_true) ** 2) / np.sum((d_true - d_true.mean()) ** 2)
            runs.append({
                "variant": variant,
                "seed": seed,
                "n_train": len(rows),
                "top_mae_ev_per_atom": round(mae, 4),
                "r2_d": round(float(r2), 3),
                "energy_scale_ev_per_atom": [round(float(x), 3) for x in v.model.energy_scale],
                "best_epoch": v.last_fit.best_epoch,
            })  # fmt: skip
            print(runs[-1], flush=True)
    rec.write(RESULTS / "validator_reference_cells.json", {
        "ladder": "STAND-IN: GGA+U@SevenNet-MF-0 -> r2SCAN@SevenNet-MF-0 (not DFT)",
        "test_family": TEST,
        "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
