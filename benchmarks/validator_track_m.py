"""MF-ENNP on the live Track M data (PySCF molecules): accuracy, divergence, calibration.

    OMP_NUM_THREADS=1 python benchmarks/validator_track_m.py          # ~35 min on one core

The same benchmark runs on the Track X crystals (GPAW PBE -> HSE06) through
``benchmarks/validator_track_x.py`` (:data:`TRACK_X`): a data set is a :class:`LiveData`.

Data: ``data/track_m/track_m.extxyz`` (issue 5; PySCF def2-SVP labels, forces at the DFT
levels). The ladder is every level of the data set with at least ``--min-labels`` ok results,
in the data set's order (PBE, r2SCAN, HSE06, CCSD(T)): a partial build gives a shorter ladder,
and the JSON names the levels it used and the label counts.

Split: by molecule family (the formula: every geometry of CrO is one family), grouped K-fold,
so every molecule is predicted once by a model that never saw any of its geometries. The
isolated atoms always train: they are the formation-energy references (e_form = −atomisation
energy per atom, :func:`qaware.datasets.elemental_references`). In each fold one further
family draw validates (early stopping, σ calibration, package default one factor per level).

Models per fold (same architecture as the quick-start validator, same epoch budget):

* ``full``: the multi-fidelity model on every level of the ladder.
* ``residual``: ``full`` with Δ-learning heads (``ModelConfig.residual_levels``: each level
  predicts a correction to the level below).
* ``residual_shrunk``: the trained ``residual`` model with each upper level's correction
  scaled by a factor in [0, 1] fitted on the validation families, σ recalibrated there
  (:mod:`qaware.validator.correction_shrinkage`; no retraining).
* ``residual_shrunk_cross`` (with ``--cross-folds``): the factors and σ fitted instead on the
  out-of-family predictions of the K models the residual model's cross-family calibration
  trains (on its training and validation families; no further training).
* ``low_only`` ("PBE-only validator"): PBE only; its D is 0 everywhere.
* ``direct``: the bottom and top levels only ("direct PBE→top", no intermediate levels); the
  same as ``full`` while the ladder has two levels, and then not trained twice.
* ``composition_lsq``: no network, per-level least-squares element energies on the training
  families: how much of the accuracy needs no geometry at all.
* ``lsq_D``: the same for the low level, the top level as the low one plus a least-squares
  composition-linear fit of E_top − E_low (on the training frames labelled at both): the
  divergence a linear model of composition gets when it is fitted on the divergence itself.

The same models are also cross-validated with frames dealt into folds at random (other
geometries of a test molecule then train): a diagnostic that separates "cannot fit" from
"cannot extrapolate to an unseen molecule"; it is not the benchmark.

Pooled over the folds: MAE of e_form per level (eV/atom), R² of the predicted D = e_form(low)
− e_form(top) vs the true one, and the regression ECE (DESIGN.md §3) of the top level before
and after calibration. Writes benchmarks/results/validator_track_m.json with provenance.
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from train_quickstart_validator import quickstart_model_config

from _live_data import (  # LEVELS, TRACK_X: read by validator_track_x and tests
    LEVELS,  # noqa: F401
    REFERENCES,
    TRACK_M,
    TRACK_X,  # noqa: F401
    LiveData,
    covered,
    folds_of,
    labelled,
    ladder_of,
    only_levels,
    per_frame,
    referenced,
    true_e_form,
    validation_for,
    validation_of,  # noqa: F401 - read by the tests
)
from _provenance import REPO, RESULTS, Recorder
from _validator_baselines import lsq_d_fold, lsq_fold
from qaware.datasets import dataset_file, elemental_references, read_dataset
from qaware.datasets.spec import level_key
from qaware.fidelity import FidelityLadder
from qaware.validator import ModelConfig, TrainConfig
from qaware.validator.calibration import calibrated_std, regression_ece
from qaware.validator.correction_shrinkage import shrink_corrections
from qaware.validator.cross_calibration import cross_calibrate
from qaware.validator.train import prepare_samples
from qaware.validator.uncertainty import calibrate_model, held_out_errors
from qaware.validator.workflow import train_on_frames


def fold_configs(species, ladder, args, residual=False) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings of every model of this benchmark."""
    config = TrainConfig(
        epochs=args.epochs, batch_size=8, learning_rate=5e-3, patience=25, seed=args.seed
    )
    mc = replace(
        quickstart_model_config(species, args.seed), levels=ladder.names, residual_levels=residual
    )
    return mc, config


