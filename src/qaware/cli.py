"""The ``qaware`` command: a thin layer over the API.

Exit codes: 0 done, 2 bad input or configuration, 3 interrupted but resumable.
Errors print one clear message; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from qaware.errors import (
    CalibrationError,
    ConfigError,
    InvalidStructureError,
    QawareError,
    RunDirectoryError,
)

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 3

# typer >= 0.29 vendors click; take its usage-error base class from typer itself either way
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)

app = typer.Typer(
    name="qaware",
    help="Quantum-aware materials discovery: find stable materials where PBE is likely wrong.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_state = {"debug": False}
log = logging.getLogger("qaware")


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and debug logging.")
    ] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("qaware.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config template with every option and its default.

    Example: qaware init my_run.yaml
    """
    from qaware.config_io import config_template

    if path.exists() and not force:
        raise ConfigError(f"{path}: exists already (use --force to overwrite)")
    path.write_text(config_template(), encoding="utf-8")
    typer.echo(f"wrote {path}; edit it, then: qaware run {path}")


@app.command()
def ingest(
    structures: Annotated[
        list[Path] | None, typer.Argument(help="CIF, extxyz or CDVAE-format CSV files.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Run config (YAML); defaults otherwise.")
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (overrides the config).")
    ] = None,
    example: Annotated[
        bool, typer.Option(help="Ingest the bundled 240 perov-5 3d-metal oxide perovskites.")
    ] = False,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip bad rows (and list them) instead of stopping at the first.")
    ] = False,
) -> None:
    """Read, check, hash and store structures in a run directory; print a summary.

    Example: qaware ingest --example --run-dir runs/example
    """
    from qaware.config import QawareConfig
    from qaware.config_io import load_config
    from qaware.ingest import bundled_example_path, ingest_structures

    cfg = load_config(config) if config else QawareConfig()
    if run_dir is not None:
        cfg.run.directory = run_dir
    paths = list(structures or [])
    if example:
        paths.append(bundled_example_path())
    if not paths:
        raise ConfigError("nothing to ingest: give structure files or --example")
    summary = ingest_structures(paths, cfg, on_error="skip" if skip_bad else "raise")
    _log_to_run_dir(Path(cfg.run.directory))
    log.info("ingested %d new structures from %s", summary.n_new, ", ".join(summary.sources))
    typer.echo(
        f"read {summary.n_read} structures from {len(summary.sources)} file(s) in "
        f"{summary.elapsed_s:.1f} s: {summary.n_new} new, {summary.n_duplicates} already stored, "
        f"{summary.n_skipped} skipped"
    )
    for problem in summary.skipped[:20]:
        typer.echo(f"  skipped: {problem}")
    if summary.n_skipped > 20:
        typer.echo(f"  ... and {summary.n_skipped - 20} more (see events.jsonl)")
    _print_status(cfg.run.directory)


@app.command()
def status(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    watch: Annotated[
        bool, typer.Option(help="Redraw every --interval seconds until the campaign stops.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between redraws (--watch).")] = 5.0,
) -> None:
    """Table of cycles: candidates by state, oracle calls, hits, pending work, and the
    campaign's progress with an ETA. For a data-set build's run directory: its stage, calls
    computed of those to compute, pace and ETA, results per level. Read-only: safe while a
    campaign or build runs.

    Example: qaware status runs/quickstart --watch
    """
    import time

    from qaware.report.build_status import build_progress
    from qaware.report.status import campaign_progress

    while True:
        build = build_progress(run_dir) if (run_dir / "events.jsonl").exists() else None
        if build is not None:  # no campaign to stop: --watch runs until Ctrl-C
            typer.echo(("\033[2J\033[H" if watch and sys.stdout.isatty() else "") + build)
            if not watch:
                return
            time.sleep(max(0.5, interval))
            continue
        text = _status_text(run_dir) + "\n" + campaign_progress(run_dir)
        if watch and sys.stdout.isatty():
            typer.echo("\033[2J\033[H" + text)  # clear the screen, cursor home
        else:
            typer.echo(text)
        if not watch or "stopped:" in campaign_progress(run_dir):
            return
        time.sleep(max(0.5, interval))


def _status_text(run_dir: Path) -> str:
    from qaware.report.status import status_table

    return status_table(run_dir)


def _log_to_run_dir(run_dir: Path, *, run_directory: bool = True) -> None:
    """Also log to ``RUN_DIR/qaware.log`` (appending; one handler per directory).

    run_directory: ``run_dir`` must be a run directory this qaware can read; a missing one, one
    without ``qaware_run.json`` or one from a newer qaware is refused (RunDirectoryError, exit 2)
    before anything is written to it. ``False`` for other output folders (``build-dataset``).
    """
    if run_directory:
        from qaware.store import RunDirectory

        RunDirectory.open(run_dir)  # raises before the log file is created
    target = str((run_dir / "qaware.log").resolve())
    if any(getattr(h, "baseFilename", None) == target for h in log.handlers):
        return
    handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)


