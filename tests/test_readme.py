"""The README's two commands are real: the main job runs, and CI runs the test command."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from browser_probe import browser, check_report, count_discoveries  # noqa: E402


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must start its instructions with a bash block"
    return [
        ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")
    ]


def test_readme_starts_with_two_commands_and_ci_runs_the_second():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    install_and_run, run_tests = commands
    assert install_and_run.startswith("bash scripts/install.sh && qaware ")
    ci = (ROOT / ".ci/run").read_text()
    assert run_tests in ci.splitlines(), ".ci/run must call the README's test command verbatim"


@pytest.mark.slow(seconds=130)
def test_readme_main_job_runs(tmp_path):
    """Run the main job exactly as written (after the install step) in a scratch directory; the
    report it ends with renders in headless Chromium (every figure, the discoveries table)."""
    chrome = browser()
    main_job = _readme_commands()[0].split("&&", 1)[1].strip()
    argv = shlex.split(main_job)
    assert argv[0] == "qaware"
    proc = subprocess.run(
        [sys.executable, "-m", "qaware", *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stopped: budget spent" in proc.stdout, proc.stdout[-3000:]
    run_dir = tmp_path / argv[argv.index("--run-dir") + 1]
    assert (run_dir / "campaign.db").exists() and (run_dir / "events.jsonl").exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary["cycles"]) >= 1
    assert sum(c["top_calls"] for c in summary["cycles"]) == 48
    html = run_dir / "report" / "report.html"  # the run ends with its report
    found = count_discoveries(run_dir)
    assert found == sum(c["discoveries"] for c in summary["cycles"])
    probe = check_report(chrome, html, tmp_path, found, "quickstart")
    assert probe["rows"] == max(found, 1)
