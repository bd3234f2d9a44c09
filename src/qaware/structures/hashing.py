"""Identity of a structure: a hash of its canonical form, and a composition key.

The same crystal written differently (rotated, translated, atoms permuted, wrapped or not, any
supercell or cell choice) must give one hash, so that the same candidate met in two cycles is one
row of the store (DESIGN.md §3). For periodic structures the canonical form is built as:

1. spglib finds the primitive cell and idealises it (symmetrises lattice and positions within
   ``symprec``), which removes the supercell and the numerical noise;
2. the primitive lattice is Niggli reduced, which fixes its metric (a ≤ b ≤ c, angles) uniquely;
3. the remaining freedom is a lattice automorphism (an integer matrix that keeps the metric, at
   most 48 of them) and the origin. Every automorphism × every atom of the rarest species as
   origin is tried; the lexicographically smallest sorted table of (Z, x, y, z), with fractional
   coordinates rounded to ``decimals`` and wrapped to [0, 1), is the canonical form.

The hash covers the rounded lattice parameters (Å, degrees) and that table. Improper lattice
operations are included, so a chiral structure and its mirror image share a hash (as in
pymatgen's StructureMatcher). Non-periodic structures (molecules, clusters) hash the species
multiset with the sorted rounded interatomic distances of each element pair, plus the
electronic state when ``atoms.info`` gives one (``charge``, ``multiplicity``): two spin states
of one geometry are two systems with two energies, so they must not share an oracle-call key.
"""

from __future__ import annotations

import hashlib
import itertools
from math import gcd

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from qaware.errors import InvalidStructureError

__all__ = ["composition_key", "structure_hash"]

_HASH_VERSION = "qaware-structure-hash-v1"
_HASH_CHARS = 32
_IMAGES = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
_SHORT = _IMAGES[np.any(_IMAGES != 0, axis=1)].astype(np.int64)  # (26, 3)
_MAX_CANDIDATE_ENTRIES = 4_000_000  # bounds the memory of the canonical-form search
_MAX_IMAGE_ATOMS = 200  # above this, the ordering key uses the nearest image only (memory)
_ENV_CUTOFF = 4.0  # Å, reach of the environment sum that picks origin atoms
_GRID_SHIFT = 0.5 - np.sqrt(2.0) / 100.0  # bin edges at 0.5141… of a step, see _grid


