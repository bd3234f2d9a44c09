"""``qaware report``: the campaign report (registered on import by :mod:`qaware.cli`)."""

from __future__ import annotations

from qaware.cli import app  # noqa: F401  (commands below register on it)
