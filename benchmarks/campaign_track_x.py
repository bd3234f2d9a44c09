"""Track X: active-learning replay campaigns over the Track X crystal data set (DESIGN.md §5).

    OMP_NUM_THREADS=1 nice -n 10 nohup python benchmarks/campaign_track_x.py \
        > benchmarks/results/campaign_track_x.log 2>&1 &
    python benchmarks/campaign_track_x.py --ladder dft     # GPAW PBE -> HSE06@PBE: ..._dft.json
    python benchmarks/campaign_track_x.py --quick          # 1 seed, one fold

The strategies, cycle loop and metrics are Track R's (``campaign_track_r.run_campaign``,
``summarise``), on crystals instead of compositions, with the package's validator (MF-ENNP):

* **Ladders** (levels of ``data/track_x``, cheapest first): ``standin`` = GGA+U@SevenNet-MF-0 ->
  r2SCAN@SevenNet-MF-0 (costs 1, 3; both on all 618 cells; the quick start's ladder, a stand-in
  for live DFT, labelled as such), ``dft`` = GPAW PBE -> HSE06@PBE (HSE06 on the PBE
  orbitals, on every cell whose PBE is ok; priced 1, 30 as PBE and HSE06 in DESIGN.md §5,
  although the one-shot hybrid costs less than the PBE run with descriptors here).
* **Values**: a perovskite's value at a level is its energy above the hull of that level's known
  phases in the data set (element cells ``ref:element`` at 0, binary oxides ``ref:oxide``), eV/atom,
  from formation energies referenced to that level's own element cells. Nitrides, fluorides and
  sulfides are not in the data set, so mixed-anion cells' E_hull is too low (an upper bound on
  their stability): it is the same hull for every strategy.
* **Hits**: ``stable``: E_hull(top) <= 0 (DESIGN.md §3); ``missed``: E_hull(top) <= 0 <
  E_hull(low), stable at the top level but not at the low one (what the low level gets wrong).
* **Split**: a fold's pool is one anion family (``X3=...``), its history every other cell;
  ``lofo`` runs every family once (summed budget 10 % of the pool cells). Pool cells need both
  levels (the truth); history perovskites need the low level; every row's elements need an
  element cell at both levels (the validator references every level).
* **Start**: the low level of every cell (history and pool: bought for the pool, cost 1 each);
  the top level of the element cells and oxides (the hull's known phases) and of the history
  perovskites that have it (``seed_fraction`` of the perovskites, 1.0 = all: on Track X the
  history is the families already labelled; Track R seeds 5 % because its top rung is
  experiment). A selected candidate buys the top level. Per cycle: refit the validator (warm
  start, ``refit_epochs``), predict the pool's top-level E_hull and σ, score, select
  ceil(budget / 5), call, count hits.
* **Validator**: :class:`qaware.validator.MFValidator` (the quick-start architecture), the data
  set's element cells as its references, trained from scratch per fold and seed (``epochs``) on
  the perovskites' labels only: the element cells (molecules in boxes, 29-atom α-Mn) and oxides
  fix the references and the hull, and training on them as well made a held-out family's
  predictions worse (one development check on X3=O3, seed 0: top-level MAE 0.45 vs 0.20 eV/atom;
  no strategy was compared). Variants ``full`` (low + top) and ``low_only`` (D = 0, S reduces to
  U); a two-level ladder has no ``direct`` ablation (it is the full model).

Settings were fixed before the full run. Two quick runs came first (X3=O3, seed 0, stand-in,
``stable`` hits): the first (5 % seed set, every cell trained on) checked the script end to end
and showed the validator's errors that led to the two choices above (not its hit counts); the
second, with the settings as they are now, checked that; nothing was changed after it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import campaign_track_r
from _partial import PartialUnits
from _provenance import RESULTS, Recorder
from _track_x_table import (  # noqa: F401 - DATA, ROOT, TAG_*: read by the tests
    DATA,
    FAMILY_PREFIX,
    ROOT,
    TAG_ELEMENT,
    TAG_OXIDE,
    Table,
    load_table,
)
from campaign_track_r import State, summarise
from qaware.acquisition import nearest_distance
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.oracles.replay import ReplayOracle
from qaware.oracles.replay_tables import ReplayTable

OUTPUT: Final = RESULTS / "campaign_track_x.json"
OUTPUT_DFT: Final = RESULTS / "campaign_track_x_dft.json"  # the dft ladder's own file
LADDERS: Final = {
    "standin": (("GGA_plus_U_at_SevenNet_MF_0", "r2SCAN_at_SevenNet_MF_0"), (1.0, 3.0)),
    "dft": (("PBE", "HSE06_at_PBE"), (1.0, 30.0)),
}
STRATEGIES: Final = (
    "perfect",
    "random",
    "dft_only",
    "uncertainty",
    "divergence_abs",
    "divergence_signed",
    "qaware",
    "qaware_abs",
    "qaware[low_only]",
)
MIN_POOL: Final = 20


@dataclass(frozen=True)
class HullTrack:
    """A replayed two-level ladder on E_hull values (eV/atom) with a hit rule."""

    name: str
    levels: tuple[str, ...]
    costs: tuple[float, ...]
    hit_rule: str = "stable"  # or "missed"
    threshold: float = 0.0

    def objective(self, values: np.ndarray) -> np.ndarray:
        """Lower is better: E_hull itself."""
        return np.asarray(values, dtype=float)

    def hit(self, low: Any, top: Any) -> Any:
        stable = np.asarray(top) <= self.threshold
        if self.hit_rule == "missed":
            return stable & (np.asarray(low) > self.threshold)
        return stable


@dataclass(frozen=True)
class Settings:
    epochs: int = 15
    refit_epochs: int = 5
    budget_fraction: float = 0.10
    seed_fraction: float = 1.0
    n_cycles: int = 5

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def folds(table: Table, split: str) -> list[tuple[str, np.ndarray]]:
    """(family, pool mask): perovskites of one anion family with both levels, or every family."""
    complete = table.candidate & np.isfinite(table.e_form[table.levels[-1]])
    families = sorted({t for t, c in zip(table.tags, complete, strict=True) if c})
    if split != "lofo":
        families = [split]
    out = [(f, complete & (table.tags == f)) for f in families]
    return [(f, m) for f, m in out if m.sum() >= MIN_POOL]


class StructureFold:
    """One fold and seed, shaped like campaign_track_r.Fold for its ``run_campaign``."""

    VARIANTS: tuple[str, ...] = ("full", "low_only")  # validators built per fold and seed
    RESIDUAL: bool = False  # Δ-learning heads (the quick-start architecture has none)

    def __init__(self, track: HullTrack, table: Table, pool: np.ndarray, seed: int, s: Settings):
        self.track, self.table, self.seed, self.settings = track, table, seed, s
        self.atoms = table.frames
        low, top = track.levels[0], track.levels[-1]
        self.truth = {lv: table.e_hull(lv) for lv in track.levels}
        self.pool = np.flatnonzero(pool)
        history = np.flatnonzero(~pool)
        known_phases = np.flatnonzero(table.known_phase)
        candidates = np.array(
            [i for i in history if table.candidate[i] and np.isfinite(self.truth[top][i])], int
        )
        rng = np.random.default_rng([seed, 7])
        n_seed = min(len(candidates), max(2, round(s.seed_fraction * table.candidate.sum())))
        self.seed_rows = np.sort(rng.choice(candidates, n_seed, replace=False))
        self.budget = max(1, round(s.budget_fraction * len(self.pool)))
        self.batch = math.ceil(self.budget / s.n_cycles)
        self.oracles = {lv: self._replay(lv) for lv in track.levels}
        known = {lv: np.zeros(len(self.atoms), dtype=bool) for lv in track.levels}
        known[low][history] = True
        known[top][np.concatenate([known_phases, self.seed_rows])] = True
        self.start = State(known, {lv: np.where(known[lv], self.truth[lv], np.nan) for lv in known})
        for i in self.pool:  # the low level is bought for the whole pool
            self.call(self.start, low, i)
        self.positive = track.hit(self.truth[low][self.pool], self.truth[top][self.pool])
        self.true_error = self.truth[low][self.pool] - self.truth[top][self.pool]
        self.validators = {v: self.new_validator(v) for v in self.VARIANTS}
        self.pred0 = self.predict(self.validators["full"], self.start)

    def _replay(self, level: str) -> ReplayOracle:
        """The data set's e_form at ``level`` as a structure-keyed replay oracle."""
        frames = self.table.frames
        table = ReplayTable.from_records(
            f"track_x:{level}",
            "formation_energy_per_atom",
            [a.get_chemical_formula() for a in frames],
            {level: [None if not np.isfinite(v) else float(v) for v in self.table.e_form[level]]},
            structure_hashes=[str(a.info["structure_hash"]) for a in frames],
        )
        return ReplayOracle(table, level, key="structure", duplicates="refuse")

    def call(self, state: State, level: str, i: int) -> bool:
        """One replay-oracle call; a success becomes an E_hull label of ``state``."""
        result = self.oracles[level].compute(self.atoms[i])
        state.oracle_s += result.wall_time_s
        if result.ok:
            e_form = result.diagnostics["value"]
            state.values[level][i] = e_form - self.table.hull_energy[level][i]
            state.known[level][i] = True
        return result.ok

    def labels(self, state: State, names: tuple[str, ...]) -> dict[str, list[float | None]]:
        """Total energies (eV) of the perovskites where ``state`` knows the level, else None
        (reference phases are not trained on: see the module docstring)."""
        out: dict[str, list[float | None]] = {}
        for lv in names:
            mu = self.table.references[lv].mu
            col: list[float | None] = []
            for a, k, v, h, train in zip(self.atoms, state.known[lv], state.values[lv],
                                         self.table.hull_energy[lv], self.table.candidate,
                                         strict=True):  # fmt: skip
                if not (k and train):
                    col.append(None)
                    continue
                symbols = a.get_chemical_symbols()
                col.append(float(len(a) * (v + h) + sum(mu[el] for el in symbols)))
            out[lv] = col
        return out

    def new_validator(self, variant: str) -> Any:
        from train_quickstart_validator import quickstart_model_config

        from qaware.validator import MFValidator
        from qaware.validator.train import TrainConfig

        lv = self.track.levels
        names = {"full": lv, "direct": (lv[0], lv[-1]), "low_only": (lv[0],)}[variant]
        ladder = FidelityLadder(tuple(Fidelity(n) for n in names))
        species = tuple(sorted({s for a in self.atoms for s in a.get_chemical_symbols()}))
        config = replace(quickstart_model_config(species, self.seed), levels=names,
                         residual_levels=self.RESIDUAL)  # fmt: skip
        train = TrainConfig(epochs=self.settings.epochs, batch_size=16, learning_rate=5e-3,
                            patience=10, seed=self.seed)  # fmt: skip
        v = MFValidator(ladder, {n: self.table.references[n] for n in names},
                        model_config=config, train_config=train)  # fmt: skip
        v.fit(self.atoms, self.labels(self.start, names), warm_start=False)
        v.train_config = replace(train, epochs=self.settings.refit_epochs)
        return v

    def predict(self, validator: Any, state: State) -> dict[str, np.ndarray]:
        """Pool predictions: top-level E_hull and σ (eV/atom), diversity to the top labels."""
        names = validator.ladder.names
        top = self.track.levels[-1]
        rows = np.concatenate([self.pool, self.seed_rows])
        pred = validator.predict([self.atoms[i] for i in rows])
        n = len(self.pool)
        emb = pred.embedding
        labelled = np.concatenate([emb[n:], emb[:n][state.known[top][self.pool]]])
        if len(names) == 1:  # D = 0: the low level is the only estimate of the top
            value = state.values[names[0]][self.pool]
        else:
            value = pred.e_form_per_atom[top][:n] - self.table.hull_energy[top][self.pool]
        return {
            "top": value,
            "sigma": pred.e_form_std_per_atom[names[-1]][:n],
            "diversity": nearest_distance(emb[:n], labelled),
        }