def _print_status(run_dir: Path) -> None:
    from qaware.report.status import status_table

    typer.echo(status_table(run_dir))


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="extxyz, cif or csv (CDVAE format).")
    ] = "extxyz",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only candidates in this state (e.g. done).")
    ] = None,
) -> None:
    """Write the run's candidates (with their labels) to extxyz, CIF or CSV.

    Example: qaware export runs/example --format cif -o candidates.cif
    """
    from qaware.export import export_candidates

    if format not in ("extxyz", "cif", "csv"):
        raise ConfigError(f"--format: {format!r} is not one of extxyz, cif, csv")
    out = output or run_dir / f"candidates.{format}"
    n = export_candidates(run_dir, out, fmt=format, status=state)  # type: ignore[arg-type]
    typer.echo(f"wrote {n} structures to {out}")


@app.command("build-dataset")
def build_dataset(
    spec: Annotated[Path, typer.Argument(help="Data set spec (YAML).")],
    workers: Annotated[
        int | None, typer.Option(help="Oracle calls at once (overrides execution.max_workers).")
    ] = None,
    export_only: Annotated[
        bool, typer.Option(help="Compute nothing; export what is stored (the rest as pending).")
    ] = False,
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            help="Run directory (a campaign, another build) whose finished calls with the same "
            "structure and oracle settings are copied instead of computed. Repeatable."
        ),
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option(
            help="One more attempt for every failed pair whose retries are spent (a timeout "
            "on a loaded machine); gated pairs keep their verdict."
        ),
    ] = False,
) -> None:
    """Label every structure of a data set with every oracle, then export extxyz + README.

    Resumable: results are stored as they arrive; rerun the same command after a crash or
    Ctrl-C and only what is missing is computed.

    Example: qaware build-dataset data/track_m/spec.yaml --workers 2
    """
    from qaware.datasets import build_dataset as build
    from qaware.datasets import load_dataset_spec

    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {workers}")
    dataset = load_dataset_spec(spec)
    output = (spec.resolve().parent / dataset.output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    _log_to_run_dir(output, run_directory=False)
    command = f"qaware build-dataset {spec}"
    try:
        summary = build(
            dataset,
            spec_path=spec,
            workers=workers,
            export_only=export_only,
            command=command,
            reuse=reuse or (),
            retry_failed=retry_failed,
        )
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished calls are stored; `{command}` continues", err=True)
        raise typer.Abort() from None  # typer >= 0.29 turns KeyboardInterrupt into exit 130 -> 0
    typer.echo(f"{summary.name}: {summary.n_structures} structures in {summary.elapsed_s:.1f} s")
    for level, counts in summary.counts.items():
        typer.echo(
            f"  {level}: {counts['ok']} ok, {counts['failed']} failed, {counts['gated']} gated, "
            f"{counts['pending']} pending ({counts['computed']} computed now, "
            f"{counts['cached']} from the store)"
        )
    for path in summary.files:
        typer.echo(f"wrote {path}")


# sub-commands that live in their own modules register themselves on ``app`` when imported
from qaware.commands import campaign as _campaign  # noqa: E402,F401
from qaware.commands import generator as _generator  # noqa: E402,F401
from qaware.commands import report as _report_commands  # noqa: E402,F401
from qaware.commands import validator as _validator  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code."""
    try:
        returned = app(args=argv, standalone_mode=False)
    except typer.Abort:
        typer.echo(_INTERRUPTED, err=True)
        return EXIT_INTERRUPTED
    except _USAGE_ERROR as exc:
        exc.show()  # type: ignore[attr-defined]
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        typer.echo(_INTERRUPTED, err=True)
        return EXIT_INTERRUPTED
    except (CalibrationError, ConfigError, InvalidStructureError, RunDirectoryError) as exc:
        _report(exc)
        return EXIT_BAD_INPUT
    except QawareError as exc:
        _report(exc)
        return 1
    if returned == 130:  # typer >= 0.29 turns Ctrl-C into a returned 130 (128 + SIGINT)
        typer.echo(_INTERRUPTED, err=True)
        return EXIT_INTERRUPTED
    return EXIT_OK


_INTERRUPTED = "interrupted: everything finished so far is saved; rerun the same command to go on"


def _report(exc: BaseException) -> None:
    if _state["debug"]:
        import traceback

        traceback.print_exception(exc)
    typer.echo(f"error: {exc}", err=True)


if __name__ == "__main__":
    sys.exit(main())
