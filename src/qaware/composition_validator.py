"""CompositionValidator: a composition-feature multi-fidelity regressor (Validator protocol).

For replay benchmarks on published tables that hold compositions, not structures (DESIGN.md §5,
Track R). Only the composition of each ``ase.Atoms`` is read; positions and cell are ignored.

Model, in three parts:

* **Features** (:func:`composition_features`): element-fraction-weighted statistics (mean, min,
  max, range, standard deviation) of tabulated elemental properties (Magpie-like, from
  pymatgen's Element data), plus the number of elements and the L2/L3 norms of the fractions.
  Deterministic; cached per reduced formula.
* **Stacked (autoregressive) ladder**, like the Δ-learning form of co-kriging: level 0 is learnt
  from the features; level ℓ > 0 learns the *correction* ``y_ℓ − y_{ℓ−1}`` from the features plus
  the values of every lower level, so the top level only has to learn how it differs from the
  one below. Where a lower-level value is known (a label passed to ``fit``, or ``known=`` in
  :meth:`CompositionValidator.predict`) it is used as the input instead of the prediction, as
  co-kriging conditions on observed low-fidelity points.
* **Uncertainty**: ``n_members`` members per level, each an extremely randomised forest
  (``n_estimators`` random-split sklearn trees, as in ExtraTrees; a random-forest variant chosen
  for speed) fitted on its own bootstrap resample with its own seed. Each member runs its own
  chain up the ladder, so the per-level σ (std over members) includes the uncertainty of the
  lower levels it stands on.

Units. ``quantity="formation_energy_per_atom"``: labels are total energies in eV, as a replay
oracle on a formation-enthalpy table returns them (``energy = e_form · N``, all elemental
references zero); the model learns ``label / N`` in eV/atom and reports it as both
``energy_per_atom`` and ``e_form_per_atom``. ``quantity="band_gap"``: labels are gaps in eV
(intensive, not divided by N) and every output table holds the gap in eV (the Prediction field
names are energy-shaped; the numbers are gaps).

Warm start: the feature standardisation (and so the embedding space, which the acquisition's
diversity term measures distances in) is kept from the first fit, and a level whose training
rows, targets and inputs are unchanged keeps its fitted members. Changed levels are refitted
from scratch on all labels: forests are cheap, and refitting avoids weighting old data twice.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from ase import Atoms

from qaware.element_properties import ELEMENT_PROPERTIES, element_properties
from qaware.errors import ConfigError, InvalidStructureError, MissingDependencyError
from qaware.fidelity import FidelityLadder
from qaware.protocols import Prediction

__all__ = ["ELEMENT_PROPERTIES", "CompositionValidator", "composition_features"]

_STATS = ("mean", "min", "max", "range", "std")
Quantity = Literal["formation_energy_per_atom", "band_gap"]


def composition_features(counts: Mapping[str, float]) -> np.ndarray:
    """(5·len(ELEMENT_PROPERTIES) + 3,) features of a composition ``{element: count}``.

    Per property: fraction-weighted mean, min, max, range, weighted standard deviation; then
    the number of elements and the L2 and L3 norms of the element fractions.
    """
    items = [(el, float(n)) for el, n in sorted(counts.items()) if float(n) > 0]
    if not items:
        raise InvalidStructureError("empty composition", field="composition")
    frac = np.array([n for _, n in items])
    frac = frac / frac.sum()
    props = np.stack([element_properties(el) for el, _ in items])  # (n_el, n_prop)
    mean = frac @ props
    std = np.sqrt(frac @ (props - mean) ** 2)
    lo, hi = props.min(axis=0), props.max(axis=0)
    stoich = [len(items), float(np.sqrt((frac**2).sum())), float(np.cbrt((frac**3).sum()))]
    return np.concatenate([mean, lo, hi, hi - lo, std, stoich])


def _counts(atoms: Atoms, index: int) -> dict[str, float]:
    symbols = atoms.get_chemical_symbols()
    if not symbols:
        raise InvalidStructureError("structure has no atoms", index=index, unit="structure")
    return dict(Counter(symbols))


class CompositionValidator:
    """Multi-fidelity composition regressor (see the module docstring).

    ladder:       levels, lowest first; label dicts and predictions are keyed by their names.
    quantity:     what the labels are (decides whether a label is divided by the atom count).
    n_members:    bootstrap members per level (σ = std over members).
    n_estimators: trees per member's forest.
    stacked:      False fits every level from the features alone (the no-ladder ablation).
    seed:         fixes bootstrap resamples and forests: equal seeds give equal predictions.
    """

    def __init__(
        self,
        ladder: FidelityLadder,
        *,
        quantity: Quantity = "formation_energy_per_atom",
        n_members: int = 8,
        n_estimators: int = 8,
        stacked: bool = True,
        seed: int = 0,
    ) -> None:
        if quantity not in ("formation_energy_per_atom", "band_gap"):
            raise ConfigError(f"CompositionValidator: unknown quantity {quantity!r}")
        if n_members < 2:
            raise ConfigError(f"CompositionValidator: n_members must be >= 2, got {n_members}")
        self._ladder = ladder
        self.quantity = quantity
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.stacked = stacked
        self.seed = seed
        self._feature_cache: dict[tuple[tuple[str, float], ...], np.ndarray] = {}
        self._scale: tuple[np.ndarray, np.ndarray] | None = None
        self._members: dict[str, list[_Member]] = {}
        self._fingerprint: dict[str, str] = {}

    @property
    def ladder(self) -> FidelityLadder:
        return self._ladder

    def _features(self, structures: Sequence[Atoms]) -> np.ndarray:
        rows = []
        for i, atoms in enumerate(structures):
            counts = _counts(atoms, i)
            total = sum(counts.values())
            key = tuple(sorted((el, n / total) for el, n in counts.items()))
            if key not in self._feature_cache:
                self._feature_cache[key] = composition_features(counts)
            rows.append(self._feature_cache[key])
        return np.stack(rows) if rows else np.zeros((0, 5 * len(ELEMENT_PROPERTIES) + 3))

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        assert self._scale is not None
        mean, std = self._scale
        return (X - mean) / std

    def _per_atom(self, structures: Sequence[Atoms], values: Sequence[float | None]) -> np.ndarray:
        out = np.array([np.nan if v is None else float(v) for v in values])
        if self.quantity == "formation_energy_per_atom":
            out = out / np.array([max(len(a), 1) for a in structures])
        return out

    def fit(
        self,
        structures: Sequence[Atoms],
        labels: Mapping[str, Sequence[float | None]],
        *,
        warm_start: bool = True,
    ) -> None:
        """Train on ``labels[level][i]``: total energy (eV) or gap (eV) of structure i, or None.

        Level ℓ trains on the rows labelled at ℓ; its lower-level inputs are the labels where
        known, else the level-wise mean prediction of the members fitted just before.
        """
        unknown = sorted(set(labels) - set(self._ladder.names))
        if unknown:
            raise ConfigError(f"labels for levels {unknown} not on the ladder {self._ladder.names}")
        n = len(structures)
        for level, vals in labels.items():
            if len(vals) != n:
                raise ConfigError(f"labels[{level!r}]: {len(vals)} values for {n} structures")
        X_raw = self._features(structures)
        if self._scale is None or not warm_start:
            std = X_raw.std(axis=0)
            self._scale = (X_raw.mean(axis=0), np.where(std > 1e-12, std, 1.0))
            self._members, self._fingerprint = {}, {}
        X = self._standardise(X_raw)
        y = {
            lv: self._per_atom(structures, labels.get(lv, [None] * n)) for lv in self._ladder.names
        }
        lower: list[np.ndarray] = []  # values of the levels below, label where known
        for rank, level in enumerate(self._ladder.names):
            rows = np.isfinite(y[level])
            if rank == 0 or not self.stacked:
                inputs, base = X, np.zeros(n)
            else:
                inputs, base = np.column_stack([X, *lower]), lower[-1]
            if rows.sum() < 2:
                raise ConfigError(f"level {level!r}: needs at least 2 labels, got {rows.sum()}")
            target = y[level][rows] - base[rows]
            digest = hashlib.sha256(inputs[rows].tobytes() + target.tobytes()).hexdigest()
            if not (warm_start and self._fingerprint.get(level) == digest):
                self._members[level] = self._fit_members(inputs[rows], target, rank)
                self._fingerprint[level] = digest
            if self.stacked:
                guess = base + np.mean([m.predict(inputs) for m in self._members[level]], axis=0)
                lower.append(np.where(rows, y[level], guess))

    def _fit_members(self, X: np.ndarray, y: np.ndarray, rank: int) -> list[_Member]:
        try:
            from sklearn.tree import DecisionTreeRegressor
        except ImportError:
            raise MissingDependencyError("scikit-learn", "replay", "CompositionValidator") from None
        members = []
        for m in range(self.n_members):
            rng = np.random.default_rng([self.seed, rank, m])
            boot = rng.integers(0, len(y), len(y))
            trees = [
                DecisionTreeRegressor(
                    splitter="random",
                    max_features=0.33,
                    min_samples_leaf=2,
                    random_state=int(seed),
                ).fit(X[boot], y[boot])
                for seed in rng.integers(2**31 - 1, size=self.n_estimators)
            ]
            members.append(_Member(trees))
        return members

    def predict(
        self,
        structures: Sequence[Atoms],
        *,
        known: Mapping[str, Sequence[float | None]] | None = None,
    ) -> Prediction:
        """Every level for every structure, (n,) each, with per-level σ over the members.

        known: optional ``level -> values`` in the units of ``fit``'s labels (None/NaN =
        unknown); a known value is returned as the level's prediction with σ = 0 and feeds the
        levels above it.
        """
        if not self._members:
            raise ConfigError("CompositionValidator.predict: call fit first")
        n = len(structures)
        X = self._standardise(self._features(structures))
        given = {lv: self._per_atom(structures, v) for lv, v in (known or {}).items()}
        chains = np.zeros((self.n_members, len(self._ladder), n))
        for m in range(self.n_members):
            lower: list[np.ndarray] = []
            for rank, level in enumerate(self._ladder.names):
                if rank == 0 or not self.stacked:
                    inputs, base = X, np.zeros(n)
                else:
                    inputs, base = np.column_stack([X, *lower]), lower[-1]
                value = base + self._members[level][m].predict(inputs)
                if level in given:
                    value = np.where(np.isfinite(given[level]), given[level], value)
                chains[m, rank] = value
                lower.append(value)
        mean, std = chains.mean(axis=0), chains.std(axis=0)
        for rank, level in enumerate(self._ladder.names):
            if level in given:  # exact, not a mean of equal floats
                known_here = np.isfinite(given[level])
                mean[rank] = np.where(known_here, given[level], mean[rank])
                std[rank] = np.where(known_here, 0.0, std[rank])
        names = self._ladder.names
        e_form = {lv: mean[r] for r, lv in enumerate(names)}
        sigma = {lv: std[r] for r, lv in enumerate(names)}
        return Prediction(
            energy_per_atom=dict(e_form),
            e_form_per_atom=e_form,
            e_form_std_per_atom=sigma,
            embedding=X,
        )


class _Member:
    """One ensemble member: randomised-split trees on one bootstrap resample (ExtraTrees-like,
    built from sklearn's trees directly: the forest wrapper's per-tree overhead dominated)."""

    def __init__(self, trees: list[Any]) -> None:
        self.trees = trees

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.mean([t.predict(X) for t in self.trees], axis=0)