def train_fold(frames, ladder, refs, species, test, validation, args, residual=False) -> Any:
    present = {a.info["family"] for a in frames}  # a level's frames may lack some families
    test = [f for f in test if f in present]
    validation = [f for f in validation if f in present]
    mc, config = fold_configs(species, ladder, args, residual)
    return train_on_frames(
        frames, ladder, refs, mc, config,
        group_key="family", test_groups=test, validation_groups=validation,
    )  # fmt: skip


def fold_predictions(trained, frames: list, ladder: FidelityLadder) -> dict[str, Any]:
    """Test-family e_form per level and the top level's signed errors with raw/calibrated σ."""
    test = [frames[i] for i in trained.split.test]
    pred = trained.validator.predict(test).e_form_per_atom
    model = trained.validator._require_model()
    errors = held_out_errors(model, prepare_samples(test, model.config))
    top = len(ladder) - 1
    e, s = errors.get(top, (np.zeros(0), np.zeros(0)))
    c, f = float(model.std_scale[top]), float(model.std_floor[top])
    return {"index": trained.split.test, "e_form": pred, "top_err": e, "top_std": s,
            "top_std_cal": calibrated_std(s, c, f)}  # fmt: skip


def score(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], low: str, top: str) -> dict:
    """MAE per level and R²(D) over structures labelled at both ends of the ladder."""
    mae = {  # levels a model predicts (the direct model skips the middle of the ladder)
        x: float(np.nanmean(np.abs(pred[x] - true[x])))
        for x in pred
        if x in true and np.isfinite(pred[x]).any()
    }
    both = np.isfinite(true[low]) & np.isfinite(true[top])
    d_true = (true[low] - true[top])[both]
    d_pred = (pred[low] - pred[top])[both] if top in pred else np.zeros_like(d_true)
    if len(d_true) < 2:  # a fold whose test families have no top-level label: no D to score
        return {"e_form_mae_eV_per_atom": mae, "D": {"n": len(d_true), "r2": None}}
    ss = float(np.sum((d_true - d_true.mean()) ** 2))
    return {
        "e_form_mae_eV_per_atom": mae,
        "D": {"n": int(both.sum()), "r2": 1 - float(np.sum((d_pred - d_true) ** 2)) / ss,
              "mae": float(np.mean(np.abs(d_pred - d_true))),
              "true_std": float(d_true.std())},
    }  # fmt: skip


def cross_family(
    trained, frames, ladder, species, args, pooled: dict, residual: bool = False, **kw
) -> Any:
    """Re-fit ``trained``'s σ factors by :func:`cross_calibrate` on its own training and
    validation families (never the test ones); append the test families' (error, calibrated
    σ) per level to ``pooled``; return what was fitted (``kw``: to cross_calibrate)."""
    model = trained.validator._require_model()
    outer = [frames[i] for i in sorted(trained.split.train + trained.split.validation)]
    mc, config = fold_configs(species, ladder, args, residual)
    fitted = cross_calibrate(trained.validator, outer, mc, config, folds=args.cross_folds,
                             group_key="family", always_train=[REFERENCES], **kw)  # fmt: skip
    test = [frames[i] for i in trained.split.test]
    for f, (e, s) in held_out_errors(model, prepare_samples(test, model.config)).items():
        errors, sigma = pooled.setdefault(ladder.names[f], ([], []))
        errors.append(e)
        sigma.append(calibrated_std(s, float(model.std_scale[f]), float(model.std_floor[f])))
    return fitted


