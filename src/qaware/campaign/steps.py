"""The named steps of one campaign cycle (CAMD's shape, DESIGN.md §1).

``generate → score → select → evaluate → analyze → retrain``: each is a function of the
:class:`~qaware.campaign.context.CampaignContext`, reads what it needs from the store, writes its
outcome in one transaction per batch and is idempotent, so a step cut short by a kill is redone
with the same result (structure hashes and oracle-call keys are the identities; seeds derive from
run seed, cycle and step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qaware.acquisition import (
    acquisition_scores,
    divergence,
    feasibility,
    feasibility_weighted,
    nearest_distance,
    select_batch,
)
from qaware.campaign.analysis import hull_entries_e_above
from qaware.campaign.components import generation_conditions
from qaware.campaign.context import CampaignContext
from qaware.campaign.novelty import is_unique
from qaware.campaign.stopping import retrain_due
from qaware.faults import crash_point
from qaware.metrics.discovery import divergence_r2
from qaware.store import CallStatus, CandidateStatus

if TYPE_CHECKING:
    from ase import Atoms

__all__ = ["STEP_FUNCTIONS", "analyze", "evaluate", "generate", "retrain", "score", "select"]

log = logging.getLogger("qaware.campaign")
S = CandidateStatus


def generate(ctx: CampaignContext) -> None:
    """Sample, screen (geometry, charge balance, known structures) and store new candidates."""
    from qaware.campaign.screening import ScreenRules, screen_batch, screen_workers

    cfg, cycle = ctx.config, ctx.state.cycle
    cond = generation_conditions(cfg.generator, ctx.base_dir, ctx.parts.proxy)
    raw = ctx.parts.generator.sample(
        cfg.campaign.candidates_per_cycle, seed=ctx.seed("generate"), conditions=cond
    )
    rules = ScreenRules(
        min_distance=cfg.screening.min_distance,
        max_atoms=cfg.screening.max_atoms,
        charge_balanced=cfg.screening.charge_balanced,
        source=f"cycle {cycle} sample",
    )
    verdicts = screen_batch(raw, rules, ctx.known, workers=screen_workers())
    good = [atoms for atoms, v in zip(raw, verdicts, strict=True) if v.outcome == "new"]
    hashes = [v.structure_hash for v in verdicts if v.outcome == "new"]
    known = sum(v.outcome == "known" for v in verdicts)  # training data, hull seeds: no candidates
    rejected = sum(v.outcome == "rejected" for v in verdicts)
    for v in verdicts:
        if v.reason is not None:
            log.debug("screened out: %s", v.reason)
    before = ctx.store.count()
    ctx.store.add_candidates(good, cycle=cycle, origin="generator", hashes=hashes)
    summary = ctx.state.summary(cycle)
    summary.generated, summary.rejected, summary.known = len(raw), rejected + known, known
    summary.new_candidates = ctx.store.count() - before
    ctx.run.write_cycle_structures(cycle, "generated", good)
    ctx.run.events.append("generate", cycle=cycle, payload=vars(summary).copy())
    log.info("cycle %d: generated %d, %d failed screening, %d known, %d new", cycle,
             len(raw), rejected, known, summary.new_candidates)  # fmt: skip


def score(ctx: CampaignContext) -> None:
    """Predict every level for the unlabelled pool; write D, U, S and predicted E_hull."""
    pool = [*ctx.store.candidates(status=S.GENERATED), *ctx.store.candidates(status=S.SCORED)]
    cycle = ctx.state.cycle
    if not pool:
        ctx.state.summary(cycle).scored = 0
        return
    ctx.ensure_references([c.atoms for c in pool])
    structures = [c.atoms for c in pool]
    pred = ctx.parts.validator.predict(structures)
    e_low, e_top = pred.e_form_per_atom[ctx.low], pred.e_form_per_atom[ctx.top]
    sigma = pred.e_form_std_per_atom[ctx.top]
    labelled = [c.atoms for c in ctx.store.candidates(status=S.DONE)]
    ref_emb = ctx.parts.validator.predict(labelled).embedding if labelled else np.zeros((0, 1))
    diversity = nearest_distance(pred.embedding, ref_emb)
    acq = ctx.config.acquisition
    scores = acquisition_scores(
        acq.strategy,
        e_low=e_low,
        e_top=e_top,
        sigma_top=sigma,
        diversity=diversity,
        kind=acq.divergence,
        weight_divergence=acq.weight_divergence,
        weight_uncertainty=acq.weight_uncertainty,
        rng=np.random.default_rng(ctx.seed("score")),
    )
    if acq.feasibility:
        scores = feasibility_weighted(scores, _feasibility(ctx, structures))
    e_hull = hull_entries_e_above(
        ctx._hull_entries(), structures, e_top, ctx.top, ctx._top_settings()
    )
    window = ctx.config.campaign.stability_window
    d_vec = divergence(e_low, e_top, acq.divergence)
    fields = []
    for i in range(len(pool)):
        eligible = window is None or bool(e_hull[i] - 2 * sigma[i] <= window)
        fields.append(
            {
                "pred_e_low": float(e_low[i]),
                "pred_e_top": float(e_top[i]),
                "pred_sigma_top": float(sigma[i]),
                "pred_e_hull_top": float(e_hull[i]),
                "div": float(d_vec[i]),
                "score": float(scores[i]),
                "eligible": eligible,
                "scored_cycle": cycle,
            }
        )
        if pred.domain_distance is not None:  # > 1: outside the validator's training data
            fields[-1]["pred_domain_distance"] = float(pred.domain_distance[i])
    keep: list[int] = list(range(len(pool)))
    short = ctx.config.acquisition.shortlist
    if short is not None and len(pool) > short:  # writing a row costs ~3 ms: keep the best
        ranked = np.argsort(-np.where([f["eligible"] for f in fields], scores, -np.inf),
                            kind="stable")  # fmt: skip
        keep = sorted(int(i) for i in ranked[:short])
    ctx.store.update_candidates([pool[i].id for i in keep], S.SCORED,
                                 [fields[i] for i in keep])  # fmt: skip
    ctx.state.summary(cycle).scored = len(pool)
    outside = 0 if pred.domain_distance is None else int(np.sum(pred.domain_distance > 1.0))
    log.info("cycle %d: scored %d candidates (%d within the stability window, %d outside the "
             "validator's training data)", cycle, len(pool), sum(f["eligible"] for f in fields),
             outside)  # fmt: skip


def _feasibility(ctx: CampaignContext, structures: list[Atoms]) -> np.ndarray:
    """P(ok) of a top-level call per structure, from the candidates labelled (done) and given up
    on (quarantined: failed, timed out or gated) so far, grouped by reduced formula."""
    tried = [*ctx.store.candidates(status=S.DONE), *ctx.store.candidates(status=S.QUARANTINED)]
    return feasibility(
        [a.get_chemical_formula(empirical=True) for a in structures],
        [c.atoms.get_chemical_formula(empirical=True) for c in tried],
        [c.status == S.DONE for c in tried],
    )


def select(ctx: CampaignContext) -> None:
    """Pick this cycle's batch by S (greedy, diverse, within budget); idempotent."""
    cycle = ctx.state.cycle
    already = list(ctx.store.candidates(status=S.SELECTED))
    if not already:
        left = ctx.config.campaign.budget - ctx.top_calls_spent()
        k = max(0, min(ctx.config.campaign.batch_size, left))
        pool = [
            c
            for c in ctx.store.candidates(status=S.SCORED)
            if c.key_value_pairs.get("scored_cycle") == cycle
            and c.key_value_pairs.get("eligible", True)
        ]
        scores = np.array([c.key_value_pairs["score"] for c in pool])
        emb = None
        if ctx.config.acquisition.min_diversity > 0 and pool:
            emb = ctx.parts.validator.predict([c.atoms for c in pool]).embedding
        picks = select_batch(
            scores, k, embedding=emb, min_distance=ctx.config.acquisition.min_diversity
        )
        chosen = [pool[i].id for i in picks]
        if chosen:
            ctx.store.update_candidates(
                chosen, S.SELECTED, [{"selected_cycle": cycle}] * len(chosen)
            )
        already = [ctx.store.get(i) for i in chosen]
    ctx.state.summary(cycle).selected = len(already)
    ctx.run.write_cycle_structures(cycle, "selected", [c.atoms for c in already])
    log.info("cycle %d: selected %d for %s", cycle, len(already), ctx.top)


