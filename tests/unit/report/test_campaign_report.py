"""The report of a run directory written through the real store (no campaign needed): what is
collected, what the page says, the files beside it, the command, and that the run is only read."""

from __future__ import annotations

import hashlib
import html as htmllib
import re

import pytest
from ase.build import bulk

from qaware.campaign import CampaignState, CycleSummary
from qaware.cli import main
from qaware.oracles.result import OracleResult
from qaware.report.build import write_campaign_report
from qaware.report.collect import collect_campaign
from qaware.report.discoveries import space_group
from qaware.report.figures import FIGURE_NAMES, campaign_figures
from qaware.store import RunDirectory, oracle_call_key

LOW, TOP = "PBE", "HSE06<x>"  # a name with HTML in it must come out escaped
CONFIG = {
    "run": {"name": "hand-made"},
    "fidelities": [{"name": LOW, "weight": 0.1, "cost": 1.0}, {"name": TOP, "weight": 1.0}],
    "campaign": {"hit_threshold": 0.0},
    "acquisition": {"strategy": "qaware", "divergence": "signed"},
}


def _result(level: str, energy: float | None, settings: str) -> OracleResult:
    if energy is None:
        return OracleResult.failure(level, "scf_not_converged", code="gpaw", code_version="26.7",
                                    settings_hash=settings, wall_time_s=2.0)  # fmt: skip
    return OracleResult(ok=True, level=level, energy=energy, code="gpaw", code_version="26.7",
                        settings_hash=settings, wall_time_s=3.0)  # fmt: skip


def _make_run(path, *, finished: bool, strategy: str = "qaware"):
    """Three candidates of cycle 1: NaCl (discovery), Cu (labelled, no hit), Si (call failed);
    the top-level calls in the order Cu, NaCl, Si."""
    run = RunDirectory.create(path, {**CONFIG, "acquisition": {"strategy": strategy}})
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    cu, si = bulk("Cu", "fcc", a=3.6), bulk("Si", "diamond", a=5.43)
    with run.store() as store:
        ids = store.add_candidates([nacl, cu, si], cycle=1, origin="test")
        preds = [{"pred_e_low": -2.0 + 0.1 * i, "pred_e_top": -2.3 + 0.1 * i,
                  "pred_sigma_top": 0.05, "pred_e_hull_top": -0.1, "div": 0.3,
                  "score": 1.0 - i / 10, "eligible": True, "scored_cycle": 1}
                 for i in range(3)]  # fmt: skip
        store.update_candidates(ids, "scored", preds)
        store.set_status(ids, "selected", fields={"selected_cycle": 1})
        store.set_status(ids, "submitted")
        records = {r.id: r for r in store.candidates()}
        for cid, energy in ((ids[1], -3.0), (ids[0], -7.0), (ids[2], None)):
            rec = records[cid]
            for level, settings, e in ((TOP, "s-top", energy), (LOW, "s-low", energy)):
                key = oracle_call_key(rec.structure_hash, settings)
                store.begin_call(cid, rec.atoms, oracle_key=key, level=level)
                store.record_result(cid, key, _result(level, e, settings))
        store.set_status(ids[:2], "done")
        store.set_status([ids[2]], "failed")
        store.set_status([ids[2]], "quarantined")
        store.annotate_candidates(ids[:2], [
            {"e_form_top": -2.2, "e_form_low": -1.95, "e_hull_top": -0.01, "hit": True,
             "novel": True, "discovery": True},
            {"e_form_top": 0.1, "e_form_low": 0.05, "e_hull_top": 0.12, "hit": False,
             "novel": True, "discovery": False},
        ])  # fmt: skip
    state = CampaignState(cycle=1, step="retrain" if finished else "evaluate")
    counts = {"generated": 10, "new_candidates": 3, "rejected": 7, "scored": 3, "selected": 3}
    counts |= {"top_calls": 3, "failed_calls": 1, "hits": 1, "discoveries": 1}
    state.history.append(CycleSummary(1, **counts, oracle_time_s=9.0, other_time_s=1.0))
    state.stopped = "budget spent (3 of 3 top-level calls)" if finished else ""
    state.save(path)
    return run, ids


