"""Test of the test: a deliberately broken resume must make the crash harness report failure.

The bugs are loaded into the killed drivers only, through ``broken_resume/sitecustomize.py``
on their PYTHONPATH (no switch in qaware itself). A harness that passes these runs would pass
a resume that loses results or repeats oracle calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crash_harness import SMALL, Setup, compare, prepare, run_with_kills

BROKEN = Path(__file__).resolve().parent / "broken_resume"


def _broken(bug: str) -> dict[str, str]:
    return {"PYTHONPATH": str(BROKEN), "QAWARE_BROKEN_RESUME": bug}


@pytest.mark.slow
def test_calls_taken_as_done_before_their_result_is_written_are_reported_lost(tmp_path, reference):
    setup = Setup(**SMALL)
    template, ref = reference(setup)
    cut = tmp_path / "cut"
    prepare(cut, setup, template=template)
    report = run_with_kills(
        cut, 1, seed=3, kinds=("evaluate",), extra_env=_broken("trust-submitted")
    )
    problems = compare(ref, cut, report, repeats_allowed=report.kills)
    assert report.kills == 1 and not report.failure, report
    assert any("labelled results lost" in p for p in problems), problems
    assert any("still submitted" in p for p in problems), problems


@pytest.mark.slow
def test_a_resume_that_does_not_reattach_its_jobs_is_reported_as_repeated_calls(
    tmp_path, reference
):
    setup = Setup(backend="submitit", max_workers=2, **SMALL)
    template, ref = reference(setup)
    cut = tmp_path / "cut"
    prepare(cut, setup, template=template)
    report = run_with_kills(
        cut, 1, seed=3, kinds=("evaluate",), extra_env=_broken("ignore-handles")
    )
    problems = compare(ref, cut, report, repeats_allowed=0)
    assert report.kills == 1 and not report.failure, report
    assert any("made twice" in p for p in problems), problems
