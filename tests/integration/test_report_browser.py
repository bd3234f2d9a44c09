"""The campaign report opened in headless Chromium: a finished run and a run killed mid-cycle.

A real (EMT-ladder) campaign is run twice from the same inputs: once to the end in this process,
once as ``qaware run`` killed with SIGKILL inside cycle 2's oracle step (calls done, candidates
submitted, no stop reason, no summary.json) — what ``qaware report`` sees while a campaign runs.
Each report is loaded from disk in Chromium with the probe of ``browser_probe.py`` (images,
the sortable discoveries table, script and console errors) and a screenshot is saved.

Skipped when no Chromium is installed, unless QAWARE_REQUIRE_BROWSER is set (CI sets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_probe import browser, check_report, count_discoveries, probe_page
from campaign_fixtures import write_campaign_inputs

from qaware.campaign import CampaignState, run_campaign
from qaware.config_io import load_config
from qaware.report.benchmarks import write_benchmark_report
from qaware.report.build import write_campaign_report
from qaware.report.figures import FIGURE_NAMES
from qaware.store import CallStatus, RunDirectory


@pytest.mark.slow  # two small campaigns (one killed in a subprocess) and four Chromium runs
def test_report_of_a_finished_and_of_a_killed_campaign_renders_in_chromium(tmp_path):
    chrome = browser()
    config_path = write_campaign_inputs(tmp_path, budget=6, cycles=3)

    # a finished run
    result = run_campaign(load_config(config_path), base_dir=tmp_path)
    assert result.state.stopped
    done_dir = tmp_path / "run"
    html = write_campaign_report(done_dir)
    assert html == done_dir / "report" / "report.html"
    found = count_discoveries(done_dir)
    assert found == result.discoveries
    check_report(chrome, html, tmp_path, found, "finished")
    text = html.read_text(encoding="utf-8")
    assert "finished: budget spent" in text and "still running" not in text
    assert "EMT-cut" in text and "ase.calculators.emt:EMT" in text  # the code behind the levels

    # the same campaign killed inside cycle 2's oracle step: 4 results per cycle (2 candidates
    # x 2 levels), so the 6th stored result is cycle 2's second
    killed = tmp_path / "killed"
    env = {**os.environ, "QAWARE_CRASH_AT": "evaluate:6", "OMP_NUM_THREADS": "1",
           "QAWARE_NO_PROGRESS": "1"}  # fmt: skip
    log = tmp_path / "killed.log"
    with open(log, "w") as out:  # a file, not a pipe: nothing orphaned can hold it open
        proc = subprocess.run(
            [sys.executable, "-m", "qaware", "run", str(config_path), "--run-dir", str(killed)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300,
            check=False,
        )  # fmt: skip
    assert proc.returncode == -9, log.read_text()[-3000:]
    state = CampaignState.load(killed)
    assert not state.stopped and state.cycle == 2 and state.step == "select"
    assert not (killed / "summary.json").exists()
    with RunDirectory.open(killed).store() as store:
        in_flight = list(store.calls(status=CallStatus.SUBMITTED))
    before = sorted(p.name for p in killed.iterdir())
    html = write_campaign_report(killed, tmp_path / "mid" / "report.html")
    assert sorted(p.name for p in killed.iterdir()) == before  # nothing written in the run
    probe = check_report(chrome, html, tmp_path, count_discoveries(killed), "mid_run")
    text = html.read_text(encoding="utf-8")
    assert "still running" in text and "running: cycle 2, last finished step: select" in text
    assert len(in_flight) <= 2
    assert len(probe["images"]) == len(FIGURE_NAMES)


def test_benchmark_report_renders_in_chromium(tmp_path):
    chrome = browser()
    doc = {
        "benchmark": "track",
        "results": {"splits": {"oxides": {"strategies": {
            "random": {"hits_per_call": {"mean": 0.05, "std": 0.02}},
            "qaware": {"hits_per_call": {"mean": 0.3, "std": 0.05}}}}}},
        "provenance": {"command": "python benchmarks/track.py"},
    }  # fmt: skip
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "track.json").write_text(json.dumps(doc))
    html = write_benchmark_report(tmp_path / "results", tmp_path / "bench" / "index.html")
    probe = probe_page(chrome, html, tmp_path)
    assert probe["errors"] == [] and probe["figures"] == 1
    assert [(i["w"] > 200, i["h"] > 200) for i in probe["images"]] == [(True, True)]


@pytest.mark.slow  # a whole campaign in a subprocess, reported on again and again while it runs
def test_reports_made_while_a_campaign_runs_succeed_and_do_not_disturb_it(tmp_path):
    import time

    config_path = write_campaign_inputs(tmp_path, budget=6, cycles=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QAWARE_NO_PROGRESS": "1"}
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        cmd = [sys.executable, "-m", "qaware", "run", str(config_path)]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            during, deadline = [], time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                if (tmp_path / "run" / "campaign_state.json").exists():
                    html = write_campaign_report(tmp_path / "run", tmp_path / "r" / "r.html",
                                                 trap=False)  # fmt: skip
                    if proc.poll() is None:
                        during.append(html.read_text(encoding="utf-8"))
                else:
                    time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert during, "no report was made while the campaign ran"
    # the process outlives its campaign by the final report it writes: the last reports made
    # while it lived may already say "finished"; at least one saw the campaign running
    assert any("still running" in text for text in during)
    assert all("still running" in text or "finished: budget spent" in text for text in during)
    final = write_campaign_report(tmp_path / "run", trap=False).read_text(encoding="utf-8")
    assert "finished: budget spent (6 of 6" in final
