"""The campaign report opened in headless Chromium: a finished run and a run killed mid-cycle.

A real (EMT-ladder) campaign is run twice from the same inputs: once to the end in this process,
once as ``qaware run`` killed with SIGKILL inside cycle 2's oracle step (calls done, candidates
submitted, no stop reason, no summary.json) — what ``qaware report`` sees while a campaign runs.
Each report is loaded from disk in Chromium with a probe script that records, after the page
has loaded, every image's decoded size, the discoveries table, what a click on a column header
does to the row order, and every script error or console error; the DOM Chromium dumps carries
the probe's findings back. A screenshot is saved in the test's tmp dir.

Skipped when no Chromium is installed, unless QAWARE_REQUIRE_BROWSER is set (CI sets it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from campaign_fixtures import write_campaign_inputs

from qaware.campaign import CampaignState, run_campaign
from qaware.config_io import load_config
from qaware.report.benchmarks import write_benchmark_report
from qaware.report.build import write_campaign_report
from qaware.report.figures import FIGURE_NAMES
from qaware.store import CallStatus, RunDirectory

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# Runs before the report's own script (first thing in <head>): catches script errors, failed
# resource loads and console errors; after load, measures every image, then clicks the
# "E_hull" header of the discoveries table twice and records the order of that column.
PROBE = r"""<script>
(function(){
var errors=[];
window.addEventListener('error',function(e){
  var t=e.target; errors.push((t&&t!==window&&(t.src||t.href)?('failed to load '+(t.src||t.href))
  :('script error: '+e.message)).slice(0,300));},true);
var orig=console.error;console.error=function(){errors.push('console.error: '+
  Array.prototype.join.call(arguments,' '));orig.apply(console,arguments);};
window.addEventListener('load',function(){setTimeout(function(){
  var imgs=Array.prototype.map.call(document.images,function(i){return {id:i.parentNode.id,
    complete:i.complete,w:i.naturalWidth,h:i.naturalHeight};});
  var table=document.getElementById('discoveries'),order=[];
  var col=-1;
  if(table){Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    if(th.textContent.indexOf('E_hull')===0)col=i;});}
  function column(){return Array.prototype.map.call(table.tBodies[0].rows,function(r){
    return r.cells[col].getAttribute('data-sort');});}
  if(table&&col>=0){var th=table.tHead.rows[0].cells[col];
    th.click();order.push(column());th.click();order.push(column());}
  var out=document.createElement('pre');out.id='qaware-probe';
  out.textContent=JSON.stringify({images:imgs,errors:errors,order:order,
    rows:table?table.tBodies[0].rows.length:-1,
    figures:document.querySelectorAll('figure').length});
  document.body.appendChild(out);},0);});
})();
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("QAWARE_REQUIRE_BROWSER"):
        pytest.fail(f"QAWARE_REQUIRE_BROWSER is set but none of {BROWSERS} is installed")
    pytest.skip("no headless Chromium installed (bash scripts/install_system.sh chromium)")


def _chrome(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, *CHROME_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _probe(browser: str, html: Path, tmp: Path) -> dict:
    """Load a copy of ``html`` (same folder, so relative links hold) with the probe injected."""
    probed = html.with_name("probe_" + html.name)
    probed.write_text(html.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1))
    done = _chrome(browser, tmp / "profile-dom", "--virtual-time-budget=10000", "--dump-dom",
                   probed.as_uri())  # fmt: skip
    probed.unlink()
    found = re.search(r'<pre id="qaware-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not report (rc {done.returncode}): {done.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


def _check_report(browser: str, html: Path, tmp: Path, n_discoveries: int, name: str) -> dict:
    text = html.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', text), "the report must need no network"
    for link in re.findall(r'href="(structures/[^"]+)"', text):
        assert (html.parent / link).is_file(), f"broken structure link {link}"
    assert len(re.findall(r'href="structures/[^"]+\.cif"', text)) == n_discoveries
    for name in FIGURE_NAMES:
        for ext in ("png", "pdf"):
            assert (html.parent / "figures" / f"{name}.{ext}").stat().st_size > 1000
    probe = _probe(browser, html, tmp)
    assert probe["errors"] == []
    assert probe["figures"] == len(FIGURE_NAMES)
    ids = [img["id"] for img in probe["images"]]
    assert sorted(ids) == sorted(f"fig-{n}" for n in FIGURE_NAMES)
    for img in probe["images"]:  # a broken image decodes to 0 x 0
        assert img["complete"] and img["w"] > 200 and img["h"] > 200, img
    assert probe["rows"] == max(n_discoveries, 1)  # "no discovery yet" fills an empty table
    if n_discoveries >= 2:  # clicking E_hull sorts ascending, clicking again descending
        up, down = ([float(v) for v in col] for col in probe["order"])
        assert up == sorted(up) and down == sorted(up, reverse=True)
    shot = tmp / f"screenshot_{name}.png"
    done = _chrome(browser, tmp / "profile-shot", "--window-size=1280,3200",
                   f"--screenshot={shot}", html.as_uri())  # fmt: skip
    assert shot.stat().st_size > 50_000, done.stderr[-2000:]
    return probe


def _discoveries(run_dir: Path) -> int:
    with RunDirectory.open(run_dir).store() as store:
        return sum(
            bool(c.key_value_pairs.get("discovery")) for c in store.candidates(status="done")
        )


@pytest.mark.slow  # two small campaigns (one killed in a subprocess) and four Chromium runs
def test_report_of_a_finished_and_of_a_killed_campaign_renders_in_chromium(tmp_path):
    browser = _browser()
    config_path = write_campaign_inputs(tmp_path, budget=6, cycles=3)

    # a finished run
    result = run_campaign(load_config(config_path), base_dir=tmp_path)
    assert result.state.stopped
    done_dir = tmp_path / "run"
    html = write_campaign_report(done_dir)
    assert html == done_dir / "report" / "report.html"
    found = _discoveries(done_dir)
    assert found == result.discoveries
    _check_report(browser, html, tmp_path, found, "finished")
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
    probe = _check_report(browser, html, tmp_path, _discoveries(killed), "mid_run")
    text = html.read_text(encoding="utf-8")
    assert "still running" in text and "running: cycle 2, last finished step: select" in text
    assert len(in_flight) <= 2
    assert len(probe["images"]) == len(FIGURE_NAMES)


def test_benchmark_report_renders_in_chromium(tmp_path):
    browser = _browser()
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
    probe = _probe(browser, html, tmp_path)
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
