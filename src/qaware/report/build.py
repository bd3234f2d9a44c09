"""``qaware report``: collect a run, draw its figures, write the HTML and the files beside it.

Layout of the output folder (``RUN_DIR/report`` by default)::

    report.html            self-contained (figures inline); opens from disk
    figures/<name>.png|pdf the same figures as files
    structures/<id>_<formula>.cif|extxyz   each discovery, linked from the table

The run directory itself is only read, so this is safe while a campaign runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from qaware.errors import RunDirectoryError

__all__ = ["DEFAULT_NAME", "write_campaign_report"]

DEFAULT_NAME = "report.html"


def write_campaign_report(
    run_dir: str | Path,
    output: str | Path | None = None,
    *,
    compare: Sequence[str | Path] = (),
    trap: bool = True,
) -> Path:
    """Write the report of ``run_dir`` and return the HTML file's path.

    output: the HTML file (its folder receives figures/ and structures/); default
    ``RUN_DIR/report/report.html``. compare: other run directories whose discovery curves and
    totals are shown beside this one (e.g. the same pool with another strategy).
    trap: measure the close-packed share per cycle (seconds per cycle).
    """
    from qaware.report.collect import collect_campaign
    from qaware.report.discoveries import discovery_rows
    from qaware.report.figures import campaign_figures
    from qaware.report.html import campaign_html

    run_dir = Path(run_dir)
    html_path = Path(output) if output is not None else run_dir / "report" / DEFAULT_NAME
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise RunDirectoryError(f"{html_path}: the report file must end in .html")
    out_dir = html_path.parent
    data = collect_campaign(run_dir, trap=trap)
    others = [collect_campaign(p, trap=False) for p in compare]
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = campaign_figures(data, out_dir / "figures", others)
    rows = discovery_rows(data.labelled, out_dir)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = campaign_html(data, figures, rows, generated_at=stamp, compare=others)
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(html_path)
    return html_path
