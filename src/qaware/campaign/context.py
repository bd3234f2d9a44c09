"""One campaign's live objects: config, run directory, store, components, state, and the shared
helpers of its steps (oracle tasks and labelling, elemental references, hull entries, training
sets). The steps themselves are in :mod:`qaware.campaign.steps`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from qaware.campaign.components import Components
from qaware.campaign.novelty import KnownStructures
from qaware.campaign.state import CampaignState
from qaware.config import QawareConfig
from qaware.errors import ConfigError
from qaware.oracles.result import OracleResult
from qaware.oracles.runner import OracleRunner, Task
from qaware.protocols import Oracle
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
        self._reuse: list[Any] = []

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
            self._reuse = [self._open_reused(p) for p in self.config.store.reuse]
            self._runner = OracleRunner(
                self.store, self._executor, timeout_s=3600.0, max_retries=1,
                desc="oracle calls", reuse=self._reuse,
            )  # fmt: skip
        return self._runner

    def _open_reused(self, path: str) -> Any:
        """The store of the run directory ``path`` (``store.reuse``), read for finished calls."""
        from qaware.campaign.components import check_reused
        from qaware.store import RunDirectory

        where = check_reused(path, self.base_dir)
        if where.resolve() == self.run.path.resolve():
            raise ConfigError(f"store.reuse: {path} is this run's own directory")
        return RunDirectory.reused_store(where, "store.reuse")

    def close(self) -> None:
        """Shut the executor down (its workers end) and close the reused stores; the run's own
        store stays the caller's."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor, self._runner = None, None
        for other in self._reuse:
            other.close()
        self._reuse = []

    def task(self, level: str, candidate_id: int | None, atoms: Atoms, shash: str) -> Task:
        spec = next(s for s in self.config.oracles if s.level == level)
        return Task(
            candidate_id,
            atoms,
            self.parts.oracles[level],
            shash,
            timeout_s=spec.timeout_s,
            max_retries=spec.max_retries,
            run_in_child=spec.isolate
            if spec.isolate is not None
            else spec.kind in ("pyscf", "gpaw", "ase"),
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
        known.extend(item.atoms for item in self.parts.training_data)
        self.known.extend(known)
        left = sum(1 for _ in self.store.calls(status=CallStatus.SUBMITTED))
        if left:  # calls a killed driver left in flight: re-attach or resubmit them first
            log.info("finishing %d oracle calls left in flight by an interrupted run", left)
            for _ in self.runner().resume(list(self.parts.oracles.values())):
                pass
        elements, periodic = self.store.candidate_elements()
        if elements:  # a resumed run may start at any step: its references first (cached)
            self.ensure_elements(elements, periodic=periodic)
        if seeds:
            self.ensure_references(seeds)
            results = self.label(self.top, seeds)
            for i, (atoms, res) in enumerate(zip(seeds, results, strict=True)):
                if res.ok:
                    self.seed_entries.append(self._entry(f"seed:{i}", atoms, res))
            log.info("hull seeds: %d of %d labelled at %s", len(self.seed_entries), len(seeds),
                     self.top)  # fmt: skip

    def ensure_references(self, structures: Sequence[Atoms]) -> None:
        """Elemental references at every level that has an oracle, for the elements of
        ``structures``: periodic reference cells when the structures are crystals, atoms and
        half-diatomics when they are molecules (unless ``campaign.reference_kind`` says)."""
        elements = {s for a in structures for s in a.get_chemical_symbols()}
        self.ensure_elements(elements, periodic=all(a.pbc.all() for a in structures))

    def ensure_elements(self, elements: Iterable[str], *, periodic: bool) -> None:
        """Elemental references of ``elements`` at every level with an oracle (see
        :meth:`ensure_references`; ``periodic``: the structures needing them are crystals)."""
        elements = set(elements)
        kind = self.config.campaign.reference_kind or ("periodic" if periodic else "molecular")
        for level, oracle in self.parts.oracles.items():
            have = self.references.get(level)
            missing = sorted(elements - set(have.elements if have else ()))
            if not missing:
                continue

            def runner(_: Oracle, structures: Sequence[Atoms], lv: str = level) -> list[Any]:
                return self.label(lv, structures)

            try:
                refs = compute_references(oracle, missing, kind=kind, runner=runner,
                                          overrides=self.parts.reference_overrides)  # fmt: skip
            except ConfigError as err:
                raise ConfigError(
                    f"{err} (a campaign takes them from campaign.reference_structures: files "
                    "with one cell of each such element)"
                ) from None
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

    def calibration_error(self) -> tuple[float | None, int, str]:
        """Top-level ECE of the validator, on how many structures, and what they were.

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
            self.ensure_references(structures)
            pairs = [(a, r) for a, r in zip(structures, self.label(self.top, structures),
                                                strict=True) if r.ok]  # fmt: skip
            if pairs:
                truth = np.array([self._formation(a, r, self.top) for a, r in pairs])
                pred = self.parts.validator.predict([a for a, _ in pairs])
                errors = pred.e_form_per_atom[self.top] - truth
                ece = regression_ece(errors, pred.e_form_std_per_atom[self.top])
                return ece, len(pairs), "held-out structures labelled by the top oracle"
        cal = getattr(self.parts.validator, "calibration", {}).get(self.top)
        if cal is None:
            return None, 0, "nothing"
        return float(cal.ece_after), int(cal.n), "its checkpoint's held-out split"

    def top_calls_spent(self) -> int:
        """Top-level oracle calls made for candidates (done or failed; failures count)."""
        return sum(
            1
            for c in self.store.calls(level=self.top)
            if c.candidate_id is not None and c.status != CallStatus.SUBMITTED
        )

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

    def _training_set(self) -> tuple[list[Atoms], dict[str, list[float | None]], int]:
        """Every structure labelled in this run (candidates and hull seeds), then the replayed
        ``validator.training_data`` (the run's label wins where both have a level): total
        energies per level (None where a level is missing), in call-row then file order
        (deterministic); and how many structures came from the replay alone."""
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
        own = len(keys)
        for item in self.parts.training_data:  # the run's label wins at a level it has
            h = item.structure_hash
            if h in elemental:
                continue
            if h in by_hash:
                labels[h] = {**item.energies, **labels[h]}
                continue
            by_hash[h], labels[h] = item.atoms, dict(item.energies)
            keys.append(h)
        structures = [by_hash[h] for h in keys]
        names = list(self.parts.validator.ladder.names)
        return structures, {n: [labels[h].get(n) for h in keys] for n in names}, len(keys) - own