def composition_key(atoms: Atoms) -> str:
    """Reduced formula with elements in alphabetical order, counts of 1 omitted ("O3SrTi")."""
    numbers = np.asarray(atoms.numbers)
    if numbers.size == 0:
        return ""
    zs, counts = np.unique(numbers, return_counts=True)
    divisor = 0
    for c in counts:
        divisor = gcd(divisor, int(c))
    parts = sorted(
        (chemical_symbols[int(z)], int(c) // divisor) for z, c in zip(zs, counts, strict=True)
    )
    return "".join(f"{sym}{n if n != 1 else ''}" for sym, n in parts)


def structure_hash(atoms: Atoms, *, symprec: float = 1e-3, decimals: int = 3) -> str:
    """Hex digest (32 chars of sha256) of ``atoms``' canonical form.

    symprec:  Å, tolerance with which spglib finds the primitive cell and symmetrises it.
    decimals: digits kept of fractional coordinates, lattice lengths (Å), angles (degrees) and,
              for molecules, interatomic distances (Å). At most 5.
    Raises InvalidStructureError for mixed periodicity (e.g. slabs), which is not supported.
    """
    if not 0 <= decimals <= 5:
        raise ValueError(f"decimals must be in 0..5, got {decimals}")
    if not np.all(np.isfinite(atoms.positions)) or not np.all(np.isfinite(atoms.cell[:])):
        raise InvalidStructureError("positions or cell hold NaN or inf: no hash")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.all():
        text = _crystal_form(atoms, symprec, decimals)
    elif not pbc.any():
        text = _molecule_form(atoms, decimals)
    else:
        raise InvalidStructureError(
            f"mixed periodic boundary conditions {pbc.tolist()} are not supported; "
            "use pbc all True (crystal) or all False (molecule)"
        )
    digest = hashlib.sha256(f"{_HASH_VERSION}|{text}".encode()).hexdigest()
    return digest[:_HASH_CHARS]


def _grid(values: np.ndarray, base: int) -> np.ndarray:
    """Integers ``floor(values * base + _GRID_SHIFT)``: rounding with off-centre bin edges.

    Plain rounding puts a bin edge at every ``k + 0.5`` step, exactly where data written with one
    more decimal (coordinates differing by 0.0005) sit, so float noise would flip them. Edges at
    a fraction of 0.5141… of a step are far from 0, 1/2, 1/3, 1/4, 1/6, 1/8 and 1/12 of a step.
    """
    return np.floor(np.asarray(values) * base + _GRID_SHIFT).astype(np.int64)


_STATE_KEYS = ("charge", "multiplicity")
"""``atoms.info`` keys that, when present on a molecule, enter its hash."""


def _molecule_form(atoms: Atoms, decimals: int) -> str:
    numbers = np.asarray(atoms.numbers)
    pos = np.asarray(atoms.positions, dtype=float)
    order = np.argsort(numbers, kind="stable")
    numbers, pos = numbers[order], pos[order]
    parts = ["mol", ",".join(str(int(z)) for z in numbers)]
    state = [f"{key}={int(atoms.info[key])}" for key in _STATE_KEYS if key in atoms.info]
    if state:  # a molecule's electronic state is part of what it is (FeO quintet != septet)
        parts.append(",".join(state))
    if len(numbers) > 1:
        i, j = np.triu_indices(len(numbers), k=1)
        d = _grid(np.linalg.norm(pos[i] - pos[j], axis=1), 10**decimals)
        zi, zj = numbers[i], numbers[j]
        lo, hi = np.minimum(zi, zj), np.maximum(zi, zj)
        keys = np.lexsort((d, hi, lo))
        parts.append(";".join(f"{lo[k]}-{hi[k]}:{d[k]}" for k in keys))
    return "|".join(parts)


def _primitive_reduced(atoms: Atoms, symprec: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice (3,3) Å rows, fractional (n,3), numbers (n,)) of the Niggli-reduced primitive."""
    import spglib

    lattice = np.asarray(atoms.cell[:], dtype=float)
    frac = np.asarray(atoms.get_scaled_positions(wrap=True), dtype=float)
    numbers = np.asarray(atoms.numbers, dtype=int)
    order = _canonical_order(lattice, frac, numbers)
    cell = (lattice, frac[order], numbers[order])
    std = None
    try:
        std = spglib.standardize_cell(
            cell,  # type: ignore[arg-type]  # spglib's hints say Sequence; arrays are what it wants
            to_primitive=True,
            no_idealize=True,
            symprec=symprec,
        )
    except Exception:  # spglib >= 2.5 may raise SpglibError instead of returning None
        std = None
    if std is not None:
        lattice, frac, numbers = (np.asarray(x) for x in std)
    lattice = np.asarray(lattice, dtype=float)
    reduced = spglib.niggli_reduce(lattice, eps=1e-5)
    if reduced is not None:
        reduced = np.asarray(reduced, dtype=float)
        frac = np.asarray(frac, dtype=float) @ lattice @ np.linalg.inv(reduced)
        lattice = reduced
    return lattice, np.asarray(frac, dtype=float), np.asarray(numbers, dtype=np.int64)


def _canonical_order(lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Atom order that does not depend on how the input was ordered, rotated or translated.

    spglib takes its reference atom from the input order; when a near-translation sits at the
    edge of ``symprec``, another reference can find another primitive cell. Sorting atoms by
    (Z, a Gaussian-weighted coordination sum over nearby images) first makes that choice a
    function of the geometry alone.
    """
    n = len(numbers)
    df = frac[None, :, :] - frac[:, None, :]
    df -= np.rint(df)
    shifts = _IMAGES if n <= _MAX_IMAGE_ATOMS else np.zeros((1, 3))
    d2 = np.sum(((df[:, :, None, :] + shifts[None, None]) @ lattice) ** 2, axis=-1)
    weight = np.exp(-0.5 * d2).sum(axis=2) * numbers[None, :]  # (n, n)
    return np.lexsort((weight.sum(axis=1), numbers))


def _lattice_automorphisms(lattice: np.ndarray) -> np.ndarray:
    """(k, 3, 3) integer M with M G Mᵀ = G (G the metric of a Niggli-reduced ``lattice``).

    For a reduced basis every automorphism has entries in {-1, 0, 1}: row i of M is one of the
    26 vectors n ∈ {-1, 0, 1}³ with n G nᵀ = G_ii, so only those rows are combined.
    """
    G = lattice @ lattice.T
    tol = 1e-4 * float(np.max(np.abs(G)))
    norms = np.einsum("vi,ij,vj->v", _SHORT, G, _SHORT)
    rows = [_SHORT[np.abs(norms - G[i, i]) <= tol] for i in range(3)]
    mats = np.stack(
        [
            np.repeat(rows[0], len(rows[1]) * len(rows[2]), axis=0),
            np.tile(np.repeat(rows[1], len(rows[2]), axis=0), (len(rows[0]), 1)),
            np.tile(rows[2], (len(rows[0]) * len(rows[1]), 1)),
        ],
        axis=1,
    )  # (k, 3, 3): every combination of admissible rows
    Gm = mats @ G @ mats.transpose(0, 2, 1)
    ok = np.all(np.abs(Gm - G) <= tol, axis=(1, 2))
    det = np.rint(np.linalg.det(mats[ok].astype(float)))
    return mats[ok][np.abs(det) == 1]


def _crystal_form(atoms: Atoms, symprec: float, decimals: int) -> str:
    lattice, frac, numbers = _primitive_reduced(atoms, symprec)
    n = len(numbers)
    base = 10**decimals
    a, b, c = np.linalg.norm(lattice, axis=1)
    cos = [
        np.dot(lattice[1], lattice[2]) / (b * c),
        np.dot(lattice[0], lattice[2]) / (a * c),
        np.dot(lattice[0], lattice[1]) / (a * b),
    ]
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    params = _grid(np.array([a, b, c, *angles]), base)
    head = "xtal|" + ",".join(str(int(p)) for p in params)
    if n == 0:
        return head
    # Origin candidates: atoms of the rarest species (ties broken by the smaller Z).
    zs, counts = np.unique(numbers, return_counts=True)
    rare = zs[np.lexsort((zs, counts))[0]]
    origins = frac[_origin_candidates(lattice, frac, numbers, rare)]  # (m, 3)
    inv = np.linalg.inv(_lattice_automorphisms(lattice).astype(float))  # (k, 3, 3)
    # Origins go in chunks so that the (k, m, n) candidate tables stay below ~4M entries.
    chunk = max(1, _MAX_CANDIDATE_ENTRIES // (len(inv) * n))
    best: np.ndarray | None = None
    for start in range(0, len(origins), chunk):
        candidate = _smallest_table(frac, numbers, origins[start : start + chunk], inv, base)
        if best is None or _lex_less(candidate, best):
            best = candidate
    assert best is not None
    return head + "|" + ",".join(str(int(k)) for k in best)


def _origin_candidates(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray, rare: int
) -> np.ndarray:
    """Indices of the atoms of species ``rare`` that may serve as origin.

    Any of them would do; to keep large low-symmetry cells fast, only those with the smallest
    environment sum s_i = Σ_j Z_j w(|r_j - r_i + L|) over all images within _ENV_CUTOFF Å are
    kept, with w(d) = exp(-d²/2) - exp(-R²/2) (Å, smooth at the cutoff R). s_i depends on the
    geometry only (not on the basis, order or orientation), and symmetry-equivalent atoms
    share it, so the choice is canonical.
    """
    idx = np.flatnonzero(numbers == rare)
    if len(idx) <= 4:
        return idx
    R = _ENV_CUTOFF
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(lattice).T, axis=1)
    reach = np.floor(R / spacing + 0.5).astype(int)
    shifts = np.array(np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij"))
    shifts = shifts.reshape(3, -1).T.astype(float)  # (S, 3)
    env = np.empty(len(idx))
    step = max(1, _MAX_CANDIDATE_ENTRIES // (len(numbers) * len(shifts)))
    for start in range(0, len(idx), step):
        part = idx[start : start + step]
        df = frac[None, :, :] - frac[part][:, None, :]  # (p, n, 3)
        df -= np.rint(df)
        d2 = np.sum(((df[:, :, None, :] + shifts[None, None]) @ lattice) ** 2, axis=-1)
        w = np.where(d2 < R * R, np.exp(-0.5 * d2) - np.exp(-0.5 * R * R), 0.0)
        env[start : start + step] = (w.sum(axis=2) * numbers[None, :]).sum(axis=1)
    tol = 1e-7 * max(1.0, float(np.max(np.abs(env))))
    return idx[env <= env.min() + tol]


def _smallest_table(
    frac: np.ndarray, numbers: np.ndarray, origins: np.ndarray, inv: np.ndarray, base: int
) -> np.ndarray:
    """Lexicographically smallest sorted (n,) table of encoded (Z, x, y, z) rows.

    f' = (f - f_o) M^{-1} for every automorphism M (``inv`` holds the M^{-1}, (k, 3, 3)) and
    every origin o in ``origins`` (m, 3); each row is encoded as one integer
    ((Z·base + x)·base + y)·base + z with x, y, z the wrapped grid indices.
    """
    n = len(numbers)
    shifted = frac[None, :, :] - origins[:, None, :]  # (m, n, 3)
    moved = np.einsum("mnj,kjl->kmnl", shifted, inv, optimize=True)  # (k, m, n, 3)
    ints = np.mod(_grid(moved, base), base)
    keys = ((numbers[None, None, :] * base + ints[..., 0]) * base + ints[..., 1]) * base
    keys = (keys + ints[..., 2]).reshape(-1, n)
    keys.sort(axis=1)
    return keys[np.lexsort(keys.T[::-1])[0]]


def _lex_less(a: np.ndarray, b: np.ndarray) -> bool:
    diff = np.flatnonzero(a != b)
    return bool(len(diff)) and bool(a[diff[0]] < b[diff[0]])
