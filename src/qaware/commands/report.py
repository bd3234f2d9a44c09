"""``qaware report``: the campaign report (registered on import by :mod:`qaware.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaware.cli import app
from qaware.errors import ConfigError


@app.command("report")
def report(
    run_dir: Annotated[
        Path | None, typer.Argument(help="A run directory (finished or still running).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="HTML file to write (default RUN_DIR/report/report.html)."
        ),
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option(help="Another run directory to compare with (repeat the option)."),
    ] = None,
    benchmarks: Annotated[
        Path | None,
        typer.Option(help="Render the benchmark JSON files of this folder instead of a run."),
    ] = None,
    no_trap: Annotated[
        bool,
        typer.Option("--no-trap", help="Skip the close-packed share (saves seconds per cycle)."),
    ] = False,
) -> None:
    """Write the HTML report of a campaign (figures inline, opens from disk) and its figures
    as PNG/PDF; read-only on the run, so it works while the campaign is running.

    \b
    Examples:
      qaware report qaware-runs/quickstart
      qaware report runs/full -o full.html --compare runs/random --compare runs/dft_only
      qaware report --benchmarks benchmarks/results -o benchmarks.html
    """
    if benchmarks is not None:
        from qaware.report.benchmarks import write_benchmark_report

        if run_dir is not None:
            raise ConfigError("give a run directory or --benchmarks DIR, not both")
        path = write_benchmark_report(benchmarks, output or benchmarks / "report.html")
        typer.echo(f"wrote {path}")
        return
    if run_dir is None:
        raise ConfigError("give a run directory (or --benchmarks DIR)")
    from qaware.report.build import write_campaign_report

    path = write_campaign_report(run_dir, output, compare=compare or (), trap=not no_trap)
    typer.echo(f"wrote {path} (figures as PNG/PDF in {path.parent / 'figures'})")
