"""Generation metrics exactly as CDVAE / DiffCSP define them, plus P1 and close-packed shares.

Every tolerance is an argument. Definitions (see ../shared/notes/generators.md §3):

- structural validity: every distance between two distinct sites (minimum image, pymatgen
  ``distance_matrix``) ≥ 0.5 Å and volume ≥ 0.1 Å³; NaN coordinates or cells are invalid.
- compositional validity (SMACT, CDVAE's rule): counts divided by their gcd; one element, or
  all elements in SMACT's metal list, is valid; else valid if some combination of oxidation
  states (at most 10⁷ combinations) is charge neutral and passes the Pauling test (every
  cation less electronegative than every anion; missing data passes). The oxidation states are
  PINNED to SMACT's ``smact14`` set, which smact ≤ 2.2 (pinned by CDVAE/DiffCSP) used.
- CSP: StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3), RMS normalised by (V/N)^⅓; k = 1
  requires prediction and target valid, k > 1 requires the prediction valid and keeps the best
  match (DiffCSP's scripts); match rate over all targets, RMSE over matched ones.
- coverage: CrystalNN "ops" site fingerprints averaged over sites, Magpie composition features
  standardised (CDVAE stores fixed means/stds fitted on its data; here they are fitted on the
  reference set unless given, NaN -> 0); COV-R = share of references whose nearest sample is
  within δ_s in structure space and (separately) δ_c in composition space, COV-P = samples whose
  nearest reference passes both, over all samples.
- d_ρ, d_elem: Wasserstein-1 distance of density (g/cm³) / number of elements between (up to
  1000 random) valid samples and the references.
- uniqueness / novelty: share of samples not matched (pymatgen-default StructureMatcher) by an
  earlier sample / by any training structure. P1 share: spglib (symprec 0.1) finds group 1 or
  nothing. Close-packed share: samples whose framework (species ignored) matches fcc, bcc or hcp.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Any

import numpy as np
from ase import Atoms

__all__ = [
    "COV_CUTOFFS",
    "CSPResult",
    "close_packed_share",
    "compositional_validity",
    "coverage",
    "csp_match",
    "density_distance",
    "element_count_distance",
    "fingerprints",
    "novelty",
    "p1_share",
    "structural_validity",
    "uniqueness",
    "validity",
]

COV_CUTOFFS = {"mp_20": (0.4, 10.0), "carbon_24": (0.2, 4.0), "perov_5": (0.2, 4.0)}
"""(δ_structure, δ_composition) per data set, CDVAE's values."""
OXIDATION_STATE_SET = "smact14"


def _structure(atoms: Atoms) -> Any | None:
    from qaware.structures import to_pymatgen

    if not (np.all(np.isfinite(atoms.positions)) and np.all(np.isfinite(atoms.cell[:]))):
        return None
    try:
        return to_pymatgen(atoms)
    except Exception:
        return None


def structural_validity(
    atoms: Atoms, *, min_distance: float = 0.5, min_volume: float = 0.1
) -> bool:
    """All distinct-site distances ≥ ``min_distance`` Å and volume ≥ ``min_volume`` Å³."""
    s = _structure(atoms)
    if s is None or not s.volume >= min_volume:
        return False
    d = np.array(s.distance_matrix) + np.eye(len(s)) * (min_distance + 10.0)
    return bool(d.min() >= min_distance)


@lru_cache(maxsize=256)
def _smact_element(symbol: str) -> tuple[tuple[int, ...], float | None]:
    from smact import Element

    el = Element(symbol)
    return tuple(getattr(el, f"oxidation_states_{OXIDATION_STATE_SET}") or ()), el.pauling_eneg


def _pauling_ok(states: Sequence[int], enegs: Sequence[float | None]) -> bool:
    for (ox1, e1), (ox2, e2) in itertools.combinations(zip(states, enegs, strict=True), 2):
        if e1 is None or e2 is None:
            return True  # CDVAE: missing electronegativity data counts as a pass
        if (ox1 > 0 > ox2 and e1 >= e2) or (ox1 < 0 < ox2 and e1 <= e2):
            return False
    return True


def compositional_validity(
    atoms: Atoms,
    *,
    use_pauling_test: bool = True,
    include_alloys: bool = True,
    max_combinations: float = 1e7,
) -> bool:
    """CDVAE's SMACT charge-neutrality + electronegativity test (module docstring)."""
    import smact

    symbols, counts = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    counts = counts // reduce(math.gcd, counts.tolist())
    if len(symbols) == 1:
        return True
    if include_alloys and all(s in smact.metals for s in symbols):
        return True
    data = [_smact_element(str(s)) for s in symbols]
    oxidation_sets, enegs = [d[0] for d in data], [d[1] for d in data]
    if math.prod(len(o) for o in oxidation_sets) > max_combinations:
        return False
    for states in itertools.product(*oxidation_sets):
        if sum(q * c for q, c in zip(states, counts, strict=True)) != 0:
            continue
        if not use_pauling_test or _pauling_ok(states, enegs):
            return True
    return False


