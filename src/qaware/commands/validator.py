"""``qaware`` sub-commands for the validator (registered on import by :mod:`qaware.cli`).

* ``qaware train-validator CONFIG``: train an MF-ENNP on labelled extxyz files with a held-out
  family split, calibrate its σ, write a checkpoint (:mod:`qaware.validator.run_config`).
* ``qaware score STRUCTURES... --model M``: a table of per-level energies and formation
  energies per atom, σ, and the divergence D between the lowest and the top level.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from qaware.cli import app
from qaware.errors import ConfigError

__all__ = ["D_REL_FLOOR", "score_rows", "score_structures", "train_validator"]

D_REL_FLOOR = 0.05
"""eV/atom: D_rel = D_abs / (|e_form(top)| + 0.05) (DESIGN.md §3)."""


@app.command("train-validator")
def train_validator(
    config: Annotated[Path, typer.Argument(help="train-validator YAML (data, ladder, model).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Checkpoint (overrides the config).")
    ] = None,
) -> None:
    """Train a multi-fidelity validator, calibrate its σ on held-out families, save it.

    Prints one line per epoch (loss, validation MAE per level); the best model so far is kept
    in OUTPUT.partial.pt while training. Ends with the held-out (test-family) metrics.

    Example: qaware train-validator examples/train_validator_gpaw.yaml -o model.pt
    """
    import torch

    from qaware.validator.data_references import frames_with_references, references_from_frames
    from qaware.validator.run_config import load_train_validator_config
    from qaware.validator.workflow import load_references, read_frames, train_on_frames

    torch.set_num_threads(max(1, torch.get_num_threads()))
    settings = load_train_validator_config(config)
    out = output if output is not None else settings.output
    ladder = settings.fidelity_ladder()
    frames = read_frames(settings.data)
    typer.echo(f"{len(frames)} frames from {len(settings.data)} file(s); ladder {ladder.names}")
    if isinstance(settings.references, Path):
        references = load_references(settings.references, ladder.names)
    else:
        references = references_from_frames(frames, ladder.names, settings.references.from_tags)
    kept, unreferenced = frames_with_references(frames, references)
    if unreferenced:
        lacking = ", ".join(f"{el} (no {'/'.join(lv)})" for el, lv in unreferenced.items())
        typer.echo(
            f"left out {len(frames) - len(kept)} frames with elements that lack a reference "
            f"(a validator predicts formation energies at every level): {lacking}",
            err=True,
        )
    if not kept:
        raise ConfigError("train-validator: no frame has references for all its elements")
    frames = kept
    species = settings.model.species or sorted({s for a in frames for s in a.symbols})
    model_config = settings.model.to_model_config(ladder.names, tuple(species))
    train_config = settings.train.to_train_config(settings.split.validation_fraction)

    def progress(entry: Any) -> None:
        maes = " ".join(f"{k}={v * 1000:.1f}" for k, v in entry.energy_mae.items())
        typer.echo(
            f"epoch {entry.epoch:4d} train {entry.train_loss:.4g} val {entry.val_loss:.4g} "
            f"E-MAE meV/atom {maes} ({entry.seconds:.1f} s)"
        )

    partial = out.with_name(out.stem + ".partial.pt")
    shrink = settings.calibration.shrink_corrections  # fitted where σ is: same held-out data
    trained = train_on_frames(
        frames,
        ladder,
        references,
        model_config,
        train_config,
        group_key=settings.split.group_key,
        test_groups=settings.split.test_groups,
        validation_fraction=settings.split.validation_fraction,
        validation_groups=settings.split.validation_groups,
        log=progress,
        partial_checkpoint=partial,
        shrink_corrections=shrink and settings.calibration.method == "validation",
    )
    if settings.calibration.method == "cross_family":
        _cross_calibrate(trained, frames, model_config, train_config, settings)
    sha = trained.validator.save(out)
    for suffix in ("", ".sha256"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    split = trained.split
    typer.echo(
        f"trained on {len(split.train)}, validated on {len(split.validation)}, "
        f"tested on {len(split.test)} structures in {trained.train_seconds:.0f} s "
        f"(best epoch {trained.result.best_epoch})"
    )
    for level, shrunk in trained.validator.shrinkage.items():
        typer.echo(
            f"Δ correction {level}: × {shrunk.factor:.3g}, validation MAE meV/atom "
            f"{shrunk.mae_trained * 1000:.1f} (as trained) {shrunk.mae_offsets_only * 1000:.1f} "
            f"(offsets only) -> {shrunk.mae_shrunk * 1000:.1f}"
        )
    for level, cal in trained.calibration.items():
        typer.echo(
            f"calibration {level}: σ × {cal['scale']:.3g}, validation ECE "
            f"{cal['ece_before']:.3f} -> {cal['ece_after']:.3f}"
        )
    if trained.test is not None:
        typer.echo("test families: " + json.dumps(_summary(trained.test.to_dict())))
    typer.echo(f"wrote {out} (sha256 {sha})")


def _cross_calibrate(
    trained: Any, frames: Sequence[Any], model_config: Any, train_config: Any, settings: Any
) -> None:
    """Replace the validation-family σ factors by cross-family ones (train + validation
    families only) and print them."""
    from qaware.validator.cross_calibration import cross_calibrate

    def progress(j: int, k: int, fold: list[str]) -> None:
        typer.echo(f"cross-family calibration: model {j + 1}/{k} without {fold}")

    split = trained.split
    fitted = cross_calibrate(
        trained.validator,
        [frames[i] for i in sorted(split.train + split.validation)],
        model_config,
        train_config,
        folds=settings.calibration.folds,
        group_key=settings.split.group_key,
        always_train=settings.calibration.always_train,
        validation_fraction=settings.split.validation_fraction,
        progress=progress,
        shrink=settings.calibration.shrink_corrections,
    )
    trained.calibration = {k: vars(v) for k, v in trained.validator.calibration.items()}
    for level, scale in fitted.scales.items():
        shared = " (all levels' factor: too few labels)" if level in fitted.pooled else ""
        typer.echo(
            f"calibration {level}: σ × {scale:.3g} from {fitted.n[level]} out-of-family "
            f"errors{shared}, ECE {fitted.ece_before[level]:.3f} -> {fitted.ece_after[level]:.3f}"
        )
    if trained.test is not None:  # the test metrics were measured with the old factors
        from qaware.validator.train import prepare_samples
        from qaware.validator.workflow import held_out_report

        test = [frames[i] for i in split.test]
        model = trained.validator._require_model()
        trained.test = held_out_report(trained.validator, test, prepare_samples(test, model.config))


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "energy_mae", "force_mae", "ece", "ece_uncalibrated", "divergence")
    return {k: report[k] for k in keep if k in report}


def score_rows(prediction: Any, levels: Sequence[str]) -> list[dict[str, float]]:
    """Per-structure numbers of a :class:`qaware.protocols.Prediction` (eV/atom).

    Columns per level L: ``energy_per_atom[L]``, ``e_form_per_atom[L]``, ``sigma[L]``; then
    ``D_signed`` = e_form(low) − e_form(top) (positive: the top level finds x more stable),
    ``D_abs`` = |D_signed|, ``D_rel`` = D_abs / (|e_form(top)| + 0.05), ``sigma_top``,
    ``domain_distance`` (:mod:`qaware.validator.domain`; > 1: outside the training data,
    NaN for a checkpoint without a domain).
    """
    low, top = levels[0], levels[-1]
    rows = []
    for i in range(len(prediction)):
        row: dict[str, float] = {}
        for level in levels:
            row[f"energy_per_atom[{level}]"] = float(prediction.energy_per_atom[level][i])
            row[f"e_form_per_atom[{level}]"] = float(prediction.e_form_per_atom[level][i])
            row[f"sigma[{level}]"] = float(prediction.e_form_std_per_atom[level][i])
        d = row[f"e_form_per_atom[{low}]"] - row[f"e_form_per_atom[{top}]"]
        row["D_signed"] = d
        row["D_abs"] = abs(d)
        row["D_rel"] = abs(d) / (abs(row[f"e_form_per_atom[{top}]"]) + D_REL_FLOOR)
        row["sigma_top"] = row[f"sigma[{top}]"]
        distance = getattr(prediction, "domain_distance", None)
        row["domain_distance"] = float(distance[i]) if distance is not None else float("nan")
        rows.append(row)
    return rows


def score_structures(
    structures: Sequence[Any], model_path: Path, device: str = "cpu"
) -> list[dict[str, Any]]:
    """Load the validator at ``model_path`` onto ``device`` and score ``structures`` (ase.Atoms)."""
    from qaware.structures import structure_hash
    from qaware.validator import MFValidator

    validator = MFValidator.load(model_path, device=device, progress=len(structures) > 1000)
    prediction = validator.predict(list(structures))
    numbers = score_rows(prediction, validator.ladder.names)
    rows = []
    for atoms, values in zip(structures, numbers, strict=True):
        ident = {
            "source": atoms.info.get("source", ""),
            "index": atoms.info.get("index", ""),
            "formula": atoms.get_chemical_formula(),
            "n_atoms": len(atoms),
            "structure_hash": structure_hash(atoms),
        }
        rows.append({**ident, **values})
    return rows


@app.command("score")
def score(
    structures: Annotated[
        list[Path], typer.Argument(help="CIF, extxyz or CDVAE-format CSV files.")
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="Validator checkpoint (.pt).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV table (default: stdout).")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="cpu, cuda, cuda:N or auto (a GPU if there is one).")
    ] = "cpu",
) -> None:
    """Score structures with a trained validator: per-level energies and formation energies
    per atom (eV/atom), σ per level, D = e_form(low) − e_form(top) (signed, abs, rel), and the
    distance to the training data (> 1: outside it; a warning names how many).

    Example: qaware score candidates.extxyz --model validator.pt -o scores.csv
    """
    from qaware.structures import read_structures

    if not model.is_file():
        raise ConfigError(f"--model: {model} not found")
    atoms = [a for path in structures for a in read_structures(path).atoms]
    rows = score_structures(atoms, model, device)
    if not rows:
        raise ConfigError("no structures to score")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    outside = [r for r in rows if r["domain_distance"] > 1.0]
    if outside:
        worst = max(outside, key=lambda r: r["domain_distance"])
        typer.echo(
            f"warning: {len(outside)} of {len(rows)} structures lie outside the validator's "
            f"training data (domain_distance > 1; farthest: {worst['formula']} at "
            f"{worst['domain_distance']:.1f}): their energies and σ are extrapolations",
            err=True,
        )
    if output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(buffer.getvalue(), encoding="utf-8")
        typer.echo(f"wrote {len(rows)} rows to {output}", err=True)
