"""The campaign report as one self-contained HTML document (figures inline as base64 PNG).

Header: what ran (configuration, the ladder and the code behind each level as the oracle
results record it, checksums, versions), the run's state and any warning; then the figures,
the sortable discoveries table with links to the structure files, and the per-cycle numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import yaml

from qaware.report._html import Cell, data_table, esc, figure_html, kv_table, num, page, warning_box
from qaware.report._style import RenderedFigure
from qaware.report.data import CampaignData
from qaware.report.discoveries import DiscoveryRow

__all__ = ["DISCOVERY_COLUMNS", "campaign_html"]

DISCOVERY_COLUMNS = ("id", "formula", "space group", "cycle", "e_form {low}", "e_form {top}",
                     "E_hull {top}", "D (pred.)", "σ {top} (pred.)", "files")  # fmt: skip
"""Columns of the discoveries table (``{low}``/``{top}`` become level names); eV/atom."""


def _ladder(data: CampaignData) -> str:
    rows = []
    for lv in data.levels:
        codes = "<br>".join(esc(c) for c in lv.codes) or "<i>no call yet</i>"
        role = f" <b>({lv.role})</b>" if lv.role else ""
        rows.append(
            [Cell(esc(lv.name) + role, lv.name), Cell(esc(lv.kind), lv.kind),
             num(lv.weight, "{:g}"), num(lv.cost, "{:g}"), Cell(codes, ""),
             num(float(lv.calls_done), "{:.0f}"), num(float(lv.calls_failed), "{:.0f}"),
             num(float(lv.calls_pending), "{:.0f}"), num(lv.oracle_wall_s, "{:.1f}")]
        )  # fmt: skip
    head = ["level", "kind", "loss weight", "cost", "code (from the call results)", "done",
            "failed", "in flight", "oracle wall time [s]"]  # fmt: skip
    return data_table("ladder", head, rows)


def _discoveries(rows: Sequence[DiscoveryRow], low: str, top: str, running: bool) -> str:
    cells = [
        [num(float(r.id), "{:.0f}"), Cell(esc(r.formula), r.formula),
         Cell(esc(r.space_group), r.space_group), num(float(r.cycle), "{:.0f}"),
         num(r.e_form_low), num(r.e_form_top), num(r.e_hull_top), num(r.divergence),
         num(r.sigma_top, "{:.3f}"),
         Cell(f'<a href="{esc(r.cif)}">CIF</a> <a href="{esc(r.extxyz)}">extxyz</a>')]
        for r in rows
    ]  # fmt: skip
    head = [c.format(low=low, top=top) for c in DISCOVERY_COLUMNS]
    empty = "no discovery yet" + (" (the campaign is still running)" if running else "")
    return data_table("discoveries", head, cells, empty=empty)


def _cycle_table(data: CampaignData) -> str:
    c = data.cycles
    rows = [
        [num(float(c.cycle[i]), "{:.0f}")]
        + [num(float(v[i]), "{:.0f}") for v in (c.generated, c.new_candidates, c.top_calls,
                                               c.failed_calls, c.hits, c.discoveries)]
        + [num(float(c.novelty[i]), "{:.2f}"), num(float(c.close_packed[i]), "{:.2f}"),
           num(float(c.oracle_time_s[i]), "{:.1f}"), num(float(c.other_time_s[i]), "{:.1f}")]
        for i in range(c.cycle.size)
    ]  # fmt: skip
    head = ["cycle", "samples", "new", "top calls", "failed", "hits", "discoveries", "novelty",
            "close-packed", "oracle [s]", "other [s]"]  # fmt: skip
    return data_table("cycles", head, rows, empty="no cycle recorded yet")


def _hits(data: CampaignData) -> str:
    lab = data.labelled
    analysed = int(np.isfinite(lab.e_hull_top).sum())
    text = f"{int(lab.hit.sum())} of {analysed} analysed"
    if analysed < len(lab):
        text += f" ({len(lab) - analysed} labelled, awaiting the analyze step)"
    return text


def _versions(env: dict) -> str:
    pkgs = env.get("packages") or {}
    git = env.get("git") or {}
    pairs = [("python", esc(env.get("python", "?"))), ("platform", esc(env.get("platform", "?")))]
    if git:
        pairs.append(
            (
                "qaware git",
                esc(
                    f"{git.get('commit', '?')[:12]}"
                    f"{' (uncommitted changes)' if git.get('dirty') else ''}"
                ),
            )
        )
    pairs += [(k, esc(v)) for k, v in pkgs.items() if v]
    return kv_table(pairs)


def _compare_table(runs: Sequence[CampaignData]) -> str:
    rows = []
    for r in runs:
        calls, found = int(r.call_discovery.size), int(r.call_discovery.sum())
        rows.append([Cell(esc(r.name), r.name), Cell(esc(r.strategy), r.strategy),
                     num(float(calls), "{:.0f}"), num(float(found), "{:.0f}"),
                     num(found / calls if calls else float("nan"), "{:.3f}"),
                     num(float(r.cycles.hits.sum()), "{:.0f}"),
                     Cell(esc(r.stopped or "running"), r.stopped)])  # fmt: skip
    head = ["run", "strategy", "top calls", "discoveries", "per call", "hits", "stopped"]
    return data_table("compare", head, rows)


def campaign_html(
    data: CampaignData,
    figures: Sequence[RenderedFigure],
    discoveries: Sequence[DiscoveryRow],
    *,
    generated_at: str,
    compare: Sequence[CampaignData] = (),
) -> str:
    """The whole report page (a string); ``generated_at`` is shown in the subtitle."""
    running = not data.finished
    badge = (f'<span class="status running">running: {esc(data.current)}</span>' if running
             else f'<span class="status">finished: {esc(data.stopped)}</span>')  # fmt: skip
    calls, found = int(data.call_discovery.size), int(data.call_discovery.sum())
    warns = [w for f in figures for w in f.warnings]
    if running:
        warns.insert(0, "this report is of a campaign still running (or interrupted): the last "
                        "cycle may be unfinished and the numbers will change")  # fmt: skip
    failed = int(np.sum(data.cycles.failed_calls))
    if failed:
        warns.append(f"{failed} top-level calls failed (counted as spent, never as hits)")
    summary = kv_table([
        ("status", badge),
        ("acquisition", esc(data.strategy)),
        ("top-level calls", f"{calls} ({found} discoveries, "
                            f"{found / calls if calls else 0:.3f} per call)"),
        ("hits", _hits(data)),
        ("hit threshold", f"E_hull({esc(data.top)}) ≤ {data.hit_threshold:+.3f} eV/atom"),
        ("run directory", esc(data.run_dir.resolve())),
    ])  # fmt: skip
    checks = kv_table((esc(k), f"<code>{esc(v)}</code>") for k, v in data.checksums.items())
    config = yaml.safe_dump(data.config, sort_keys=False, default_flow_style=None)
    body = [
        "<section id=\"summary\">",
        *[warning_box(w) for w in warns],
        '<div class="cols">', summary, "</div>",
        "<h2>Oracle ladder</h2>", _ladder(data),
        "<details><summary>Configuration (config.yaml)</summary>"
        f"<pre>{esc(config)}</pre></details>",
        f"<details><summary>Data checksums (sha256)</summary>{checks}</details>",
        f"<details><summary>Versions (environment.json)</summary>"
        f"{_versions(data.environment)}</details>",
        "</section>",
    ]  # fmt: skip
    if compare:
        body += ["<h2>Strategies compared</h2>", _compare_table([data, *compare])]
    body += ['<h2>Figures</h2><div class="grid">', *[figure_html(f) for f in figures], "</div>"]
    body += [f"<h2>Discoveries ({len(discoveries)})</h2>",
             "<p class=\"sub\">Energies in eV/atom; click a column header to sort. D and σ are the "
             "validator's predictions when the candidate was selected.</p>",
             _discoveries(discoveries, data.low, data.top, running)]  # fmt: skip
    body += ["<h2>Per cycle</h2>", _cycle_table(data)]
    subtitle = (f"{esc(data.low)} → {esc(data.top)} · generated {esc(generated_at)} by "
                "<code>qaware report</code>")  # fmt: skip
    return page(f"qaware campaign report: {data.name}", "\n".join(body), subtitle=subtitle)
