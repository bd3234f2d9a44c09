"""End-to-end campaigns on a real EMT ladder: stopping, the state machine, resume, kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from campaign_fixtures import LOW, TOP, write_campaign_inputs

from qaware.campaign import CampaignState, resume_campaign, run_campaign
from qaware.config_io import load_config
from qaware.errors import CalibrationError, ConfigError, RunDirectoryError
from qaware.report.campaign_summary import summary_table
from qaware.store import CallStatus, RunDirectory

HERE = Path(__file__).parent


def _labelled(run_dir: Path) -> list[tuple[str, str, float]]:
    with RunDirectory.open(run_dir).store() as store:
        return sorted(
            (c.structure_hash, c.level, round(float(c.result.energy), 8))
            for c in store.calls(status=CallStatus.DONE)
            if c.result is not None and c.result.energy is not None
        )


def _outcome(run_dir: Path) -> dict:
    state = CampaignState.load(run_dir)
    with RunDirectory.open(run_dir).store() as store:
        rows = {c.structure_hash: (c.status, c.key_value_pairs.get("discovery"))
                for c in store.candidates()}  # fmt: skip
    cycles = [(s.cycle, s.selected, s.top_calls, s.hits, s.discoveries) for s in state.history]
    return {"stopped": state.stopped, "cycles": cycles, "rows": rows}


def test_three_cycle_campaign_runs_stops_and_walks_the_state_machine(tmp_path):
    cfg = load_config(write_campaign_inputs(tmp_path, budget=6, cycles=5))
    result = run_campaign(cfg, base_dir=tmp_path)
    state = result.state
    assert state.stopped.startswith("budget spent (6 of 6")
    assert [s.cycle for s in state.history] == [1, 2, 3]
    assert all(s.selected == 2 and s.top_calls == 2 for s in state.history)
    assert all(s.validator_retrained for s in state.history)
    assert (tmp_path / "run" / "models" / "validator_cycle_0003.pt").exists()
    with RunDirectory.open(tmp_path / "run").store() as store:
        done = list(store.candidates(status="done"))
        assert len(done) == 6
        for c in done:  # each labelled candidate walked generated->scored->selected->...->done
            kvp = c.key_value_pairs
            assert {"pred_e_top", "score", "selected_cycle", "e_hull_top"} <= set(kvp)
            assert kvp["hit"] == (kvp["e_hull_top"] <= 0.05 + 1e-8)
            assert not kvp["discovery"] or kvp["hit"]
            assert "e_form_low" in kvp  # the low level is labelled too, for the true D
        keys = Counter(c.oracle_key for c in store.calls())
        assert max(keys.values()) == 1  # one row per oracle-call key
        top = [c for c in store.calls(level=TOP) if c.candidate_id is not None]
        assert len(top) == 6 and all(c.attempt == 1 for c in top)
    assert "validator on the 6 evaluated candidates: R²(D) " in summary_table(result)
    check = json.loads((tmp_path / "run" / "summary.json").read_text())["evaluated"]
    assert check["n"] == 6 and 0.0 <= check["top_ece"] <= 0.5
    # finished: running it again does nothing and spends nothing
    labelled = _labelled(tmp_path / "run")
    again = run_campaign(cfg, base_dir=tmp_path)
    assert again.state.history == state.history
    assert _labelled(tmp_path / "run") == labelled


def test_a_second_driver_on_the_same_run_directory_is_refused(tmp_path, driver_lock_holder):
    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1))
    run_campaign(cfg, base_dir=tmp_path)
    holder = driver_lock_holder(tmp_path / "run")  # as a `qaware run` still going would
    for again in (lambda: run_campaign(cfg, base_dir=tmp_path),
                  lambda: resume_campaign(tmp_path / "run")):  # fmt: skip
        with pytest.raises(RunDirectoryError, match=f"another qaware process .*pid {holder.pid}"):
            again()


def test_resume_refuses_a_changed_config_unless_allowed(tmp_path):
    path = write_campaign_inputs(tmp_path, budget=2, cycles=1)
    cfg = load_config(path)
    run_campaign(cfg, base_dir=tmp_path)
    changed = cfg.model_copy(deep=True)
    changed.campaign.batch_size = 3
    with pytest.raises(RunDirectoryError, match="allow-config-change"):
        resume_campaign(tmp_path / "run", config=changed)
    resume_campaign(tmp_path / "run", config=changed, allow_config_change=True, base_dir=tmp_path)
    events = (tmp_path / "run" / "events.jsonl").read_text()
    assert "config_changed" in events


def test_calibration_gate_refuses_to_start_unless_forced(tmp_path):
    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1, seeds=True))
    cfg.campaign.max_calibration_error = 1e-6
    with pytest.raises(CalibrationError, match="--force"):
        run_campaign(cfg, base_dir=tmp_path)
    assert not (tmp_path / "run" / "campaign_state.json").exists()
    result = run_campaign(cfg, base_dir=tmp_path, force=True)
    assert result.state.calibration_ece is not None and result.state.calibration_ece >= 1e-6


def test_calibration_gate_is_not_applied_on_too_few_structures(tmp_path, caplog):
    """An ECE measured on fewer held-out structures than the minimum is no evidence: the
    campaign starts, says so, and the event records that the gate was not applied."""
    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1, seeds=True))
    cfg.campaign.max_calibration_error = 1e-6  # would refuse, were the gate applied
    n_seeds = len(ase.io.read(tmp_path / "seeds.extxyz", index=":"))
    cfg.campaign.min_calibration_structures = n_seeds + 1
    with caplog.at_level("WARNING", logger="qaware.campaign"):
        run_campaign(cfg, base_dir=tmp_path)
    assert "calibration gate not applied" in caplog.text
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    gate = next(e["payload"] for e in events if e["event"] == "calibration_gate")
    assert gate["applied"] is False and gate["n"] == n_seeds


def test_training_data_is_replayed_in_retraining_and_known_for_novelty(tmp_path, caplog):
    """validator.training_data: the checkpoint's own training structures (labelled at both
    levels) are trained on again with the run's labels at each retraining, and no candidate
    that matches one of them enters the candidate table."""
    from ase.calculators.emt import EMT
    from campaign_fixtures import alloy_pool

    from qaware.structures.hashing import structure_hash

    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1))
    train = []
    for atoms in alloy_pool()[::6]:
        atoms.calc = EMT(asap_cutoff=True)
        low = atoms.get_potential_energy()
        atoms.calc = EMT()
        atoms.info.update({f"energy_{LOW}": low, f"energy_{TOP}": atoms.get_potential_energy()})
        atoms.calc = None
        train.append(atoms)
    ase.io.write(tmp_path / "train.extxyz", train, format="extxyz")
    cfg.validator.training_data = ["train.extxyz"]
    with caplog.at_level("INFO", logger="qaware.campaign"):
        result = run_campaign(cfg, base_dir=tmp_path)
    assert result.state.history[0].validator_retrained
    models = sorted(p.name for p in (tmp_path / "run" / "models").iterdir())
    assert models == ["validator_cycle_0001.pt", "validator_cycle_0001.pt.sha256"]
    line = next(r.getMessage() for r in caplog.records if "retrained on" in r.getMessage())
    assert f"({len(train)} replayed from validator.training_data)" in line
    trained = {structure_hash(a) for a in train}
    with RunDirectory.open(tmp_path / "run").store() as store:
        assert not trained & {c.structure_hash for c in store.candidates()}
    assert result.state.history[0].known > 0


def _qaware(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``python -m qaware ARGS``; output goes to a file (no pipe for orphans to hold)."""
    log = cwd / f"qaware-{args[0]}.log"
    with open(log, "a") as out:
        proc = subprocess.run([sys.executable, "-m", "qaware", *args], cwd=cwd, env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=300)  # fmt: skip
    return proc.returncode, log.read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["evaluate:3", "retrain:2", "step:9"])