def evaluate(ctx: CampaignContext) -> None:
    """Label the batch at the top (and low) level; each result is stored as it arrives."""
    cycle = ctx.state.cycle
    todo = [
        *ctx.store.candidates(status=S.SELECTED),
        *ctx.store.candidates(status=S.SUBMITTED),
    ]
    todo += list(ctx.store.candidates(status=S.FAILED))  # a kill between fail and quarantine
    for status in (S.SELECTED, S.FAILED):  # committed before anything goes to an executor
        ids = [c.id for c in todo if c.status == status]
        if ids:
            ctx.store.set_status(ids, S.SUBMITTED)
    tasks = [ctx.task(ctx.top, c.id, c.atoms, c.structure_hash) for c in todo]
    if ctx.low in ctx.parts.oracles:
        tasks += [ctx.task(ctx.low, c.id, c.atoms, c.structure_hash) for c in todo]
    summary = ctx.state.summary(cycle)
    for task, result, _cached in ctx.runner().evaluate(tasks):
        crash_point("evaluate")
        if task.oracle.level != ctx.top or task.candidate_id is None:
            continue
        if result.ok:
            ctx.store.set_status([task.candidate_id], S.DONE)
        else:
            why = {"reason": (result.reason or "unknown")[:200]}
            ctx.store.set_status([task.candidate_id], S.FAILED, fields=why)
            ctx.store.set_status([task.candidate_id], S.QUARANTINED)  # retries were spent
    mine = {  # counted from the store, so a resumed cycle counts what it did before the kill
        c.id: c.status
        for c in ctx.store.candidates()
        if c.key_value_pairs.get("selected_cycle") == cycle
    }
    summary.top_calls = sum(
        1
        for c in ctx.store.calls(level=ctx.top)
        if c.candidate_id in mine and c.status != CallStatus.SUBMITTED
    )
    summary.failed_calls = sum(1 for st in mine.values() if st == S.QUARANTINED)
    log.info("cycle %d: %d %s calls (%d failed)", cycle, summary.top_calls, ctx.top,
             summary.failed_calls)  # fmt: skip