def shrunk_fold(trained, frames, ladder, kept, pred: dict, calib: dict) -> dict[str, Any]:
    """``residual_shrunk``: the trained residual model with its Δ corrections shrunk and its σ
    recalibrated on the fold's validation families (:mod:`qaware.validator.
    correction_shrinkage`; no retraining, changes ``trained`` in place); test predictions into
    ``pred``/``calib``; returns the fitted factors."""
    model = trained.validator._require_model()
    validation = prepare_samples([frames[i] for i in trained.split.validation], model.config)
    fitted = shrink_corrections(model, validation)
    calibrate_model(model, validation)
    sp = fold_predictions(trained, frames, ladder)
    for x in ladder.names:
        pred["residual_shrunk"][x][kept[sp["index"]]] = sp["e_form"][x]
    for key, name in (("err", "top_err"), ("std", "top_std"), ("std_cal", "top_std_cal")):
        calib[f"residual_shrunk_{key}"].append(sp[name])
    return {k: vars(v) for k, v in fitted.items()}


def cross_validate(everything, ladder, refs, species, true, args, cross=False) -> dict[str, Any]:
    """Grouped K-fold over ``info["family"]``: every model per fold, scores pooled. ``cross``:
    also calibrate the full and residual models across families (:func:`cross_family`)."""
    low, top = ladder.names[0], ladder.names[-1]
    folds = folds_of(everything, args.folds, args.seed)

    n = len(everything)
    names = (
        ("full", "residual", "residual_shrunk", "low_only", "lsq", "lsq_D")
        + (("direct",) if len(ladder) > 2 else ())
        + (("residual_shrunk_cross",) if cross else ())
    )
    pred = {m: {x: np.full(n, np.nan) for x in ladder.names} for m in names}
    calib: dict[str, list] = {k: [] for k in ("err", "std", "std_cal")}
    calib.update({f"{m}_{k}": [] for m in ("residual", "residual_shrunk")
                  for k in ("err", "std", "std_cal")})  # fmt: skip
    shrink_log: list[dict] = []
    fold_log = []
    cross_log: list[dict] = []
    cross_errors: dict[str, tuple[list, list]] = {}
    cross_log_res: list[dict] = []
    cross_errors_res: dict[str, tuple[list, list]] = {}
    cross_errors_shrunk: dict[str, tuple[list, list]] = {}
    cross_log_shrunk: list[dict] = []
    for j, test in enumerate(folds):
        validation = validation_for(everything, folds, j, 12)
        kept = covered(everything, test + validation)
        frames = [everything[i] for i in kept]  # indices below are into frames; kept maps back
        full = train_fold(frames, ladder, refs, species, test, validation, args)
        fp = fold_predictions(full, frames, ladder)
        at = kept[fp["index"]]
        for x in ladder.names:
            pred["full"][x][at] = fp["e_form"][x]
        for key, name in (("err", "top_err"), ("std", "top_std"), ("std_cal", "top_std_cal")):
            calib[key].append(fp[name])
        if cross:
            cross_log.append(
                cross_family(full, frames, ladder, species, args, cross_errors).to_dict()
            )
        res = train_fold(frames, ladder, refs, species, test, validation, args, residual=True)
        rp = fold_predictions(res, frames, ladder)
        for x in ladder.names:
            pred["residual"][x][kept[rp["index"]]] = rp["e_form"][x]
        for key, name in (("err", "top_err"), ("std", "top_std"), ("std_cal", "top_std_cal")):
            calib[f"residual_{key}"].append(rp[name])
        if cross:  # and the same K fold models shrink a copy's Δ corrections (no training)
            shrunk = copy.deepcopy(res)
            fitted = cross_family(res, frames, ladder, species, args, cross_errors_res, True)
            cross_log_res.append(fitted.to_dict())
            cross_log_shrunk.append(
                cross_family(shrunk, frames, ladder, species, args, cross_errors_shrunk, True,
                             shrink=True, fold_models=fitted.models).to_dict()
            )  # fmt: skip
            sp = fold_predictions(shrunk, frames, ladder)
            for x in ladder.names:
                pred["residual_shrunk_cross"][x][kept[sp["index"]]] = sp["e_form"][x]
        shrink_log.append(shrunk_fold(res, frames, ladder, kept, pred, calib))
        low_frames = only_levels(frames, (low,), ladder.names)
        keep = [i for i, a in enumerate(frames) if f"energy_{level_key(low)}" in a.info]
        lo = train_fold(low_frames, FidelityLadder((ladder[0],)), refs, species, test, validation,
                        args)  # fmt: skip
        lo_pred = lo.validator.predict([low_frames[i] for i in lo.split.test]).e_form_per_atom
        index = kept[[keep[i] for i in lo.split.test]]
        for x in ladder.names:
            pred["low_only"][x][index] = lo_pred[low]  # the low level stands in for every level
        if "direct" in pred:  # bottom and top only: the same frames minus the middle labels
            ends = (low, top)
            two = FidelityLadder((ladder[0], ladder[-1]))
            ends_only = only_levels(frames, ends, ladder.names)
            dr = train_fold(ends_only, two, refs, species, test, validation, args)
            dp = dr.validator.predict([frames[i] for i in fp["index"]]).e_form_per_atom
            for x in ends:
                pred["direct"][x][at] = dp[x]
        held_out = np.flatnonzero([a.info["family"] in test for a in everything])
        for x, v in lsq_fold(everything, ladder, refs, at, held_out).items():
            pred["lsq"][x][at] = v
        for x, v in lsq_d_fold(everything, ladder, refs, at, held_out).items():
            pred["lsq_D"][x][at] = v
        fold_log.append({"test_families": test, "validation_families": validation,
                         "epochs_full": len(full.result.history),
                         "epochs_low_only": len(lo.result.history),
                         "rows_left_out_unseen_elements": n - len(kept)})  # fmt: skip
        fold_score = score({x: pred["full"][x][at] for x in ladder.names},
                           {x: true[x][at] for x in ladder.names}, low, top)  # fmt: skip
        print(f"fold {j}: {test} {fold_score}", flush=True)

    test_all = np.isfinite(pred["full"][low])
    models = {}
    for m, p in pred.items():
        models[m] = score({x: p[x][test_all] for x in p}, {x: true[x][test_all] for x in true},
                          low, top)  # fmt: skip
    for m, prefix in (("full", ""), ("residual", "residual_"),
                      ("residual_shrunk", "residual_shrunk_")):  # fmt: skip
        err, std, cal = (np.concatenate(calib[prefix + k]) for k in ("err", "std", "std_cal"))
        models[m]["ece_top_before_calibration"] = regression_ece(err, std)
        models[m]["ece_top_after_calibration"] = regression_ece(err, cal)
    for m, errors, log in (
        ("full", cross_errors, cross_log),
        ("residual", cross_errors_res, cross_log_res),
        ("residual_shrunk_cross", cross_errors_shrunk, cross_log_shrunk),
    ):
        if cross:
            models[m]["cross_family_calibration"] = {
                "ece_after": {x: regression_ece(np.concatenate(e), np.concatenate(s))
                              for x, (e, s) in errors.items()},
                "n": {x: int(sum(map(len, e))) for x, (e, _) in errors.items()},
                "folds": log,
            }  # fmt: skip
    for log, factors in zip(fold_log, shrink_log, strict=True):
        log["residual_shrunk"] = factors
    return {"models": models, "folds": fold_log,
            "n_families": sum(map(len, folds))}  # fmt: skip