def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, crash):
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1",
           "QAWARE_NO_PROGRESS": "1"}  # fmt: skip
    calc = "campaign_fixtures:CountingEMT"
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    for d in (ref_dir, cut_dir):
        d.mkdir()
        write_campaign_inputs(d, budget=6, cycles=3, calculator=calc)
    code, out = _qaware(["run", "campaign.yaml"], ref_dir,
                        {**env, "QAWARE_TEST_CALL_LOG": str(ref_dir / "calls.log")})  # fmt: skip
    assert code == 0, out

    log = cut_dir / "calls.log"
    crash_env = {**env, "QAWARE_CRASH_AT": crash, "QAWARE_TEST_CALL_LOG": str(log)}
    code, out = _qaware(["run", "campaign.yaml"], cut_dir, crash_env)
    assert code == -9, out
    with RunDirectory.open(cut_dir / "run").store() as store:
        in_flight = {c.structure_hash for c in store.calls(status=CallStatus.SUBMITTED)}
    code, out = _qaware(["resume", "run"], cut_dir, {**env, "QAWARE_TEST_CALL_LOG": str(log)})
    assert code == 0, out

    assert _labelled(cut_dir / "run") == _labelled(ref_dir / "run")
    assert _outcome(cut_dir / "run") == _outcome(ref_dir / "run")
    # no finished oracle call was made twice: only calls in flight at the kill may repeat
    ref_calls = Counter((ref_dir / "calls.log").read_text().splitlines())
    cut_calls = Counter(log.read_text().splitlines())
    assert set(cut_calls) == set(ref_calls)
    repeated = [k for k in cut_calls if cut_calls[k] > ref_calls[k]]
    assert len(repeated) <= len(in_flight), (repeated, in_flight)
    summary = json.loads((cut_dir / "run" / "summary.json").read_text())
    assert summary["stopped"].startswith("budget spent")
    assert LOW and TOP


