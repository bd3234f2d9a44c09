"""HTML building blocks of the reports: page shell, tables (sortable by clicking a header),
figures embedded as base64 PNG. Plain strings, inline CSS and JS: the page needs no network
and no file besides the ones it links to."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qaware.report._style import RenderedFigure

__all__ = ["Cell", "data_table", "esc", "figure_html", "kv_table", "num", "page", "warning_box"]


def esc(text: object) -> str:
    """HTML-escaped ``str(text)``."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Cell:
    """One table cell: its HTML (already escaped) and the value it sorts by."""

    html: str
    sort: float | str | None = None


def num(value: float | None, fmt: str = "{:+.3f}") -> Cell:
    """A numeric cell; NaN/None shows as an en dash and sorts last."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("–", None)
    return Cell(esc(fmt.format(value)), float(value))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.4}
main{max-width:1180px;margin:0 auto;padding:1.2em 1.5em 3em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.6em 0 .5em;border-bottom:1px solid
#ddd;padding-bottom:.2em}h3{font-size:1.05em;margin:1em 0 .3em}
.sub{color:#666;margin:0 0 1em}.grid{display:grid;grid-template-columns:repeat(auto-fit,
minmax(430px,1fr));gap:1em}figure{margin:0;background:#fff;border:1px solid #e3e3e3;
border-radius:6px;padding:.6em}figure img{max-width:100%;height:auto;display:block;margin:auto}
figure.wide{grid-column:1/-1}figcaption{font-size:.85em;color:#555;margin-top:.4em}
figcaption b{color:#222}
table{border-collapse:collapse;font-size:.88em;background:#fff}th,td{padding:.25em .6em;
border-bottom:1px solid #eee;text-align:left;vertical-align:top}
table.data td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
details details,details .scroll,details table.kv{margin-left:1em}
table.sortable th{cursor:pointer;user-select:none;background:#f0f3f7;position:sticky;top:0}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
.warn{background:#fff4e0;border:1px solid #e07b00;border-left:6px solid #e07b00;
padding:.6em 1em;margin:.6em 0;border-radius:4px}.warn b{color:#a35400}
.status{display:inline-block;padding:.1em .6em;border-radius:1em;font-size:.85em;
background:#e6f4ea;color:#1d6b3a}.status.running{background:#fff4e0;color:#a35400}
details{margin:.4em 0}pre{background:#fff;border:1px solid #e3e3e3;padding:.6em;overflow:auto;
font-size:.8em}.cols{display:flex;flex-wrap:wrap;gap:2em}
"""

_SORT_JS = """
(function(){
function key(td){var v=td.getAttribute('data-sort');if(v===null||v==='')return null;
var f=parseFloat(v);return isNaN(f)?v.toLowerCase():f;}
function sortBy(table,col,th){var body=table.tBodies[0];
var rows=Array.prototype.slice.call(body.rows);
var asc=th.getAttribute('aria-sort')!=='ascending';
rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
if(x<y)return asc?-1:1;if(x>y)return asc?1:-1;return 0;});
rows.forEach(function(r){body.appendChild(r);});
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');}
document.querySelectorAll('table.sortable').forEach(function(table){
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
th.title='click to sort';th.addEventListener('click',function(){sortBy(table,i,th);});});});
})();
"""


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A complete HTML document: ``body`` (HTML) inside the report shell."""
    sub = f'<p class="sub">{subtitle}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main><h1>{esc(title)}</h1>{sub}\n{body}\n</main>"
        f"<script>{_SORT_JS}</script></body></html>\n"
    )


def kv_table(pairs: Iterable[tuple[str, str]]) -> str:
    """Two-column table of (label, HTML value) pairs."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


def data_table(
    table_id: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, empty: str = ""
) -> str:
    """A sortable table; ``empty`` is shown in one row when there is no row."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for c in row:
            cls = ' class="n"' if isinstance(c.sort, float) else ""
            sort = "" if c.sort is None else esc(c.sort)
            cells.append(f'<td{cls} data-sort="{sort}">{c.html}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows and empty:
        body.append(f'<tr class="empty"><td colspan="{len(headers)}">{esc(empty)}</td></tr>')
    return (
        f'<div class="scroll"><table id="{esc(table_id)}" class="data sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def figure_html(fig: RenderedFigure) -> str:
    """A ``<figure>`` with the PNG inline and links to the PNG/PDF files written beside it."""
    links = " ".join(
        f'<a href="{esc(p.parent.name)}/{esc(p.name)}">{esc(p.suffix[1:].upper())}</a>'
        for p in fig.files
    )
    caption = f"<b>{esc(fig.title)}.</b> {esc(fig.caption)}"
    if links:
        caption += f" [{links}]"
    wide = ' class="wide"' if fig.wide else ""
    return (
        f'<figure id="fig-{esc(fig.name)}"{wide}>'
        f'<img src="{fig.data_uri}" alt="{esc(fig.title)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def warning_box(text: str) -> str:
    return f'<div class="warn" role="alert"><b>Warning:</b> {esc(text)}</div>'