def analyze(ctx: CampaignContext) -> None:
    """Formation energies, E_hull, hits and discoveries of this cycle's labelled batch."""
    cycle = ctx.state.cycle
    rows = [
        c
        for c in ctx.store.candidates(status=S.DONE)
        if c.key_value_pairs.get("selected_cycle") == cycle
    ]
    results = ctx._results()
    entries = ctx._hull_entries(results)
    hits_so_far = [
        c.atoms
        for c in ctx.store.candidates(status=S.DONE)
        if c.key_value_pairs.get("discovery") and c.key_value_pairs.get("selected_cycle", 0) < cycle
    ]
    threshold = ctx.config.campaign.hit_threshold
    fields, hits, discoveries = [], 0, 0
    pred_d, true_d = [], []
    for c in rows:
        top_res = results[ctx.top].get(c.id)
        if top_res is None:  # done means the top call is done: a store out of step with itself
            raise RuntimeError(f"candidate {c.id} is done without a top-level result")
        e_top = ctx._entry(f"cand:{c.id}", c.atoms, top_res).e_form_per_atom
        e_hull = hull_entries_e_above(entries, [c.atoms], np.array([e_top]), ctx.top,
                                      ctx._top_settings())[0]  # fmt: skip
        hit = bool(e_hull <= threshold + 1e-8)
        novel = ctx.known.is_novel(c.atoms, c.structure_hash)  # screened, unless the
        discovery = hit and novel and is_unique(c.atoms, hits_so_far)  # known set grew
        if discovery:
            hits_so_far.append(c.atoms)
        hits += hit
        discoveries += discovery
        f: dict[str, Any] = {"e_form_top": e_top, "e_hull_top": float(e_hull), "hit": hit,
                             "novel": novel, "discovery": discovery}  # fmt: skip
        low_res = results.get(ctx.low, {}).get(c.id)
        if low_res is not None and ctx.low in ctx.references:
            e_low = ctx._formation(c.atoms, low_res, ctx.low)
            f["e_form_low"] = e_low
            pred_d.append(c.key_value_pairs.get("pred_e_low", np.nan) - c.key_value_pairs.get(
                "pred_e_top", np.nan))  # fmt: skip
            true_d.append(e_low - e_top)
        fields.append(f)
    if rows:
        ctx.store.annotate_candidates([c.id for c in rows], fields)
    summary = ctx.state.summary(cycle)
    summary.hits, summary.discoveries = hits, discoveries
    r2 = divergence_r2(np.array(pred_d), np.array(true_d))
    summary.divergence_r2 = None if np.isnan(r2) else r2
    ctx.run.events.append("analyze", cycle=cycle, payload=vars(summary).copy())
    log.info("cycle %d: %d hits, %d discoveries", cycle, hits, discoveries)


