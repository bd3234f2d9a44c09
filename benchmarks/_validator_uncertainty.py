"""The σ measurements of benchmarks/validator.py: test ECE under both calibrations and the deep
ensemble's pooled σ (out of validator.py, so each file keeps to one concept)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _test_ece_by_calibration(trained, frames) -> dict[str, dict[str, Any]]:
    """Test ECE per level under both calibrations, each fitted on the same validation family:
    ``one_factor`` (the default) and ``factor_and_floor`` (``fit_std_affine``); and, to read
    them, per family the energy MAE and the correlation of |error| with the raw σ (how well σ
    ranks the errors; calibration only rescales it)."""
    from qaware.validator.calibration import (
        calibrated_std,
        fit_std_affine,
        fit_std_scale,
        regression_ece,
    )
    from qaware.validator.train import prepare_samples
    from qaware.validator.uncertainty import held_out_errors

    model = trained.validator._require_model()
    names = model.config.levels

    def errors(indices):
        return held_out_errors(model, prepare_samples([frames[i] for i in indices], model.config))

    val, test = errors(trained.split.validation), errors(trained.split.test)
    out: dict[str, dict[str, Any]] = {"one_factor": {}, "factor_and_floor": {}, "families": {}}
    for f, (e, s) in test.items():
        if f in val:
            c = fit_std_scale(*val[f])
            out["one_factor"][names[f]] = regression_ece(e, c * s)
            c, floor = fit_std_affine(*val[f])
            out["factor_and_floor"][names[f]] = regression_ece(e, calibrated_std(s, c, floor))
            out["families"][names[f]] = {
                family: {
                    "energy_mae": float(np.mean(np.abs(err))),
                    "corr_abs_error_sigma": float(np.corrcoef(np.abs(err), sig)[0, 1]),
                }
                for family, (err, sig) in (("validation", val[f]), ("test", (e, s)))
            }
    return out


def pooled(member_errors: np.ndarray, member_sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ensemble error, σ) from K members' mean-head errors and head stds, both (K, n): the
    error of the mean, and the std over all K·H heads (mean within-member variance plus the
    variance of the member means)."""
    variance = (member_sigma**2).mean(axis=0) + member_errors.var(axis=0)
    return member_errors.mean(axis=0), np.sqrt(variance)


def deep_ensemble(members: list, frames: list) -> dict[str, Any]:
    """Test MAE and ECE of the mean of ``members`` (trained validators on the same split), σ =
    std over all heads of all members, one factor per level fitted on the validation family;
    with, per family, how well σ ranks |error| and the median σ."""
    from qaware.validator.calibration import fit_std_scale, regression_ece
    from qaware.validator.train import prepare_samples
    from qaware.validator.uncertainty import held_out_errors

    split = members[0].split
    parts: dict[str, list] = {"validation": [], "test": []}
    for trained in members:
        model = trained.validator._require_model()
        for part, indices in (("validation", split.validation), ("test", split.test)):
            samples = prepare_samples([frames[i] for i in indices], model.config)
            errors = held_out_errors(model, samples)
            parts[part].append(errors)
    names = members[0].validator.ladder.names
    out: dict[str, Any] = {"members": len(members), "test": {}, "families": {}}
    for f, level in enumerate(names):
        stats = {
            part: pooled(
                np.array([m[f][0] for m in per_member]), np.array([m[f][1] for m in per_member])
            )
            for part, per_member in parts.items()
        }
        scale = fit_std_scale(*stats["validation"])
        e, s = stats["test"]
        out["test"][level] = {
            "energy_mae": float(np.mean(np.abs(e))),
            "ece_uncalibrated": regression_ece(e, s),
            "ece": regression_ece(e, scale * s),
            "scale": scale,
        }
        out["families"][level] = {
            part: {
                "energy_mae": float(np.mean(np.abs(err))),
                "corr_abs_error_sigma": float(np.corrcoef(np.abs(err), sig)[0, 1]),
                "median_sigma": float(np.median(sig)),
            }
            for part, (err, sig) in stats.items()
        }
    return out


def cross_family_test_ece(trained, frames, model_config, train_config, folds) -> dict[str, Any]:
    """Test ECE per level of a copy of ``trained``'s model whose σ factors are refitted by
    :func:`~qaware.validator.cross_calibration.cross_calibrate` on its training and validation
    families (``folds`` models, each without some of them); the test family stays unseen."""
    import copy

    from qaware.validator.calibration import calibrated_std, regression_ece
    from qaware.validator.cross_calibration import cross_calibrate
    from qaware.validator.train import prepare_samples
    from qaware.validator.uncertainty import held_out_errors

    validator = copy.deepcopy(trained.validator)
    split = trained.split
    outer = [frames[i] for i in sorted(split.train + split.validation)]
    fitted = cross_calibrate(
        validator, outer, model_config, train_config, folds=folds, group_key="tag"
    )
    model = validator._require_model()
    test = prepare_samples([frames[i] for i in split.test], model.config)
    names = model.config.levels
    ece = {
        names[f]: regression_ece(e, calibrated_std(s, float(model.std_scale[f])))
        for f, (e, s) in held_out_errors(model, test).items()
    }
    return {"test_ece": ece, "calibration": fitted.to_dict()}