def run_fold(
    track: HullTrack,
    table: Table,
    name: str,
    pool: np.ndarray,
    seed: int,
    settings: Settings,
    strategies: tuple[str, ...] = STRATEGIES,
) -> dict[str, Any]:
    """Every strategy on one fold and seed (Track R's unit, with a :class:`StructureFold`)."""
    return campaign_track_r.run_fold(
        track,  # type: ignore[arg-type]
        table,  # type: ignore[arg-type]
        name,
        pool,
        seed,
        settings,  # type: ignore[arg-type]
        strategies,
        make_fold=StructureFold,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", choices=sorted(LADDERS), default="standin")
    parser.add_argument("--hits", default="missed,stable", help="hit rules, comma-separated")
    parser.add_argument("--split", default="lofo", help="lofo, or one family such as X3=O3")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None, help="the Track X export")
    parser.add_argument("--quick", action="store_true", help="1 seed, family X3=O3, stable")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default: campaign_track_x.json (standin), campaign_track_x_dft.json",
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = OUTPUT if args.ladder == "standin" else OUTPUT_DFT
    settings = Settings()
    if args.quick:
        args.seeds, args.split, args.hits = 1, "X3=O3", "stable"
    levels, costs = LADDERS[args.ladder]
    table = load_table(levels, args.data)
    chosen = folds(table, args.split)
    if not chosen:
        n = int((table.candidate & np.isfinite(table.e_form[levels[-1]])).sum())
        raise SystemExit(
            f"campaign_track_x: ladder {args.ladder}: {n} perovskites have both {levels}; a "
            f"fold needs {MIN_POOL} of one family. Rerun when data/track_x holds them."
        )
    rec = Recorder("campaign_track_x", seeds={"campaign_seeds": args.seeds},
                   data_files=[table.source["path"]])  # fmt: skip
    partial = PartialUnits(args.output, inputs=[table.source["path"]])  # resume: same data
    results: dict[str, Any] = {"settings": asdict(settings), "ladder": args.ladder, "tracks": {}}
    for rule in args.hits.split(","):
        track = HullTrack(f"{args.ladder}:{rule}", levels, costs, hit_rule=rule)
        units = []
        for fold_name, pool in chosen:
            for seed in range(args.seeds):
                key = f"{track.name}|{fold_name}|{seed}|{settings.digest()}"
                fold_args = (track, table, fold_name, pool, seed, settings)
                unit = partial.get(key, run_fold, *fold_args, note=f"pool {int(pool.sum())}")
                units.append(unit)
        results["tracks"][f"{track.name}:{args.split}"] = summarise(units, STRATEGIES)
    results["notes"] = NOTES
    # one write at the end: a write per rule made the second one see the first as uncommitted
    doc = rec.write(args.output, results)
    print(f"wrote {doc}", flush=True)


NOTES: Final = (
    "Hits per top-level call, mean ± std over seeds; each fold's budget is 10 % of its pool. "
    "Values are E_hull (eV/atom) against the known phases of the data set at each level (element "
    "cells, binary oxides; no nitrides, fluorides or sulfides). R²(D) compares the validator's "
    "signed divergence (E_hull low − predicted E_hull top) with the true one; ECE eval is the "
    "regression ECE of the predicted top E_hull and σ on the evaluated candidates. Model-free "
    "strategies (perfect, random, dft_only) use the cycle-0 validator for R²(D) and ECE. The "
    "standin ladder is a pretrained stand-in for PBE -> r2SCAN, not live DFT; the dft ladder is "
    "live GPAW PBE -> HSE06@PBE (HSE06 evaluated once on the PBE orbitals) from data/track_x."
)

if __name__ == "__main__":
    main()