def main(argv: list[str] | None = None, data: LiveData = TRACK_M) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--min-labels", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cross-folds",
        type=int,
        default=4,
        help="folds of the cross-family calibration of the full and residual models (0: off)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / f"validator_{data.name}.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    path = dataset_file(data.folder, data.name)
    rec = Recorder(f"validator_{data.name}", seeds={"split_and_train": args.seed},
                   data_files=[path])  # fmt: skip

    raw = read_dataset(path)
    frames = labelled(raw, data)
    refs = {  # the data set keys its levels by level_key; the validator by level name
        x: replace(elemental_references(raw, level_key(x), data.reference_tags), level=x)
        for x in data.levels
    }
    ladder = ladder_of(frames, args.min_labels, data.levels)
    frames = referenced(frames, {x: refs[x] for x in ladder.names})
    ladder = ladder_of(frames, args.min_labels, data.levels)  # recounted on what is left
    low, top = ladder.names[0], ladder.names[-1]
    refs = {x: refs[x] for x in ladder.names}
    frames = only_levels(frames, ladder.names, data.levels)
    species = tuple(sorted({s for a in frames for s in a.get_chemical_symbols()}))
    true = {x: true_e_form(frames, x, refs) for x in ladder.names}
    by_family = cross_validate(
        frames, ladder, refs, species, true, args, cross=args.cross_folds > 1
    )
    by_frame = cross_validate(per_frame(frames), ladder, refs, species, true, args)
    models = by_family["models"]
    counts = {x: int(sum(f"energy_{level_key(x)}" in a.info for a in frames)) for x in data.levels}
    results = {
        "data": {
            "file": str(path.relative_to(REPO)),
            "ok_labels_per_level": counts,
            "ladder": list(ladder.names),
            "note": "partial build: the ladder is the levels with enough labels; top = "
            f"{top}, not {data.levels[-1]}, until the build reaches it"
            if top != data.levels[-1] else "",
            "frames": len(frames),
            "split": f"grouped {args.folds}-fold over {by_family['n_families']} "
            + data.family_note,
        },
        "headline": {
            "low": low, "top": top,
            "r2_D_vs_true_low_error": models["full"]["D"]["r2"],
            "r2_D_composition_only": models["lsq"]["D"]["r2"],
            "r2_D_composition_linear_fit_on_D": models["lsq_D"]["D"]["r2"],
            "e_form_mae_meV_per_atom": {
                x: 1e3 * v for x, v in models["full"]["e_form_mae_eV_per_atom"].items()},
            "ece_top_before_calibration": models["full"]["ece_top_before_calibration"],
            "ece_top_after_calibration": models["full"]["ece_top_after_calibration"],
            "ece_top_after_cross_family_calibration": models["full"]
            .get("cross_family_calibration", {}).get("ece_after", {}).get(top),
            "residual": {  # the same with Δ-learning heads
                "r2_D_vs_true_low_error": models["residual"]["D"]["r2"],
                "e_form_mae_meV_per_atom": {
                    x: 1e3 * v for x, v in models["residual"]["e_form_mae_eV_per_atom"].items()},
                "ece_top_after_calibration": models["residual"]["ece_top_after_calibration"],
                "ece_top_after_cross_family_calibration": models["residual"]
                .get("cross_family_calibration", {}).get("ece_after", {}).get(top),
            },
            "residual_shrunk": {  # Δ corrections shrunk on validation / out-of-family data
                m: {"r2_D_vs_true_low_error": models[m]["D"]["r2"],
                    "e_form_mae_top_meV_per_atom": 1e3 * models[m]["e_form_mae_eV_per_atom"][top]}
                for m in ("residual_shrunk", "residual_shrunk_cross") if m in models
            },
            "targets": {"ece_top": 0.05, "r2_D": 0.7},
        },
        "models": models,
        "random_frame_split": {
            "note": "diagnostic, not the benchmark: frames dealt into folds at random, so "
            "geometries of a test molecule also train (interpolation along a bond scan)",
            "models": by_frame["models"],
        },
        "direct": "same as full: the ladder has two levels" if len(ladder) == 2 else "run",
        "folds": by_family["folds"],
        "settings": {"epochs": args.epochs, "folds": args.folds, "threads": 1,
                     "min_labels": args.min_labels},
    }  # fmt: skip
    print("wrote", rec.write(args.out, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
