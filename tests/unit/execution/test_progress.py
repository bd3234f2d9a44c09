"""as_completed_with_progress: completion order, and a bar only on a terminal."""

from __future__ import annotations

import io
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qaware.execution import as_completed_with_progress, progress_enabled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _sleep_then(value: int, delay_s: float) -> int:
    time.sleep(delay_s)
    return value


def test_yields_every_future_in_completion_order(monkeypatch) -> None:
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_sleep_then, v, d) for v, d in [(0, 0.4), (1, 0.0), (2, 0.2)]]
        order = [f.result() for f in as_completed_with_progress(futures, "oracle calls")]
    assert order == [1, 2, 0]


def test_bar_is_drawn_on_a_terminal_and_silenced_by_the_environment(monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("QAWARE_NO_PROGRESS", raising=False)
    assert progress_enabled()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_sleep_then, v, 0.0) for v in range(3)]
        assert len(list(as_completed_with_progress(futures, "PBE labels"))) == 3
    assert "PBE labels" in terminal.getvalue()
    assert "3/3" in terminal.getvalue()

    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    silent = _Terminal()
    monkeypatch.setattr(sys, "stderr", silent)
    assert not progress_enabled()
    with ThreadPoolExecutor(2) as pool:
        list(as_completed_with_progress([pool.submit(_sleep_then, 1, 0.0)], "PBE labels"))
    assert silent.getvalue() == ""


def test_no_bar_when_output_is_not_a_terminal(monkeypatch) -> None:
    monkeypatch.delenv("QAWARE_NO_PROGRESS", raising=False)
    assert not progress_enabled(io.StringIO())


def test_timeout_is_passed_through() -> None:
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_sleep_then, 1, 1.0)
        with pytest.raises(TimeoutError):
            list(as_completed_with_progress([slow], "waiting", timeout=0.05))
