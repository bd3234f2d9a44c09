"""One campaign's live objects and its steps (``step_generate`` ... ``step_retrain``).

Each step reads what it needs from the store, writes its outcome in one transaction per batch,
and is idempotent: redoing a step that a kill cut short gives the same rows (structure hashes
and oracle-call keys are the identities; seeds derive from run seed, cycle and step).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from qaware.acquisition import acquisition_scores, divergence, nearest_distance, select_batch
from qaware.campaign.analysis import KnownStructures, hull_entries_e_above, is_unique
from qaware.campaign.components import Components, generation_conditions
from qaware.campaign.faults import crash_point
from qaware.campaign.state import CampaignState
from qaware.campaign.stopping import retrain_due
from qaware.config import QawareConfig
from qaware.metrics.discovery import divergence_r2
from qaware.oracles.result import OracleResult
from qaware.oracles.runner import OracleRunner, Task
from qaware.store import CallStatus, CandidateStatus
from qaware.thermo.hull import HullEntry
from qaware.thermo.references import ElementalReferences, compute_references

__all__ = ["CampaignContext"]

log = logging.getLogger("qaware.campaign")
S = CandidateStatus
_STEP_IDS = {"generate": 1, "score": 2, "select": 3, "evaluate": 4, "analyze": 5, "retrain": 6}


class CampaignContext:
    """Config, run directory, store, components and state of a running campaign."""

    def __init__(
        self,
        config: QawareConfig,
        run: Any,
        store: Any,
        parts: Components,
        state: CampaignState,
        base_dir: Path,
    ) -> None:
        self.config, self.run, self.store, self.parts = config, run, store, parts
        self.state, self.base_dir = state, base_dir
        self.low, self.top = parts.low, parts.top
        self.references: dict[str, ElementalReferences] = {}
        self.seed_entries: list[HullEntry] = []
        self.known = KnownStructures()
        self._runner: OracleRunner | None = None
        self._executor: Any = None

    # ---- set-up ------------------------------------------------------------------------------
    def seed(self, step: str, extra: int = 0) -> int:
        """Seed of ``step`` in the current cycle (the same after a resume)."""
        seq = np.random.SeedSequence(
            [self.config.run.seed, self.state.cycle, _STEP_IDS[step], extra]
        )
        return int(seq.generate_state(1)[0])

    def runner(self) -> OracleRunner:
        if self._runner is None:
            from qaware.execution import make_executor

            self._executor = make_executor(self.config.execution, folder=self.run.path / "executor")
            self._runner = OracleRunner(
                self.store, self._executor, timeout_s=3600.0, max_retries=1, desc="oracle calls"
            )
        return self._runner

    def task(self, level: str, candidate_id: int | None, atoms: Atoms, shash: str) -> Task:
        spec = next(s for s in self.config.oracles if s.level == level)
        return Task(
            candidate_id,
            atoms,
            self.parts.oracles[level],
            shash,
            timeout_s=spec.timeout_s,
            max_retries=spec.max_retries,
            run_in_child=spec.kind in ("pyscf", "gpaw"),
        )

    def label(self, level: str, structures: Sequence[Atoms]) -> list[OracleResult]:
        """Oracle results at ``level`` for structures outside the candidate table (cached)."""
        from qaware.structures.hashing import structure_hash

        hashes = [structure_hash(a) for a in structures]
        tasks = [self.task(level, None, a, h) for a, h in zip(structures, hashes, strict=True)]
        found = {task.structure_hash: res for task, res, _ in self.runner().evaluate(tasks)}
        return [found[h] for h in hashes]

    def prepare(self) -> None:
        """Reference energies, hull seeds and known structures (all cached in the store)."""
        from qaware.campaign.components import resolve
        from qaware.structures.io import read_structures

        seeds: list[Atoms] = []
        for f in self.config.campaign.hull_seeds:
            seeds.extend(read_structures(resolve(f, self.base_dir)))
        known: list[Atoms] = list(seeds)
        for f in self.config.campaign.known_structures:
            known.extend(read_structures(resolve(f, self.base_dir)))
        self.known.extend(known)
        left = sum(1 for _ in self.store.calls(status=CallStatus.SUBMITTED))
        if left:  # calls a killed driver left in flight: re-attach or resubmit them first
            log.info("finishing %d oracle calls left in flight by an interrupted run", left)
            for _ in self.runner().resume(list(self.parts.oracles.values())):
                pass
        stored = {s for c in self.store.candidates() for s in c.atoms.get_chemical_symbols()}
        if stored:  # a resumed run may start at any step: its references first (cached)
            self.ensure_references(stored)
        if seeds:
            self.ensure_references({s for a in seeds for s in a.get_chemical_symbols()})
            results = self.label(self.top, seeds)
            for i, (atoms, res) in enumerate(zip(seeds, results, strict=True)):
                if res.ok:
                    self.seed_entries.append(self._entry(f"seed:{i}", atoms, res))
            log.info("hull seeds: %d of %d labelled at %s", len(self.seed_entries), len(seeds),
                     self.top)  # fmt: skip

    def ensure_references(self, elements: set[str]) -> None:
        """Elemental references at every level that has an oracle, for ``elements``."""
        kind = self.config.campaign.reference_kind or "periodic"
        for level, oracle in self.parts.oracles.items():
            have = self.references.get(level)
            missing = sorted(elements - set(have.elements if have else ()))
            if not missing:
                continue
            refs = compute_references(
                oracle, missing, kind=kind, runner=lambda o, s, lv=level: self.label(lv, s)
            )
            self.references[level] = have.merged(refs) if have else refs
            if level in self.parts.validator.references:
                current = self.parts.validator.references[level]
                if current.settings_hash == refs.settings_hash:
                    self.parts.validator.references[level] = current.merged(refs)
                else:  # the campaign's oracle defines the zero of formation energies
                    self.parts.validator.references[level] = self.references[level]

    def _entry(self, entry_id: str, atoms: Atoms, result: OracleResult) -> HullEntry:
        counts: dict[str, int] = {}
        for s in atoms.get_chemical_symbols():
            counts[s] = counts.get(s, 0) + 1
        return HullEntry.from_result(entry_id, result, counts, self.references[self.top])

    def calibration_error(self) -> tuple[float | None, str]:
        """Top-level ECE of the validator and what it was measured on.

        ``campaign.calibration_structures`` labelled by the campaign's own top oracle are the
        best evidence (they must be held out from the validator's training); without them the
        calibration recorded in the checkpoint (its own held-out split) is used.
        """
        from qaware.campaign.components import resolve
        from qaware.structures.io import read_structures
        from qaware.validator.calibration import regression_ece

        files = self.config.campaign.calibration_structures
        if files:
            structures = [a for f in files for a in read_structures(resolve(f, self.base_dir))]
            self.ensure_references({s for a in structures for s in a.get_chemical_symbols()})
            pairs = [(a, r) for a, r in zip(structures, self.label(self.top, structures),
                                                strict=True) if r.ok]  # fmt: skip
            if pairs:
                truth = np.array([self._formation(a, r, self.top) for a, r in pairs])
                pred = self.parts.validator.predict([a for a, _ in pairs])
                errors = pred.e_form_per_atom[self.top] - truth
                ece = regression_ece(errors, pred.e_form_std_per_atom[self.top])
                return ece, f"{len(pairs)} held-out structures labelled by the top oracle"
        cal = getattr(self.parts.validator, "calibration", {}).get(self.top)
        if cal is None:
            return None, "nothing"
        return float(cal.ece_after), f"its checkpoint's held-out split ({cal.n} structures)"

    def top_calls_spent(self) -> int:
        """Top-level oracle calls made for candidates (done or failed; failures count)."""
        return sum(
            1
            for c in self.store.calls(level=self.top)
            if c.candidate_id is not None and c.status != CallStatus.SUBMITTED
        )

    # ---- steps -------------------------------------------------------------------------------
    def step_generate(self) -> None:
        from qaware.errors import InvalidStructureError
        from qaware.metrics.generation import compositional_validity
        from qaware.structures.checks import validate_structure
        from qaware.structures.hashing import structure_hash

        cfg, cycle = self.config, self.state.cycle
        cond = generation_conditions(cfg.generator, self.base_dir)
        raw = self.parts.generator.sample(
            cfg.campaign.candidates_per_cycle, seed=self.seed("generate"), conditions=cond
        )
        good, hashes, rejected, known = [], [], 0, 0
        for i, atoms in enumerate(raw):
            try:
                validate_structure(
                    atoms,
                    source=f"cycle {cycle} sample",
                    index=i,
                    min_distance=cfg.screening.min_distance,
                    max_atoms=cfg.screening.max_atoms,
                )
            except InvalidStructureError as err:
                rejected += 1
                log.debug("screened out: %s", err)
                continue
            if cfg.screening.charge_balanced and not compositional_validity(atoms):
                rejected += 1
                continue
            shash = structure_hash(atoms)
            if not self.known.is_novel(atoms, shash):
                known += 1  # a known structure (training data, hull seed) is no candidate
                continue
            good.append(atoms)
            hashes.append(shash)
        before = self.store.count()
        self.store.add_candidates(good, cycle=cycle, origin="generator", hashes=hashes)
        summary = self.state.summary(cycle)
        summary.generated, summary.rejected = len(raw), rejected + known
        summary.new_candidates = self.store.count() - before
        self.run.write_cycle_structures(cycle, "generated", good)
        self.run.events.append("generate", cycle=cycle, payload=vars(summary).copy())
        log.info("cycle %d: generated %d, %d failed screening, %d known, %d new", cycle,
                 len(raw), rejected, known, summary.new_candidates)  # fmt: skip

    def step_score(self) -> None:
        pool = [*self.store.candidates(status=S.GENERATED), *self.store.candidates(status=S.SCORED)]
        cycle = self.state.cycle
        if not pool:
            self.state.summary(cycle).scored = 0
            return
        self.ensure_references({s for c in pool for s in c.atoms.get_chemical_symbols()})
        structures = [c.atoms for c in pool]
        pred = self.parts.validator.predict(structures)
        e_low, e_top = pred.e_form_per_atom[self.low], pred.e_form_per_atom[self.top]
        sigma = pred.e_form_std_per_atom[self.top]
        labelled = [c.atoms for c in self.store.candidates(status=S.DONE)]
        ref_emb = self.parts.validator.predict(labelled).embedding if labelled else np.zeros((0, 1))
        diversity = nearest_distance(pred.embedding, ref_emb)
        acq = self.config.acquisition
        scores = acquisition_scores(
            acq.strategy,
            e_low=e_low,
            e_top=e_top,
            sigma_top=sigma,
            diversity=diversity,
            kind=acq.divergence,
            weight_divergence=acq.weight_divergence,
            weight_uncertainty=acq.weight_uncertainty,
            rng=np.random.default_rng(self.seed("score")),
        )
        e_hull = hull_entries_e_above(
            self._hull_entries(), structures, e_top, self.top, self._top_settings()
        )
        window = self.config.campaign.stability_window
        fields = []
        for i in range(len(pool)):
            eligible = window is None or bool(e_hull[i] - 2 * sigma[i] <= window)
            fields.append(
                {
                    "pred_e_low": float(e_low[i]),
                    "pred_e_top": float(e_top[i]),
                    "pred_sigma_top": float(sigma[i]),
                    "pred_e_hull_top": float(e_hull[i]),
                    "div": float(divergence(e_low[i : i + 1], e_top[i : i + 1], acq.divergence)[0]),
                    "score": float(scores[i]),
                    "eligible": eligible,
                    "scored_cycle": cycle,
                }
            )
        keep = range(len(pool))
        short = self.config.acquisition.shortlist
        if short is not None and len(pool) > short:  # writing a row costs ~3 ms: keep the best
            ranked = np.argsort(-np.where([f["eligible"] for f in fields], scores, -np.inf),
                                kind="stable")  # fmt: skip
            keep = sorted(int(i) for i in ranked[:short])
        self.store.update_candidates([pool[i].id for i in keep], S.SCORED,
                                     [fields[i] for i in keep])  # fmt: skip
        self.state.summary(cycle).scored = len(pool)
        log.info("cycle %d: scored %d candidates (%d within the stability window)", cycle,
                 len(pool), sum(f["eligible"] for f in fields))  # fmt: skip

    def step_select(self) -> None:
        cycle = self.state.cycle
        already = list(self.store.candidates(status=S.SELECTED))
        if not already:
            left = self.config.campaign.budget - self.top_calls_spent()
            k = max(0, min(self.config.campaign.batch_size, left))
            pool = [
                c
                for c in self.store.candidates(status=S.SCORED)
                if c.key_value_pairs.get("scored_cycle") == cycle
                and c.key_value_pairs.get("eligible", True)
            ]
            scores = np.array([c.key_value_pairs["score"] for c in pool])
            emb = None
            if self.config.acquisition.min_diversity > 0 and pool:
                emb = self.parts.validator.predict([c.atoms for c in pool]).embedding
            picks = select_batch(
                scores, k, embedding=emb, min_distance=self.config.acquisition.min_diversity
            )
            chosen = [pool[i].id for i in picks]
            if chosen:
                self.store.update_candidates(
                    chosen, S.SELECTED, [{"selected_cycle": cycle}] * len(chosen)
                )
            already = [self.store.get(i) for i in chosen]
        self.state.summary(cycle).selected = len(already)
        self.run.write_cycle_structures(cycle, "selected", [c.atoms for c in already])
        log.info("cycle %d: selected %d for %s", cycle, len(already), self.top)

    def step_evaluate(self) -> None:
        cycle = self.state.cycle
        todo = [
            *self.store.candidates(status=S.SELECTED),
            *self.store.candidates(status=S.SUBMITTED),
        ]
        todo += list(self.store.candidates(status=S.FAILED))  # a kill between fail and quarantine
        for status in (S.SELECTED, S.FAILED):  # committed before anything goes to an executor
            ids = [c.id for c in todo if c.status == status]
            if ids:
                self.store.set_status(ids, S.SUBMITTED)
        tasks = [self.task(self.top, c.id, c.atoms, c.structure_hash) for c in todo]
        if self.low in self.parts.oracles:
            tasks += [self.task(self.low, c.id, c.atoms, c.structure_hash) for c in todo]
        summary = self.state.summary(cycle)
        for task, result, _cached in self.runner().evaluate(tasks):
            crash_point("evaluate")
            if task.oracle.level != self.top or task.candidate_id is None:
                continue
            if result.ok:
                self.store.set_status([task.candidate_id], S.DONE)
            else:
                why = {"reason": (result.reason or "unknown")[:200]}
                self.store.set_status([task.candidate_id], S.FAILED, fields=why)
                self.store.set_status([task.candidate_id], S.QUARANTINED)  # retries were spent
        mine = {  # counted from the store, so a resumed cycle counts what it did before the kill
            c.id: c.status
            for c in self.store.candidates()
            if c.key_value_pairs.get("selected_cycle") == cycle
        }
        summary.top_calls = sum(
            1
            for c in self.store.calls(level=self.top)
            if c.candidate_id in mine and c.status != CallStatus.SUBMITTED
        )
        summary.failed_calls = sum(1 for st in mine.values() if st == S.QUARANTINED)
        log.info("cycle %d: %d %s calls (%d failed)", cycle, summary.top_calls, self.top,
                 summary.failed_calls)  # fmt: skip

    def step_analyze(self) -> None:
        cycle = self.state.cycle
        rows = [
            c
            for c in self.store.candidates(status=S.DONE)
            if c.key_value_pairs.get("selected_cycle") == cycle
        ]
        results = self._results()
        entries = self._hull_entries(results)
        hits_so_far = [
            c.atoms
            for c in self.store.candidates(status=S.DONE)
            if c.key_value_pairs.get("discovery")
            and c.key_value_pairs.get("selected_cycle", 0) < cycle
        ]
        threshold = self.config.campaign.hit_threshold
        fields, hits, discoveries = [], 0, 0
        pred_d, true_d = [], []
        for c in rows:
            top_res = results[self.top].get(c.id)
            e_top = self._entry(f"cand:{c.id}", c.atoms, top_res).e_form_per_atom
            e_hull = hull_entries_e_above(entries, [c.atoms], np.array([e_top]), self.top,
                                          self._top_settings())[0]  # fmt: skip
            hit = bool(e_hull <= threshold + 1e-8)
            novel = self.known.is_novel(c.atoms, c.structure_hash)  # screened, unless the
            discovery = hit and novel and is_unique(c.atoms, hits_so_far)  # known set grew
            if discovery:
                hits_so_far.append(c.atoms)
            hits += hit
            discoveries += discovery
            f: dict[str, Any] = {"e_form_top": e_top, "e_hull_top": float(e_hull), "hit": hit,
                                 "novel": novel, "discovery": discovery}  # fmt: skip
            low_res = results.get(self.low, {}).get(c.id)
            if low_res is not None and self.low in self.references:
                e_low = self._formation(c.atoms, low_res, self.low)
                f["e_form_low"] = e_low
                pred_d.append(c.key_value_pairs.get("pred_e_low", np.nan) - c.key_value_pairs.get(
                    "pred_e_top", np.nan))  # fmt: skip
                true_d.append(e_low - e_top)
            fields.append(f)
        if rows:
            self.store.annotate_candidates([c.id for c in rows], fields)
        summary = self.state.summary(cycle)
        summary.hits, summary.discoveries = hits, discoveries
        r2 = divergence_r2(np.array(pred_d), np.array(true_d))
        summary.divergence_r2 = None if np.isnan(r2) else r2
        self.run.events.append("analyze", cycle=cycle, payload=vars(summary).copy())
        log.info("cycle %d: %d hits, %d discoveries", cycle, hits, discoveries)

    def step_retrain(self) -> None:
        cycle, camp = self.state.cycle, self.config.campaign
        summary = self.state.summary(cycle)
        if (
            retrain_due(cycle, camp.retrain_validator_every)
            and self.config.validator.retrain_epochs
        ):
            structures, labels = self._training_set()
            if structures:
                import torch

                from qaware.validator.train import TrainConfig

                torch.manual_seed(self.seed("retrain"))
                v = self.parts.validator
                v.train_config = TrainConfig(
                    epochs=self.config.validator.retrain_epochs,
                    max_seconds=self.config.validator.retrain_max_seconds,
                    seed=self.seed("retrain"),
                    validation_fraction=0.2 if len(structures) >= 10 else 0.0,
                )
                v.fit(structures, labels, warm_start=True)
                crash_point("retrain")
                name = f"validator_cycle_{cycle:04d}.pt"
                tmp = self.run.path / "models" / (name + ".new")
                v.save(tmp)
                self.run.save_model(name, tmp)
                tmp.unlink()
                self.state.validator_model = name
                summary.validator_retrained = True
        hits = [
            c.atoms for c in self.store.candidates(status=S.DONE) if c.key_value_pairs.get("hit")
        ]
        gen = self.parts.generator
        if retrain_due(cycle, camp.retrain_generator_every) and hits and hasattr(gen, "fine_tune"):
            gen.fine_tune(hits, steps=self.config.generator.fine_tune_steps,
                          seed=self.seed("retrain", 1))  # fmt: skip
            name = f"generator_cycle_{cycle:04d}.pt"
            tmp = self.run.path / "models" / (name + ".new")
            gen.save(tmp)
            self.run.save_model(name, tmp)
            tmp.unlink()
            self.state.generator_model = name
            summary.generator_retrained = True

    # ---- helpers -----------------------------------------------------------------------------
    def _top_settings(self) -> str:
        return self.references[self.top].settings_hash

    def _results(self) -> dict[str, dict[int, OracleResult]]:
        """level -> candidate id -> successful result."""
        out: dict[str, dict[int, OracleResult]] = {}
        for level in self.parts.oracles:
            out[level] = {
                c.candidate_id: c.result
                for c in self.store.calls(level=level, status=CallStatus.DONE)
                if c.candidate_id is not None and c.result is not None
            }
        return out

    def _formation(self, atoms: Atoms, result: OracleResult, level: str) -> float:
        from qaware.thermo.formation import formation_energy_from_result

        counts: dict[str, int] = {}
        for s in atoms.get_chemical_symbols():
            counts[s] = counts.get(s, 0) + 1
        return formation_energy_from_result(result, counts, self.references[level])

    def _hull_entries(
        self, results: dict[str, dict[int, OracleResult]] | None = None
    ) -> list[HullEntry]:
        """Hull seeds plus every candidate labelled at the top level so far."""
        results = self._results() if results is None else results
        entries = list(self.seed_entries)
        for c in self.store.candidates(status=S.DONE):
            res = results[self.top].get(c.id)
            if res is not None:
                entries.append(self._entry(f"cand:{c.id}", c.atoms, res))
        return entries

    def _training_set(self) -> tuple[list[Atoms], dict[str, list[float | None]]]:
        """Every structure labelled in this run (candidates and hull seeds), total energies per
        level (None where a level is missing), in call-row order (deterministic)."""
        by_hash: dict[str, Atoms] = {}
        labels: dict[str, dict[str, float]] = {}
        elemental = set()
        for level in self.parts.oracles:
            for c in self.store.calls(level=level, status=CallStatus.DONE):
                if c.result is None or c.result.energy is None:
                    continue
                if len(set(c.atoms.get_chemical_symbols())) == 1 and c.candidate_id is None:
                    elemental.add(c.structure_hash)
                by_hash.setdefault(c.structure_hash, c.atoms)
                labels.setdefault(c.structure_hash, {})[level] = float(c.result.energy)
        keys = [h for h in by_hash if h not in elemental]
        structures = [by_hash[h] for h in keys]
        names = list(self.parts.validator.ladder.names)
        return structures, {n: [labels[h].get(n) for h in keys] for n in names}