def retrain(ctx: CampaignContext) -> None:
    """Warm-start the validator on every label so far (every ``retrain_validator_every``
    cycles) and fine-tune the generator on the hits (every ``retrain_generator_every``)."""
    cycle, camp = ctx.state.cycle, ctx.config.campaign
    summary = ctx.state.summary(cycle)
    if retrain_due(cycle, camp.retrain_validator_every) and ctx.config.validator.retrain_epochs:
        structures, labels, replayed = ctx._training_set()
        if structures:
            import torch

            from qaware.validator.train import TrainConfig

            torch.manual_seed(ctx.seed("retrain"))
            v = ctx.parts.validator
            v.train_config = TrainConfig(
                epochs=ctx.config.validator.retrain_epochs,
                max_seconds=ctx.config.validator.retrain_max_seconds,
                seed=ctx.seed("retrain"),
                validation_fraction=0.2 if len(structures) >= 10 else 0.0,
            )
            v.fit(structures, labels, warm_start=True)
            log.info("cycle %d: validator retrained on %d structures (%d replayed from "
                     "validator.training_data)", cycle, len(structures), replayed)  # fmt: skip
            crash_point("retrain")
            ctx.state.validator_model = _save_model(ctx, v, f"validator_cycle_{cycle:04d}.pt")
            summary.validator_retrained = True
    hits = [c.atoms for c in ctx.store.candidates(status=S.DONE) if c.key_value_pairs.get("hit")]
    gen: Any = ctx.parts.generator  # fine_tune/save: DiffusionGenerator's, when it has them
    if retrain_due(cycle, camp.retrain_generator_every) and hits and hasattr(gen, "fine_tune"):
        # a conditioned model learns the hits' q from the proxy; without one (or for a model
        # whose condition was never trained) their condition is dropped
        proxy, conditioned = ctx.parts.proxy, getattr(gen, "descriptor_conditioned", False)
        q = proxy.predict(hits) if proxy is not None and conditioned else None
        gen.fine_tune(hits, steps=ctx.config.generator.fine_tune_steps,
                      seed=ctx.seed("retrain", 1), descriptors=q)  # fmt: skip
        ctx.state.generator_model = _save_model(ctx, gen, f"generator_cycle_{cycle:04d}.pt")
        summary.generator_retrained = True


def _save_model(ctx: CampaignContext, model: Any, name: str) -> str:
    """Save ``model`` (it has ``save(path)``) to the run's models/ with a sha256; return name."""
    tmp = ctx.run.path / "models" / (name + ".new")
    model.save(tmp)
    ctx.run.save_model(name, tmp)
    tmp.unlink()
    Path(f"{tmp}.sha256").unlink(missing_ok=True)  # the checkpoint writer's own sidecar
    return name


STEP_FUNCTIONS: dict[str, Callable[[CampaignContext], None]] = {
    "generate": generate,
    "score": score,
    "select": select,
    "evaluate": evaluate,
    "analyze": analyze,
    "retrain": retrain,
}
"""Step name -> function, in the order of :data:`qaware.campaign.state.STEPS`."""