def _digest(path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def test_collect_reads_the_ladder_calls_and_labels(tmp_path):
    _, ids = _make_run(tmp_path / "run", finished=True)
    data = collect_campaign(tmp_path / "run", trap=False)
    assert (data.low, data.top, data.name) == (LOW, TOP, "hand-made")
    assert data.strategy.startswith("qaware") and data.finished
    assert list(data.call_discovery) == [False, True, False]  # Cu, NaCl, failed Si: call order
    top = next(lv for lv in data.levels if lv.name == TOP)
    assert (top.role, top.calls_done, top.calls_failed) == ("top", 2, 1)
    assert top.codes == ["gpaw 26.7 (settings s-top)"]
    assert top.oracle_wall_s == pytest.approx(8.0)
    assert list(data.labelled.id) == ids[:2]
    assert data.labelled.e_form_low - data.labelled.e_form_top == pytest.approx([0.25, -0.05])
    assert list(data.labelled.discovery) == [True, False]
    assert data.cycles.novelty == pytest.approx([1.0])  # no sample was dropped as known
    assert (
        data.checksums["config (canonical JSON)"] == RunDirectory.open(tmp_path / "run").config_hash
    )


def test_report_page_files_and_read_only_run(tmp_path):
    run_dir = tmp_path / "run"
    _make_run(run_dir, finished=True)
    before = _digest(run_dir)
    path = write_campaign_report(run_dir, tmp_path / "out" / "r.html", trap=False)
    assert _digest(run_dir) == before  # the run directory is only read
    text = path.read_text(encoding="utf-8")
    assert "HSE06&lt;x&gt;" in text and "HSE06<x>" not in text
    assert "finished: budget spent" in text and "still running" not in text
    assert "gpaw 26.7 (settings s-top)" in text
    assert "1 top-level calls failed" in text
    table = re.search(r'<table id="discoveries".*?</table>', text, re.S).group(0)
    assert table.count("<tr>") == 2  # header + the one discovery
    assert "NaCl" in table and "Fm-3m (225)" in table
    cif = re.search(r'href="(structures/[^"]+\.cif)"', table).group(1)
    import ase.io

    back = ase.io.read(tmp_path / "out" / htmllib.unescape(cif))
    assert back.get_chemical_formula() == "ClNa"
    for name in ("cumulative_discoveries", "reliability", "wall_time"):
        assert (tmp_path / "out" / "figures" / f"{name}.pdf").exists()
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == len(FIGURE_NAMES)
    assert not re.search(r'(src|href)="https?://', text)


def test_report_of_a_running_campaign_says_so(tmp_path):
    _make_run(tmp_path / "run", finished=False)
    text = write_campaign_report(tmp_path / "run", trap=False).read_text(encoding="utf-8")
    assert "still running" in text and "running: cycle 1, last finished step: evaluate" in text


def test_report_command_exit_codes(tmp_path, capsys):
    _make_run(tmp_path / "run", finished=True)
    out = tmp_path / "cli" / "report.html"
    assert main(["report", str(tmp_path / "run"), "-o", str(out), "--no-trap"]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a qaware run directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.txt")]) == 2


def test_space_group_of_known_crystals():
    assert space_group(bulk("NaCl", "rocksalt", a=5.64)) == "Fm-3m (225)"
    assert space_group(bulk("Si", "diamond", a=5.43)) == "Fd-3m (227)"
    mol = bulk("Cu", "fcc", a=3.6)
    mol.pbc = False
    assert space_group(mol) == "-"


def test_compare_with_a_random_run_gives_the_baseline_and_a_table(tmp_path):
    _make_run(tmp_path / "full", finished=True)
    _make_run(tmp_path / "rand", finished=False, strategy="random")
    path = write_campaign_report(tmp_path / "full", compare=[tmp_path / "rand"], trap=False)
    text = path.read_text(encoding="utf-8")
    table = re.search(r'<table id="compare".*?</table>', text, re.S).group(0)
    assert table.count("<tr>") == 3 and ">random<" in table and ">running<" in table
    full, rand = collect_campaign(tmp_path / "full"), collect_campaign(tmp_path / "rand")
    figs = {f.name: f for f in campaign_figures(full, None, [rand])}
    alone = {f.name: f for f in campaign_figures(full, None)}
    assert figs["daf"].png != alone["daf"].png  # a curve instead of "needs a random baseline"


def test_report_of_a_run_that_has_not_started_a_cycle(tmp_path):
    RunDirectory.create(tmp_path / "run", CONFIG)  # no campaign_state.json, no candidate yet
    text = write_campaign_report(tmp_path / "run", trap=False).read_text(encoding="utf-8")
    assert "last finished step: not started" in text
    assert "no discovery yet (the campaign is still running)" in text
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == len(FIGURE_NAMES)