@pytest.mark.slow
def test_faulty_oracle_calls_are_retried_quarantined_and_the_campaign_finishes(
    tmp_path, monkeypatch
):
    from campaign_fixtures import fault_of

    faulty = "campaign_fixtures:FaultyEMT"
    # the timeout covers a fresh process's start: 4 s ran out on an element cell (no fault)
    # while a loaded 2-core machine ran two benchmarks beside the suite
    path = write_campaign_inputs(
        tmp_path, budget=8, cycles=2, top_calculator=faulty, top_timeout=10, top_retries=1
    )
    cfg = load_config(path)
    cfg.campaign.batch_size = 4
    # the isolated calls run in fresh processes: they must import the test calculator
    monkeypatch.setenv("PYTHONPATH", str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = run_campaign(cfg, base_dir=tmp_path)
    assert result.state.stopped.startswith("budget spent (8 of 8")
    with RunDirectory.open(tmp_path / "run").store() as store:
        rows = [c for c in store.candidates() if c.key_value_pairs.get("selected_cycle")]
        top = {c.candidate_id: c for c in store.calls(level=TOP) if c.candidate_id}
    faults = {c.id: fault_of(c.atoms) for c in rows}
    assert set(faults.values()) - {"ok"}, "the pool should trigger some faults"
    for c in rows:
        call = top[c.id]
        if faults[c.id] == "ok":
            assert c.status == "done" and call.status == "done"
            continue
        # every injected fault ends quarantined with its reason, after 1 + max_retries attempts
        assert c.status == "quarantined", (faults[c.id], c.status)
        assert call.status == "failed" and call.attempt == 2
        reason = c.key_value_pairs["reason"]
        expected = {"raise": "injected fault", "nan": "", "hang": "timeout", "die": ""}[
            faults[c.id]
        ]
        assert expected in reason, (faults[c.id], reason)
        assert not c.key_value_pairs.get("hit")  # a failed call is never a hit
    summary = result.state.history
    assert sum(s.failed_calls for s in summary) == sum(f != "ok" for f in faults.values())


def test_a_second_run_reuses_the_first_runs_oracle_calls(tmp_path):
    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1))
    run_campaign(cfg, base_dir=tmp_path)
    again = cfg.model_copy(deep=True)
    again.run.directory = tmp_path / "run2"
    again.store.reuse = ["missing"]
    with pytest.raises(ConfigError, match=r"store\.reuse: missing"):
        run_campaign(again, base_dir=tmp_path)
    assert not (tmp_path / "run2").exists()  # a config error leaves no run directory behind
    again.store.reuse = ["run"]
    run_campaign(again, base_dir=tmp_path)
    assert _labelled(tmp_path / "run2") == _labelled(tmp_path / "run")
    with RunDirectory.open(tmp_path / "run2").store() as store:
        copied = [c.result for c in store.calls(status=CallStatus.DONE)]
    assert copied and all("run/campaign.db" in r.diagnostics["reused_from"] for r in copied)


