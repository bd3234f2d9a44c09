"""``qaware run`` and ``qaware resume``: the active-learning campaign from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaware.cli import _log_to_run_dir, _print_status, app, log
from qaware.errors import ConfigError

_QUICKSTART = "quickstart.yaml"


def _quickstart_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("qaware.data").joinpath(_QUICKSTART)))


@app.command("run")
def run(
    config: Annotated[Path | None, typer.Argument(help="Run config (YAML).")] = None,
    example: Annotated[
        bool,
        typer.Option(
            help="Run the bundled quick start: 3d-metal oxide perovskites, pretrained "
            "GGA+U -> r2SCAN stand-in ladder, shipped models (minutes on a laptop CPU)."
        ),
    ] = False,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (overrides the config's run.directory).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Start even if the validator fails the calibration gate.")
    ] = False,
) -> None:
    """Run a discovery campaign: generate, score, select, label, retrain, until it stops.

    Rerunning the same command continues an interrupted run. Example: qaware run --example
    """
    from qaware.campaign import run_campaign
    from qaware.config_io import load_config

    if (config is None) == (not example):
        raise ConfigError("give a config file or --example (not both)")
    path = _quickstart_path() if example else config
    assert path is not None
    cfg = load_config(path)
    if run_dir is not None:
        cfg.run.directory = run_dir
    elif example:
        cfg.run.directory = Path("qaware-runs") / "quickstart"
    result = run_campaign(cfg, base_dir=path.parent.resolve(), force=force)
    _log_to_run_dir(result.run_dir)
    _finish(result)


@app.command("resume")
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to continue.")],
    config: Annotated[
        Path | None, typer.Option(help="A changed config (refused unless --allow-config-change).")
    ] = None,
    allow_config_change: Annotated[
        bool, typer.Option(help="Accept a config that differs from the recorded one.")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Start even if the validator fails the calibration gate.")
    ] = False,
) -> None:
    """Continue a campaign after an interruption: finished oracle calls are never repeated.

    Example: qaware resume qaware-runs/quickstart
    """
    from qaware.campaign import resume_campaign
    from qaware.config_io import load_config

    _log_to_run_dir(run_dir)
    cfg = load_config(config) if config else None
    base = config.parent.resolve() if config else None
    result = resume_campaign(
        run_dir, config=cfg, allow_config_change=allow_config_change, force=force, base_dir=base
    )
    _finish(result)


def _finish(result: object) -> None:
    from qaware.campaign import CampaignResult
    from qaware.report.campaign_summary import summary_table

    assert isinstance(result, CampaignResult)
    typer.echo(summary_table(result))
    _print_status(result.run_dir)
    try:
        from qaware.report import write_campaign_report

        report = write_campaign_report(result.run_dir)
    except Exception as exc:  # the campaign's results are safe; a report problem must not hide them
        log.warning("could not write the report (%s: %s); run: qaware report %s",
                    type(exc).__name__, exc, result.run_dir)  # fmt: skip
        return
    typer.echo(f"report: {report}")
