"""``qaware report --benchmarks DIR``: the benchmark result files as one HTML page.

Every ``*.json`` of DIR (as the scripts in ``benchmarks/`` write them: ``benchmark``,
``results``, ``provenance``) becomes a section: its provenance (command, commit, machine, data
files with sha256, wall time), then its results rendered by shape — scalars as a table, lists
of flat records as sortable tables, and every ``strategies`` block (strategy → metric →
mean/std) as a sortable table plus a bar figure, so strategies sit side by side per track.
Unknown shapes still render (nested, collapsible); nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qaware.errors import ConfigError
from qaware.report._html import Cell, data_table, esc, figure_html, kv_table, num, page
from qaware.report._style import RenderedFigure, render_figure
from qaware.report.fig_benchmarks import strategy_bars

__all__ = ["benchmark_html", "write_benchmark_report"]

MAX_ROWS = 300
"""Rows shown of one list of records (the JSON file has them all)."""
_PREFERRED = ("hits_per_call", "discoveries_per_call", "daf", "hits")
"""Metric drawn for a strategies block: the first of these it has."""


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _fmt(v: Any) -> Cell:
    if isinstance(v, bool) or v is None:
        return Cell(esc(v), str(v))
    if isinstance(v, int):
        return num(float(v), "{:.0f}")
    if isinstance(v, float):
        return num(v, "{:.4g}")
    if isinstance(v, Mapping) and set(v) >= {"mean", "std"} and _scalar(v["mean"]):
        mean, std = v["mean"], v["std"]
        if mean is None:
            return Cell("–", None)
        if isinstance(mean, int | float) and isinstance(std, int | float):
            return Cell(esc(f"{mean:.3g} ± {std:.2g}"), float(mean))
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return Cell(esc(text if len(text) <= 160 else text[:157] + "..."), text[:40])


def _is_strategies(v: Any) -> bool:
    """strategy -> metric -> {mean, std}: every value a mapping with some ``mean`` metric."""

    def has_mean(m: Any) -> bool:
        return isinstance(m, Mapping) and any(isinstance(x, Mapping) and "mean" in x
                                              for x in m.values())  # fmt: skip

    return isinstance(v, Mapping) and bool(v) and all(has_mean(m) for m in v.values())


def _strategies(key: str, block: Mapping[str, Any], where: str, figs: list[RenderedFigure],
                out_dir: Path | None) -> str:  # fmt: skip
    metrics = list(dict.fromkeys(k for m in block.values() for k in m))
    rows = [
        [Cell(esc(name), name), *[_fmt(m.get(k)) for k in metrics]] for name, m in block.items()
    ]
    html = data_table(f"t-{len(figs)}-{where}", ["strategy", *metrics], rows)
    metric = next((k for k in _PREFERRED if k in metrics), None)
    if metric is not None:

        def stat(m: Mapping[str, Any], s: str) -> float:
            v = m.get(metric)
            return float(v[s]) if isinstance(v, Mapping) and v.get(s) is not None else math.nan

        names = list(block)
        fig = strategy_bars(names, [stat(block[n], "mean") for n in names],
                            [stat(block[n], "std") for n in names], metric=metric,
                            title=where)  # fmt: skip
        safe = "".join(c if c.isalnum() else "_" for c in where)[:80]
        rendered = render_figure(fig, f"strategies_{len(figs)}_{safe}", title=where,
                                 caption=f"{metric} per strategy, mean ± std over seeds.",
                                 out_dir=out_dir)  # fmt: skip
        figs.append(rendered)
        html = figure_html(rendered) + html
    return html


def _render(key: str, value: Any, where: str, depth: int, figs: list[RenderedFigure],
            out_dir: Path | None) -> str:  # fmt: skip
    """HTML of one JSON value, by shape (see the module docstring)."""
    if _scalar(value):
        return kv_table([(key, _fmt(value).html)])
    if _is_strategies(value):
        return f"<h4>{esc(where)}</h4>" + _strategies(key, value, where, figs, out_dir)
    if isinstance(value, list):
        if value and all(isinstance(r, Mapping) for r in value):
            cols = list(dict.fromkeys(k for r in value for k in r))
            rows = [[_fmt(r.get(c)) for c in cols] for r in value[:MAX_ROWS]]
            more = f" (first {MAX_ROWS} of {len(value)})" if len(value) > MAX_ROWS else ""
            body = data_table(f"t-{len(figs)}-{where}-{depth}", cols, rows)
            return (
                f"<details><summary>{esc(key)}: {len(value)} rows{more}</summary>{body}</details>"
            )
        return kv_table([(key, _fmt(value).html)])
    scalars = [(k, _fmt(v).html) for k, v in value.items() if _scalar(v)]
    parts = [kv_table(scalars)] if scalars else []
    for k, v in value.items():
        if not _scalar(v):
            parts.append(_render(str(k), v, f"{where}: {k}" if where else str(k), depth + 1, figs,
                                 out_dir))  # fmt: skip
    inner = "".join(parts)
    if depth == 0:
        return inner
    opened = " open" if depth <= 2 or _is_strategies(value) else ""
    return f"<details{opened}><summary>{esc(key)}</summary>{inner}</details>"


def _provenance(p: Mapping[str, Any]) -> str:
    git, machine = p.get("git") or {}, p.get("machine") or {}
    pairs = [
        ("command", f"<code>{esc(p.get('command', '?'))}</code>"),
        ("git commit", esc(f"{str(git.get('commit', '?'))[:12]}"
                           f"{' (uncommitted changes)' if git.get('dirty') else ''}")),
        ("machine", esc(f"{machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
                        f"GPU: {machine.get('gpu', '?')}")),
        ("wall time", esc(f"{p.get('wall_time_s', '?')} s")),
        ("finished", esc(p.get("finished_utc", "?"))),
    ]  # fmt: skip
    files = [[Cell(esc(f.get("path", "?")), f.get("path")),
              Cell(f"<code>{esc(f.get('sha256'))}</code>")]
             for f in p.get("data_files") or []]  # fmt: skip
    out = kv_table(pairs)
    if files:
        out += data_table("files", ["data file", "sha256"], files)
    return out


def benchmark_html(results: Mapping[str, Mapping[str, Any]], out_dir: Path | None) -> str:
    """The page for ``{file name: parsed JSON}``; figures are written to ``out_dir`` if given."""
    figs: list[RenderedFigure] = []
    body = []
    for name, doc in results.items():
        title = str(doc.get("benchmark") or Path(name).stem)
        body.append(f'<section id="{esc(Path(name).stem)}"><h2>{esc(title)}</h2>'
                    f'<p class="sub">{esc(name)}</p>')  # fmt: skip
        if isinstance(doc.get("provenance"), Mapping):
            body.append(_provenance(doc["provenance"]))
        rest = {k: v for k, v in doc.items() if k not in ("benchmark", "provenance")}
        body.append(_render(title, rest.get("results", rest), "", 0, figs, out_dir))
        body.append("</section>")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    toc = " · ".join(f'<a href="#{esc(Path(n).stem)}">{esc(Path(n).stem)}</a>' for n in results)
    return page("qaware benchmark results", toc + "\n" + "\n".join(body),
                subtitle=f"{len(results)} result files · generated {esc(stamp)}")  # fmt: skip


def write_benchmark_report(folder: str | Path, output: str | Path) -> Path:
    """Render every ``*.json`` in ``folder`` into the HTML file ``output`` (figures beside it).

    ConfigError names a file that is not valid JSON, or a folder without result files.
    """
    folder, output = Path(folder), Path(output)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ConfigError(f"{folder}: no benchmark result files (*.json)")
    results: dict[str, Mapping[str, Any]] = {}
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{f}: not a readable JSON file: {err}") from None
        results[f.name] = doc if isinstance(doc, Mapping) else {"results": doc}
    output.parent.mkdir(parents=True, exist_ok=True)
    text = benchmark_html(results, output.parent / "figures")
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    return output