def test_reference_structures_replace_the_built_in_cells(tmp_path):
    import ase.io
    from ase.build import bulk

    from qaware.structures import structure_hash

    cfg = load_config(write_campaign_inputs(tmp_path, budget=2, cycles=1))
    cell = bulk("Cu", "fcc", a=3.70)  # not the built-in Cu cell (a = 3.615)
    ase.io.write(tmp_path / "refs.extxyz", [cell])
    cfg.campaign.reference_structures = ["refs.extxyz"]
    run_campaign(cfg, base_dir=tmp_path)
    with RunDirectory.open(tmp_path / "run").store() as store:
        labelled = {c.structure_hash for c in store.calls(status=CallStatus.DONE)}
    assert structure_hash(cell) in labelled  # the campaign's Cu reference is this cell
    ase.io.write(tmp_path / "bad.extxyz", [bulk("NiAl", "cesiumchloride", a=2.9)])
    bad = cfg.model_copy(deep=True)
    bad.run.directory = tmp_path / "run_bad"
    bad.campaign.reference_structures = ["bad.extxyz"]
    with pytest.raises(ConfigError, match=r"bad\.extxyz, structure 0: has \['Al', 'Ni'\]"):
        run_campaign(bad, base_dir=tmp_path)
    assert not (tmp_path / "run_bad").exists()  # found before the run directory is made


def test_feasibility_term_scores_rank_times_p_ok_after_gated_calls(tmp_path, monkeypatch):
    """acquisition.feasibility: true on a top level that refuses Pd/Pt compounds: after the
    first refusals, every score is rank(S) × P(ok) with P(ok) from the store's outcomes."""
    from qaware.acquisition import feasibility

    monkeypatch.syspath_prepend(str(HERE))
    path = write_campaign_inputs(
        tmp_path, budget=8, cycles=3, top_calculator="campaign_fixtures:GatedEMT"
    )
    pool = ase.io.read(tmp_path / "pool.extxyz", ":")
    twins = [a.copy() for a in pool]  # a second geometry of every cell: groups recur
    for a in twins:
        a.positions += 0.02
        a.rattle(0.01, seed=3)
    ase.io.write(tmp_path / "pool.extxyz", pool + twins)
    cfg = load_config(path)
    cfg.oracles[1].isolate = False
    cfg.acquisition.strategy, cfg.acquisition.feasibility = "random", True
    run_campaign(cfg, base_dir=tmp_path)
    with RunDirectory.open(tmp_path / "run").store() as store:
        rows = list(store.candidates())
    last = max(c.key_value_pairs.get("scored_cycle", 0) for c in rows)
    tried = [c for c in rows if c.key_value_pairs.get("selected_cycle", last) < last]
    assert any(c.status == "quarantined" for c in tried), "the seed should hit the gate early"
    scored = [c for c in rows if c.key_value_pairs.get("scored_cycle") == last]
    p = feasibility(
        [c.atoms.get_chemical_formula(empirical=True) for c in scored],
        [c.atoms.get_chemical_formula(empirical=True) for c in tried],
        [c.status == "done" for c in tried],
    )
    ranks = [c.key_value_pairs["score"] / pi for c, pi in zip(scored, p, strict=True)]
    assert min(ranks) == pytest.approx(0.0) and max(ranks) == pytest.approx(1.0)
    failed = {c.atoms.get_chemical_formula(empirical=True) for c in tried if c.status != "done"}
    again = [c.atoms.get_chemical_formula(empirical=True) in failed for c in scored]
    assert any(again) and max(p[again]) < min(p[np.logical_not(again)])