def validity(atoms: Atoms, **kwargs: Any) -> tuple[bool, bool]:
    """(structurally valid, compositionally valid); kwargs go to :func:`structural_validity`."""
    return structural_validity(atoms, **kwargs), compositional_validity(atoms)


@dataclass(frozen=True)
class CSPResult:
    """match_rate: matched / targets; rmse: mean normalised RMS of matched targets (nan if none);
    rms: per target best normalised RMS or None; k: samples per target."""

    match_rate: float
    rmse: float
    rms: tuple[float | None, ...]
    k: int


def _matcher(stol: float, angle_tol: float, ltol: float, **kwargs: Any) -> Any:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(stol=stol, angle_tol=angle_tol, ltol=ltol, **kwargs)


def csp_match(
    predictions: Sequence[Sequence[Atoms | None]],
    targets: Sequence[Atoms],
    *,
    stol: float = 0.5,
    angle_tol: float = 10.0,
    ltol: float = 0.3,
    check_validity: bool = True,
) -> CSPResult:
    """Match rate and RMSE of ``predictions[j][i]`` (sample j of target i; None = failed)."""
    matcher = _matcher(stol, angle_tol, ltol)
    k = len(predictions)
    valid = lambda a: a is not None and all(validity(a))  # noqa: E731
    best: list[float | None] = []
    for i, target in enumerate(targets):
        gt = _structure(target)
        target_ok = gt is not None and (not check_validity or k > 1 or valid(target))
        found = []
        for j in range(k):
            pred = predictions[j][i]
            if not target_ok or pred is None or (check_validity and not valid(pred)):
                continue
            p = _structure(pred)
            try:
                rms = None if p is None else matcher.get_rms_dist(p, gt)
            except Exception:  # pymatgen can fail on degenerate lattices: a non-match
                rms = None
            if rms is not None:
                found.append(float(rms[0]))
        best.append(min(found) if found else None)
    matched = [r for r in best if r is not None]
    return CSPResult(
        len(matched) / max(1, len(targets)),
        float(np.mean(matched)) if matched else math.nan,
        tuple(best),
        k,
    )


