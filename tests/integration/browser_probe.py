"""Headless Chromium checks of a qaware HTML report, shared by the report and README tests.

:func:`check_report` loads a report from disk with a probe script injected that records, after
the page has loaded, every image's decoded size, the discoveries table, what a click on a column
header does to the row order, and every script or console error; the DOM Chromium dumps carries
the probe's findings back. It also saves a screenshot. :func:`browser` skips the calling test
when no Chromium is installed, unless QAWARE_REQUIRE_BROWSER is set (CI sets it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qaware.report.figures import FIGURE_NAMES
from qaware.store import RunDirectory

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


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("QAWARE_REQUIRE_BROWSER"):
        pytest.fail(f"QAWARE_REQUIRE_BROWSER is set but none of {BROWSERS} is installed")
    pytest.skip("no headless Chromium installed (bash scripts/install_system.sh chromium)")


def _chrome(chrome: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chrome, *CHROME_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def probe_page(chrome: str, html: Path, tmp: Path) -> dict:
    """Load a copy of ``html`` (same folder, so relative links hold) with the probe injected."""
    probed = html.with_name("probe_" + html.name)
    probed.write_text(html.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1))
    done = _chrome(chrome, tmp / "profile-dom", "--virtual-time-budget=10000", "--dump-dom",
                   probed.as_uri())  # fmt: skip
    probed.unlink()
    found = re.search(r'<pre id="qaware-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not report (rc {done.returncode}): {done.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


def check_report(chrome: str, html: Path, tmp: Path, n_discoveries: int, name: str) -> dict:
    text = html.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', text), "the report must need no network"
    for link in re.findall(r'href="(structures/[^"]+)"', text):
        assert (html.parent / link).is_file(), f"broken structure link {link}"
    assert len(re.findall(r'href="structures/[^"]+\.cif"', text)) == n_discoveries
    for name in FIGURE_NAMES:
        for ext in ("png", "pdf"):
            assert (html.parent / "figures" / f"{name}.{ext}").stat().st_size > 1000
    probe = probe_page(chrome, html, tmp)
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
    done = _chrome(chrome, tmp / "profile-shot", "--window-size=1280,3200",
                   f"--screenshot={shot}", html.as_uri())  # fmt: skip
    assert shot.stat().st_size > 50_000, done.stderr[-2000:]
    return probe


def count_discoveries(run_dir: Path) -> int:
    with RunDirectory.open(run_dir).store() as store:
        return sum(
            bool(c.key_value_pairs.get("discovery")) for c in store.candidates(status="done")
        )
