"""MF-ENNP validator benchmark: accuracy, divergence, calibration, ablations, speed, throughput.

    OMP_NUM_THREADS=1 python benchmarks/validator.py            # ~30 min on one core

Data: data/perov_standin (STAND-IN labels: SevenNet-MF-0 imitating MP GGA+U (low) and MP r2SCAN
(top) on the 2,235 3d-metal oxides of perov-5), split by structure family (anion set X3,
``info["tag"]``): test family X3=ONF is never trained on, never used for early stopping or
calibration; validation (early stopping + σ calibration) is family X3=ON2; four families train
(every element occurs in a training family). σ calibration is the package default, one factor
per level fitted on the validation family; the full model's test ECE with a factor and a floor
(``fit_std_affine``, fitted on the same family) is reported next to it.
Live Track M / X: ``validator_track_m.py`` / ``validator_track_x.py``. Speed: this file's
quick-start-sized model (``speed.architecture``); ``validator_speed.py`` times the default.

Models, each trained from scratch with the same architecture and the same epoch budget
(``--epochs``, early stopping with patience 10 on the validation family; ``--seconds`` adds a
wall-clock cap, off by default: with one, the result depended on the machine's load):

* ``full``: the multi-fidelity model on both levels (shared backbone, gradient stopping).
* ``low_only`` (the "PBE-only validator" ablation): one level, GGA+U; the top is estimated by
  the low prediction, so its predicted D is 0 everywhere.
* ``direct_separate``: two independent single-level models, D = difference of their
  predictions. With a two-level ladder, the issue's "direct PBE→top (no intermediate levels)"
  ablation *is* the full model (there are no intermediate levels to drop); this is the
  alternative that has no multi-fidelity sharing at all.
* ``full_spanning_calibration``: the full model, but 10 % of every training family's frames
  (seeded) are held out and join the validation family for early stopping and σ calibration,
  so the σ factor is fitted on errors of five families instead of one.
* ``full_sparse_top``: the full model with top-level labels on only 20 % of the training
  structures (seeded), all low labels kept: the regime the campaign lives in.
* ``deep_ensemble``: ``--members`` (5) full models that differ only in their seed (weights,
  heads, batch order; same split), the first being ``full``. Prediction = mean over members;
  σ = std over every readout head of every member (a K·H-head ensemble), one factor per level
  fitted on the validation family as for ``full``. Asks whether independent backbones give a σ
  that ranks errors better than heads sharing one backbone.
* ``ece_by_test_family`` (not a model): ``full`` retrained with other (test, validation)
  family pairs (:data:`ROTATIONS`), because one held-out family's ECE depends on how hard it is
  compared with the validation family the σ factor was fitted on.
* ``composition_lsq_baseline``: no network, per-level least-squares element energies only
  (what every model's references start from): how much needs no structure at all. On these
  stand-in labels D is dominated by a composition-linear term (MPtrj mixes GGA metals with
  GGA+U oxides and the PBE modal's energies carry no MP2020 corrections), so this baseline
  already reaches a high R²(D); the models must be read against it.

Speed: energy + forces per call on a 64-atom rocksalt MgO cell and a 5-atom cubic SrTiO3 cell,
this model (float32, 1 thread) vs SevenNet-MF-0 (its ASE calculator, 1 thread), same process.
Writes benchmarks/results/validator.json with provenance (_provenance.Recorder).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from train_quickstart_validator import (
    LEVELS,
    labelled_frames,
    quickstart_ladder,
    quickstart_model_config,
)

from _provenance import RESULTS, Recorder
from _validator_data import (
    DATA,
    TEST_FAMILY,
    VALIDATION_FAMILY,
    _frames_with,
    _spanning_split,
    _sparsify_top,
)
from _validator_speed import speed
from _validator_uncertainty import (  # pooled: read by tests/unit/test_validator_benchmark.py
    _test_ece_by_calibration,
    cross_family_test_ece,
    deep_ensemble,
    pooled,  # noqa: F401
)
from qaware.datasets.spec import level_key
from qaware.fidelity import FidelityLadder
from qaware.validator import TrainConfig
from qaware.validator.workflow import load_references, train_on_frames


def _configs(species, ladder, budget: tuple[int, float | None], seed) -> tuple[Any, TrainConfig]:
    """Model and training settings shared by every model of this benchmark."""
    epochs, seconds = budget
    config = TrainConfig(
        epochs=epochs,
        batch_size=16,
        learning_rate=5e-3,
        patience=10,
        max_seconds=seconds,
        seed=seed,
    )
    return replace(quickstart_model_config(species, seed), levels=ladder.names), config


def _train(
    frames,
    ladder,
    refs,
    species,
    budget: tuple[int, float | None],
    seed,
    *,
    group_key: str = "tag",
    validation_groups: tuple[str, ...] = (VALIDATION_FAMILY,),
    test_family: str = TEST_FAMILY,
) -> Any:
    mc, config = _configs(species, ladder, budget, seed)
    return train_on_frames(
        frames,
        ladder,
        refs,
        mc,
        config,
        group_key=group_key,
        test_groups=[test_family],
        validation_groups=list(validation_groups),
    )


def _summary(trained) -> dict[str, Any]:
    history = trained.result.history
    n_seen = trained.n_train * len(history)
    test = trained.test.to_dict()
    test.pop("reliability", None)
    return {
        "test": test,
        "reliability_top": trained.test.reliability.get(LEVELS[-1]),
        "calibration": trained.calibration,
        "epochs": len(history),
        "best_epoch": trained.result.best_epoch,
        "train_seconds": round(trained.train_seconds, 1),
        "n_train": trained.n_train,
        "train_throughput_structures_per_s": n_seen / trained.train_seconds,
    }


ROTATIONS: tuple[tuple[str, str], ...] = (
    ("X3=ONF", "X3=O2N"),
    ("X3=O3", "X3=ON2"),
    ("X3=ON2", "X3=O3"),
    ("X3=O2N", "X3=O3"),
)
"""(test family, validation family) pairs for ``ece_by_test_family``: a held-out family's elements
must all occur in the training families (O2S holds the only S; O2F and ONF the only F)."""


def ece_by_test_family(frames, ladder, refs, species, budget, seed) -> list[dict[str, Any]]:
    """The ``full`` model retrained with other (test, validation) family pairs: how much the
    test ECE after the default calibration depends on which family is held out."""
    rows = []
    for test_family, validation_family in ROTATIONS:
        trained = _train(
            frames, ladder, refs, species, budget, seed,
            validation_groups=(validation_family,), test_family=test_family,
        )  # fmt: skip
        report = trained.test
        rows.append(
            {
                "test_family": test_family,
                "validation_family": validation_family,
                "energy_mae": report.energy_mae,
                "ece_uncalibrated": report.ece_uncalibrated,
                "ece": report.ece,
                "scale": {k: v["scale"] for k, v in trained.calibration.items()},
            }
        )
        print("rotation", rows[-1], flush=True)
    return rows


def _d_metrics(d_pred: np.ndarray, d_true: np.ndarray) -> dict[str, float]:
    ss = float(np.sum((d_true - d_true.mean()) ** 2))
    r2 = 1 - float(np.sum((d_pred - d_true) ** 2)) / ss
    r = float(np.corrcoef(d_pred, d_true)[0, 1]) if np.std(d_pred) > 0 else float("nan")
    return {"r2": r2, "pearson_r2": r * r, "mae": float(np.mean(np.abs(d_pred - d_true)))}


def _true_d(frames, refs) -> np.ndarray:
    from qaware.thermo.formation import formation_energies_per_atom

    elements = sorted({s for a in frames for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in frames])
    e = {}
    for level in LEVELS:
        energy = np.array([a.info[f"energy_{level_key(level)}"] for a in frames])
        e[level] = formation_energies_per_atom(energy, comp, elements, refs[level], level=level)
    return e[LEVELS[0]] - e[LEVELS[-1]]


def lsq_baseline(frames: list, refs: dict) -> dict[str, Any]:
    """Composition only: per-level least-squares element energies fitted on the training
    families (what the model's references start from), evaluated on the test family. How much
    of the accuracy and of R²(D) needs no structure at all."""
    elements = sorted({s for a in frames for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in frames], float)
    tags = np.array([a.info["tag"] for a in frames])
    train = ~np.isin(tags, [TEST_FAMILY, VALIDATION_FAMILY])
    test = tags == TEST_FAMILY
    n = comp.sum(axis=1)
    pred, true = {}, {}
    for level in LEVELS:
        energy = np.array([a.info[f"energy_{level_key(level)}"] for a in frames])
        mu, *_ = np.linalg.lstsq(comp[train], energy[train], rcond=None)
        pred[level], true[level] = (comp @ mu)[test] / n[test], energy[test] / n[test]
    shift = {
        level: comp[test] @ np.array([refs[level].mu[e] for e in elements]) / n[test]
        for level in LEVELS
    }
    d_pred = (pred[LEVELS[0]] - shift[LEVELS[0]]) - (pred[LEVELS[-1]] - shift[LEVELS[-1]])
    d_true = (true[LEVELS[0]] - shift[LEVELS[0]]) - (true[LEVELS[-1]] - shift[LEVELS[-1]])
    return {
        "energy_mae": {lv: float(np.mean(np.abs(pred[lv] - true[lv]))) for lv in LEVELS},
        "divergence": _d_metrics(d_pred, d_true),
        "d_pred": d_pred,
    }


def _beyond_composition(d_pred: np.ndarray, d_lsq: np.ndarray, d_true: np.ndarray) -> float:
    """R² of the part of D that composition does not explain: (D_pred − D_lsq) vs
    (D_true − D_lsq). 0: the model adds nothing to composition; 1: it gets the rest right."""
    return _d_metrics(d_pred - d_lsq, d_true - d_lsq)["r2"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=25, help="epoch budget per model")
    parser.add_argument(
        "--seconds", type=float, default=None, help="optional wall-clock cap per model (off)"
    )
    parser.add_argument("--members", type=int, default=5, help="deep-ensemble size")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cross-folds", type=int, default=5, help="cross-family calibration")
    parser.add_argument("--out", type=Path, default=RESULTS / "validator.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budget = (args.epochs, args.seconds)
    data, refs_path = DATA / "perov_standin.extxyz.gz", DATA / "references.json"
    rec = Recorder("validator", seeds={"train": args.seed}, data_files=[data, refs_path])

    frames = labelled_frames(data)
    species = tuple(sorted({s for a in frames for s in a.get_chemical_symbols()}))
    ladder = quickstart_ladder()
    refs = load_references(refs_path, LEVELS)
    test_frames = [a for a in frames if a.info["tag"] == TEST_FAMILY]
    d_true = _true_d(test_frames, refs)

    baseline = lsq_baseline(frames, refs)
    d_lsq = baseline.pop("d_pred")
    models: dict[str, Any] = {"composition_lsq_baseline": baseline}
    print("lsq", baseline, flush=True)

    def beyond(validator) -> float:
        p = validator.predict(test_frames).e_form_per_atom
        return _beyond_composition(p[LEVELS[0]] - p[LEVELS[-1]], d_lsq, d_true)

    full = _train(frames, ladder, refs, species, budget, args.seed)
    models["full"] = _summary(full)
    models["full"]["test_ece_by_calibration"] = _test_ece_by_calibration(full, frames)
    models["full"]["r2_D_beyond_composition"] = beyond(full.validator)
    models["full"]["cross_family_calibration"] = cross_family_test_ece(
        full, frames, *_configs(species, ladder, budget, args.seed), folds=args.cross_folds
    )
    print("cross-family", models["full"]["cross_family_calibration"]["test_ece"], flush=True)
    print("full", models["full"]["test"], flush=True)

    others = [
        _train(frames, ladder, refs, species, budget, args.seed + k) for k in range(1, args.members)
    ]
    models["deep_ensemble"] = deep_ensemble([full, *others], frames)
    print("ensemble", models["deep_ensemble"]["test"], flush=True)
    del others

    low_ladder = FidelityLadder((ladder[0],))
    top_ladder = FidelityLadder((ladder[-1],))
    low = _train(_frames_with(frames, (LEVELS[0],)), low_ladder, refs, species, budget, args.seed)
    top = _train(_frames_with(frames, (LEVELS[-1],)), top_ladder, refs, species, budget, args.seed)
    p_low = low.validator.predict(test_frames).e_form_per_atom[LEVELS[0]]
    p_top = top.validator.predict(test_frames).e_form_per_atom[LEVELS[-1]]
    from qaware.thermo.formation import formation_energies_per_atom

    elements = sorted({s for a in test_frames for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in test_frames])
    top_energy = np.array([a.info[f"energy_{level_key(LEVELS[-1])}"] for a in test_frames])
    e_top_true = formation_energies_per_atom(
        top_energy, comp, elements, refs[LEVELS[-1]], level=LEVELS[-1]
    )
    models["low_only"] = {
        **_summary(low),
        "top_mae_if_low_used_as_top": float(np.mean(np.abs(p_low - e_top_true))),
        "divergence": {"r2": _d_metrics(np.zeros_like(d_true), d_true)["r2"], "note": "D = 0"},
    }
    models["direct_separate"] = {
        "low_model": _summary(low)["test"]["energy_mae"],
        "top_model": _summary(top),
        "divergence": _d_metrics(p_low - p_top, d_true),
        "r2_D_beyond_composition": _beyond_composition(p_low - p_top, d_lsq, d_true),
    }
    print("separate", models["direct_separate"]["divergence"], flush=True)
    sparse = _train(_sparsify_top(frames, 0.2, args.seed), ladder, refs, species, budget, args.seed)
    models["full_sparse_top"] = _summary(sparse)
    models["full_sparse_top"]["r2_D_beyond_composition"] = beyond(sparse.validator)

    spanning, groups = _spanning_split(frames, 0.1, args.seed)
    span = _train(
        spanning, ladder, refs, species, budget, args.seed,
        group_key="split", validation_groups=groups,
    )  # fmt: skip
    models["full_spanning_calibration"] = {
        **_summary(span),
        "note": "the full model with 10 % of every training family's frames held out (seeded) "
        "and added to the validation family: early stopping and the sigma factor then see "
        "errors of five families instead of one; same test family",
    }
    print("spanning", models["full_spanning_calibration"]["test"]["ece"], flush=True)

    rotations = ece_by_test_family(frames, ladder, refs, species, budget, args.seed)
    top_eces = [row["ece"][LEVELS[-1]] for row in rotations]

    timing = speed(full.validator, LEVELS[-1], args.repeats)
    print("speed", timing, flush=True)
    top_name = LEVELS[-1]
    fm = models["full"]["test"]
    results = {
        "data": {
            "track_x_standin": {
                "file": "data/perov_standin/perov_standin.extxyz.gz",
                "frames": len(frames),
                "levels": list(LEVELS),
                "labels": "STAND-IN: SevenNet-MF-0 modal PBE (imitates MP GGA+U) and modal "
                "R2SCAN (imitates MP r2SCAN); not DFT",
                "split": f"test family {TEST_FAMILY} ({len(test_frames)} structures); "
                f"validation family {VALIDATION_FAMILY}; family = anion set X3; "
                "train = the other four families",
            },
            "track_m": "see benchmarks/results/validator_track_m.json "
            "(benchmarks/validator_track_m.py: live PySCF labels, grouped by molecule family)",
            "track_x_gpaw": "see benchmarks/results/validator_track_x.json (live GPAW)",
            "speed_by_architecture": "see benchmarks/results/validator_speed.json",
        },
        "headline": {
            "mae_top_meV_per_atom": 1e3 * fm["energy_mae"][top_name],
            "mae_low_meV_per_atom": 1e3 * fm["energy_mae"][LEVELS[0]],
            "r2_D_vs_true_low_error": fm["divergence"]["r2"],
            "r2_D_composition_only_baseline": baseline["divergence"]["r2"],
            "r2_D_beyond_composition": models["full"]["r2_D_beyond_composition"],
            "ece_top_before_calibration": fm["ece_uncalibrated"][top_name],
            "ece_top_after_calibration": fm["ece"][top_name],
            "ece_top_factor_and_floor_calibration": models["full"]["test_ece_by_calibration"][
                "factor_and_floor"
            ].get(top_name),
            "ece_top_after_cross_family_calibration": models["full"]["cross_family_calibration"][
                "test_ece"
            ][top_name],
            "ece_top_after_calibration_spanning_families": models["full_spanning_calibration"][
                "test"
            ]["ece"][top_name],
            "ece_top_other_test_families": top_eces,
            "ece_top_deep_ensemble_before_calibration": models["deep_ensemble"]["test"][top_name][
                "ece_uncalibrated"
            ],
            "ece_top_deep_ensemble_after_calibration": models["deep_ensemble"]["test"][top_name][
                "ece"
            ],
            "mae_top_deep_ensemble_meV_per_atom": 1e3
            * models["deep_ensemble"]["test"][top_name]["energy_mae"],
            "speedup_vs_sevennet_mgo64": timing["MgO_64"]["speedup"],
            "speedup_vs_sevennet_srtio3_5": timing["SrTiO3_5"]["speedup"],
            "train_structures_per_s": models["full"]["train_throughput_structures_per_s"],
            "targets": {"ece_top": 0.05, "r2_D": 0.7, "speedup": 10.0},
        },
        "models": models,
        "ece_by_test_family": rotations,
        "speed": timing,
        "settings": {
            "epochs_per_model": args.epochs,
            "deep_ensemble_members": args.members,
            "seconds_cap_per_model": args.seconds,
            "repeats": args.repeats,
            "threads": 1,
        },
    }
    path = rec.write(args.out, results)
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