def fingerprints(
    structures: Sequence[Atoms],
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """CrystalNN "ops" structure fingerprints (61) and Magpie composition features (132)."""
    try:
        from matminer.featurizers.composition.composite import ElementProperty
        from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
    except ImportError as exc:
        from qaware.errors import MissingDependencyError

        raise MissingDependencyError("matminer", "generator", "coverage (COV-R/COV-P)") from exc
    site_fp, comp_fp = (
        CrystalNNFingerprint.from_preset("ops"),
        ElementProperty.from_preset("magpie"),
    )
    structs: list[np.ndarray | None] = []
    comps: list[np.ndarray | None] = []
    for atoms in structures:
        s: Any = _structure(atoms)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # CrystalNN: no oxidation states, radius fallback
                site = np.mean([site_fp.featurize(s, i) for i in range(len(s))], axis=0)
                comp = np.array(comp_fp.featurize(s.composition), dtype=np.float64)
            structs.append(site)
            comps.append(comp)
        except Exception:  # CDVAE: no fingerprint -> dropped from COV-P's numerator
            structs.append(None)
            comps.append(None)
    return structs, comps


def coverage(
    samples: Sequence[Atoms],
    references: Sequence[Atoms],
    *,
    struct_cutoff: float,
    comp_cutoff: float,
    comp_mean: np.ndarray | None = None,
    comp_std: np.ndarray | None = None,
) -> tuple[float, float]:
    """(COV-R, COV-P) with cutoffs δ_s, δ_c (see :data:`COV_CUTOFFS`)."""
    from scipy.spatial.distance import cdist

    s_fp, c_fp = fingerprints(samples)
    r_fp, rc_fp = fingerprints(references)
    keep = [
        i
        for i, (a, b) in enumerate(zip(s_fp, c_fp, strict=True))
        if a is not None and b is not None
    ]
    ref = [
        i
        for i, (a, b) in enumerate(zip(r_fp, rc_fp, strict=True))
        if a is not None and b is not None
    ]
    if not keep or not ref:
        return 0.0, 0.0
    ref_comp = np.array([rc_fp[i] for i in ref])
    mean = np.nanmean(ref_comp, 0) if comp_mean is None else comp_mean
    std = np.nanstd(ref_comp, 0) if comp_std is None else comp_std
    std = np.where(std > 0, std, 1.0)
    scale = lambda x: np.nan_to_num((np.array(x) - mean) / std)  # noqa: E731
    struct_d = cdist(np.array([s_fp[i] for i in keep]), np.array([r_fp[i] for i in ref]))
    comp_d = cdist(scale([c_fp[i] for i in keep]), scale(ref_comp))
    recall = np.mean((struct_d.min(0) <= struct_cutoff) & (comp_d.min(0) <= comp_cutoff))
    precision = np.sum((struct_d.min(1) <= struct_cutoff) & (comp_d.min(1) <= comp_cutoff)) / len(
        samples
    )
    return float(recall), float(precision)


def _valid_subset(samples: Sequence[Atoms], n_eval: int, seed: int) -> list[Atoms]:
    valid = [a for a in samples if all(validity(a))]
    if len(valid) > n_eval:
        idx = np.random.default_rng(seed).choice(len(valid), n_eval, replace=False)
        valid = [valid[i] for i in idx]
    return valid


def _density(atoms: Atoms) -> float:
    """g/cm³."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * 1.66053906660)


def density_distance(
    samples: Sequence[Atoms], references: Sequence[Atoms], *, n_eval: int = 1000, seed: int = 0
) -> float:
    """d_ρ: Wasserstein-1 distance of densities (g/cm³), valid samples vs references."""
    from scipy.stats import wasserstein_distance

    rho = [_density(a) for a in _valid_subset(samples, n_eval, seed)]
    ref = [_density(a) for a in references]
    return float(wasserstein_distance(rho, ref)) if rho else math.nan


def element_count_distance(
    samples: Sequence[Atoms], references: Sequence[Atoms], *, n_eval: int = 1000, seed: int = 0
) -> float:
    """d_elem: Wasserstein-1 distance of the number of distinct elements."""
    from scipy.stats import wasserstein_distance

    n = [len(set(a.numbers)) for a in _valid_subset(samples, n_eval, seed)]
    return (
        float(wasserstein_distance(n, [len(set(a.numbers)) for a in references])) if n else math.nan
    )


def _reduced(atoms: Atoms) -> tuple[str, Any] | None:
    """(primitive composition, primitive Niggli-reduced Structure): what StructureMatcher with
    primitive_cell=True compares, computed once instead of at every fit."""
    s = _structure(atoms)
    if s is None:
        return None
    try:
        prim = s.get_primitive_structure().get_reduced_structure()
    except Exception:
        return None
    return prim.composition.formula, prim


def _prematched(stol: float, angle_tol: float, ltol: float) -> Any:
    return _matcher(stol, angle_tol, ltol, primitive_cell=False)


def uniqueness(
    samples: Sequence[Atoms], *, stol: float = 0.3, angle_tol: float = 5.0, ltol: float = 0.2
) -> float:
    """Share of samples matching no earlier unique sample (samples that fail to build are not
    unique). Only primitive cells of equal composition are compared, as the matcher would."""
    matcher = _prematched(stol, angle_tol, ltol)
    kept: dict[str, list[Any]] = {}
    unique = 0
    for a in samples:
        reduced = _reduced(a)
        if reduced is None:
            continue
        group = kept.setdefault(reduced[0], [])
        if not any(matcher.fit(reduced[1], other) for other in group):
            unique += 1
            group.append(reduced[1])
    return unique / max(1, len(samples))


def novelty(
    samples: Sequence[Atoms],
    training: Sequence[Atoms],
    *,
    stol: float = 0.3,
    angle_tol: float = 5.0,
    ltol: float = 0.2,
) -> float:
    """Share of samples that match no training structure."""
    matcher = _prematched(stol, angle_tol, ltol)
    known: dict[str, list[Any]] = {}
    for t in training:
        if (reduced := _reduced(t)) is not None:
            known.setdefault(reduced[0], []).append(reduced[1])
    novel = 0
    for a in samples:
        reduced = _reduced(a)
        if reduced is not None and not any(
            matcher.fit(reduced[1], t) for t in known.get(reduced[0], [])
        ):
            novel += 1
    return novel / max(1, len(samples))


def p1_share(samples: Sequence[Atoms], *, symprec: float = 0.1) -> float:
    """Share of samples in which spglib finds no symmetry beyond P1 (or fails)."""
    import spglib

    def number(a: Atoms) -> int:
        data = spglib.get_symmetry_dataset(
            (a.cell[:], a.get_scaled_positions(), a.numbers), symprec=symprec
        )
        return 1 if data is None else int(data.number)

    return sum(number(a) == 1 for a in samples) / max(1, len(samples))


def _prototypes() -> list[Any]:
    """fcc, bcc and ideal hcp (c/a = √(8/3)) cells; the element is irrelevant (framework)."""
    from pymatgen.core import Lattice, Structure

    fcc = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    hcp = np.array([[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    return [
        Structure(Lattice.cubic(1.0), ["Cu"] * 4, fcc),
        Structure(Lattice.cubic(1.0), ["Cu"] * 2, np.array([[0, 0, 0], [0.5] * 3])),
        Structure(Lattice.hexagonal(1.0, math.sqrt(8 / 3)), ["Cu"] * 2, hcp),
    ]


def close_packed_share(
    samples: Sequence[Atoms], *, stol: float = 0.3, angle_tol: float = 5.0, ltol: float = 0.2
) -> float:
    """Metallicity-trap share: samples whose sites, species ignored, match fcc, bcc or hcp."""
    from pymatgen.analysis.structure_matcher import FrameworkComparator

    matcher = _matcher(
        stol, angle_tol, ltol, comparator=FrameworkComparator(), attempt_supercell=True
    )
    protos = _prototypes()
    hits = 0
    for a in samples:
        s = _structure(a)
        if s is not None and any(matcher.fit(s, p) for p in protos):
            hits += 1
    return hits / max(1, len(samples))
