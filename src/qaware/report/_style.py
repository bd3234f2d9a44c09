"""Shared look of the report's figures and how a figure becomes PNG/PDF files.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, never
through pyplot: no global state, no display, safe in a headless driver or a worker thread.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["COLORS", "RenderedFigure", "empty_panel", "new_figure", "render_figure"]

COLORS = {
    "main": "#1f5fa8",
    "accent": "#d1495b",
    "muted": "#8c8c8c",
    "good": "#2a9d5c",
    "warn": "#e07b00",
}
"""Colour of the campaign's own data, highlights, references, good news and warnings."""

_WIDTH_IN, _HEIGHT_IN, _DPI = 5.2, 3.6, 110


def new_figure(ncols: int = 1, *, width: float | None = None) -> tuple[Any, list[Any]]:
    """A figure with ``ncols`` side-by-side axes (each about 5 × 3.6 in); returns (fig, axes)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width or _WIDTH_IN * ncols, _HEIGHT_IN), dpi=_DPI, layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(alpha=0.25, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def empty_panel(ax: Any, message: str) -> None:
    """Mark an axes as having nothing to show yet (a mid-run report), instead of a blank plot."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color=COLORS["muted"], fontsize=10, wrap=True)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])


@dataclass(frozen=True)
class RenderedFigure:
    """One figure of the report: its PNG bytes (for embedding) and the files written."""

    name: str
    title: str
    caption: str
    png: bytes
    files: tuple[Path, ...]
    warnings: tuple[str, ...] = ()
    wide: bool = False  # several panels: give it the page's full width

    @property
    def data_uri(self) -> str:
        """``data:image/png;base64,...``: the PNG inline, so the HTML needs no other file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def render_figure(
    fig: Any,
    name: str,
    *,
    title: str,
    caption: str = "",
    out_dir: Path | None = None,
    warnings: tuple[str, ...] = (),
) -> RenderedFigure:
    """Draw ``fig`` to PNG (and, with ``out_dir``, write ``name.png`` and ``name.pdf`` there)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import FigureCanvasPdf

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = buf.getvalue()
    files: list[Path] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        png_path = out_dir / f"{name}.png"
        png_path.write_bytes(png)
        pdf_path = out_dir / f"{name}.pdf"
        FigureCanvasPdf(fig)
        fig.savefig(pdf_path, format="pdf")
        files += [png_path, pdf_path]
    wide = fig.get_figwidth() > 1.5 * _WIDTH_IN
    return RenderedFigure(name, title, caption, png, tuple(files), tuple(warnings), wide)
