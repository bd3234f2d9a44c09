"""Electron configurations of free d-block atoms, and an SCF occupation that holds one fixed.

Why: an SCF on an isolated 3d-metal atom lands in whichever configuration its guess and aufbau
rule drift into, not in the ground state. With def2-SVP, PySCF's ROHF/UHF for the Fe atom
(quintet) converges to 3d⁷4s¹ (⁵F) from every standard guess (minao, atom, 1e) and calls it
stable, yet 3d⁶4s² (⁵D, the experimental ground term) is 2.5 eV lower at HF and 2.1 eV lower at
CCSD(T); Ni is off by 1.3 eV the same way. A binding or formation energy referenced to such an
atom inherits the whole error (DESIGN.md §4).

The cure used here: enumerate the configurations s^k d^(n−k) of the valence s and d shells
that the requested multiplicity allows (:func:`atom_configurations`), converge one SCF per
configuration with an occupation rule that keeps the number of electrons of each angular
momentum l fixed per spin (:func:`fix_occupation`: in each spin, the lowest-energy orbitals of
dominant s, p, d, f character are filled up to the configuration's counts), and let the caller
keep the lowest energy that passes the sanity gates. The rule is the atomic-physics notion of
a configuration, so it does not depend on where the orbital energies of 4s and 3d happen to
fall in a given functional.

Only d-block atoms (groups 3–12, and La) are enumerated; for the others the aufbau SCF is the
ground configuration. Counts include every electron the basis treats explicitly: the
noble-gas core (and 4f¹⁴ from Hf on) minus any electrons an ECP removes (def2: 28, 46, 60).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ase.data import atomic_numbers

__all__ = [
    "AtomConfiguration",
    "atom_configurations",
    "configuration_label",
    "fix_occupation",
    "orbital_l",
]

_L_NAMES: Final[str] = "spdf"
# (noble-gas core Z, its electrons per l (s, p, d, f)) of each d-block row, by Z range
_ROWS: Final[tuple[tuple[range, int, tuple[int, int, int, int]], ...]] = (
    (range(21, 31), 3, (6, 12, 0, 0)),  # [Ar] 3d 4s
    (range(39, 49), 4, (8, 18, 10, 0)),  # [Kr] 4d 5s
    (range(57, 58), 5, (10, 24, 20, 0)),  # La: [Xe] 5d 6s
    (range(72, 81), 5, (10, 24, 20, 14)),  # [Xe] 4f14 5d 6s
)
# electrons per l that an ECP with this many core electrons removes (1s..3d; ..4d; ..4f)
_ECP_CORE: Final[dict[int, tuple[int, int, int, int]]] = {
    0: (0, 0, 0, 0),
    28: (6, 12, 10, 0),
    46: (8, 18, 20, 0),
    60: (8, 18, 20, 14),
}


@dataclass(frozen=True)
class AtomConfiguration:
    """One electron configuration of a free atom as electron counts per angular momentum.

    label: e.g. ``"3d6 4s2"`` (valence shells only).
    alpha, beta: electrons of each spin per l = (s, p, d, f), every explicitly treated electron
                 included (core too; ECP-removed ones not). ``sum(alpha) - sum(beta)`` = 2S.
    """

    label: str
    alpha: tuple[int, int, int, int]
    beta: tuple[int, int, int, int]


def atom_configurations(
    symbol: str, multiplicity: int, n_ecp_core: int = 0
) -> tuple[AtomConfiguration, ...]:
    """The valence s/d configurations of a neutral d-block atom with this multiplicity.

    Tries s², s¹ and s⁰ (d count adjusted), keeps those whose high-spin distribution gives
    2S = ``multiplicity`` − 1 with at most 5 electrons per spin in the d shell and no more β
    than α electrons in either open shell (so ROHF can hold them). Returns () for an atom
    outside the d block or an ECP this table does not know (the caller runs plain aufbau).
    Fe quintet -> (3d6 4s2, 3d7 4s1); Cr septet -> (3d5 4s1,); Cu doublet -> (3d9 4s2, 3d10 4s1).
    """
    z = atomic_numbers.get(symbol, 0)
    row = next(((n, core) for zs, n, core in _ROWS if z in zs), None)
    if row is None or n_ecp_core not in _ECP_CORE:
        return ()
    n, core = row
    removed = _ECP_CORE[n_ecp_core]
    inner = tuple(c - r for c, r in zip(core, removed, strict=True))
    if min(inner) < 0:
        return ()
    n_valence = z - sum(core)
    two_s = multiplicity - 1
    out = []
    for k_s in (2, 1, 0):
        k_d = n_valence - k_s
        if not 0 <= k_d <= 10:
            continue
        s_alpha = 1 if k_s >= 1 else 0
        s_beta = k_s - s_alpha
        excess = two_s - (s_alpha - s_beta)  # α − β left for the d shell
        if (k_d + excess) % 2:
            continue
        d_alpha, d_beta = (k_d + excess) // 2, (k_d - excess) // 2
        if not 0 <= d_beta <= d_alpha <= 5:
            continue
        alpha = (inner[0] // 2 + s_alpha, inner[1] // 2, inner[2] // 2 + d_alpha, inner[3] // 2)
        beta = (inner[0] // 2 + s_beta, inner[1] // 2, inner[2] // 2 + d_beta, inner[3] // 2)
        out.append(AtomConfiguration(f"{n}d{k_d} {n + 1}s{k_s}", alpha, beta))
    return tuple(out)


def orbital_l(mol: Any, mo_coeff: Any) -> Any:
    """Dominant angular momentum (0..3) of each column of ``mo_coeff`` (Mulliken weights).

    mo_coeff: (n_ao, n_mo) for one-centre ``mol`` (a free atom), whose AOs have pure l.
    """
    import numpy as np

    ao_l = np.array(["spdfghi".index(label[2][-1]) for label in mol.ao_labels(fmt=False)])
    c = np.asarray(mo_coeff)
    weights = c * (mol.intor_symmetric("int1e_ovlp") @ c)  # (n_ao, n_mo) Mulliken weights
    per_l = np.stack([weights[ao_l == ell].sum(axis=0) for ell in range(4)])
    return per_l.argmax(axis=0)


def _fill(mol: Any, energy: Any, coeff: Any, counts: tuple[int, ...], label: str) -> Any:
    """0/1 occupations filling, per l, the ``counts[l]`` lowest orbitals of that character."""
    import numpy as np

    ells = orbital_l(mol, coeff)
    occ = np.zeros(len(energy))
    for ell, count in enumerate(counts):
        idx = np.flatnonzero(ells == ell)
        if idx.size < count:
            raise ValueError(
                f"configuration {label}: basis has {idx.size} {_L_NAMES[ell]} orbitals, "
                f"needs {count}"
            )
        occ[idx[np.argsort(energy[idx], kind="stable")[:count]]] = 1.0
    return occ


def fix_occupation(mf: Any, config: AtomConfiguration) -> Any:
    """Make ``mf`` (a PySCF RHF/ROHF/UHF or KS of a free atom) keep ``config`` at every SCF step.

    Replaces ``mf.get_occ``; copies of ``mf`` (Newton solver, stability restarts) inherit it.
    RHF/ROHF: the β counts are doubly occupied, the α − β excess singly, per l.
    Returns ``mf``. Raises ValueError if the electron counts do not match ``mf.mol``.
    """
    import numpy as np

    mol = mf.mol
    n_alpha, n_beta = mol.nelec
    if (sum(config.alpha), sum(config.beta)) != (n_alpha, n_beta):
        raise ValueError(
            f"configuration {config.label}: {sum(config.alpha)}α/{sum(config.beta)}β electrons, "
            f"molecule has {n_alpha}α/{n_beta}β"
        )
    restricted = not mf.istype("UHF")  # RHF/RKS/ROHF: one set of orbitals

    def get_occ(mo_energy: Any = None, mo_coeff: Any = None) -> Any:
        energy = mf.mo_energy if mo_energy is None else mo_energy
        coeff = mf.mo_coeff if mo_coeff is None else mo_coeff
        if restricted:
            energy = np.asarray(energy)
            single = tuple(a - b for a, b in zip(config.alpha, config.beta, strict=True))
            doubly = _fill(mol, energy, coeff, config.beta, config.label)
            rest = np.where(doubly > 0, np.inf, energy)  # singles go to the next orbitals
            ells = orbital_l(mol, coeff)
            occ = 2.0 * doubly
            for ell, count in enumerate(single):
                idx = np.flatnonzero((ells == ell) & (doubly == 0))
                occ[idx[np.argsort(rest[idx], kind="stable")[:count]]] = 1.0
            return occ
        occ_a = _fill(mol, np.asarray(energy[0]), coeff[0], config.alpha, config.label)
        occ_b = _fill(mol, np.asarray(energy[1]), coeff[1], config.beta, config.label)
        return np.array([occ_a, occ_b])

    mf.get_occ = get_occ
    return mf


def configuration_label(mf: Any, symbol: str) -> str:
    """Valence configuration (``"3d7 4s1"``) that a converged SCF of a free atom occupies.

    Counts the occupied orbitals of each dominant l and removes the noble-gas (and ECP) core;
    ``"?"`` outside the d block. Works for RHF/ROHF (one set of orbitals) and UHF/UKS.
    """
    import numpy as np

    z = atomic_numbers.get(symbol, 0)
    row = next(((n, core) for zs, n, core in _ROWS if z in zs), None)
    n_ecp = int(mf.mol.atom_nelec_core(0)) if mf.mol.has_ecp() else 0
    if row is None or n_ecp not in _ECP_CORE:
        return "?"
    n, core = row
    occ, coeff = np.asarray(mf.mo_occ), mf.mo_coeff
    pairs = [(occ, coeff)] if occ.ndim == 1 else list(zip(occ, coeff, strict=True))
    counts = np.zeros(4)
    for o, c in pairs:
        ells = orbital_l(mf.mol, c)
        for ell in range(4):
            counts[ell] += float(o[ells == ell].sum())
    inner = np.array(core) - np.array(_ECP_CORE[n_ecp])
    k_s, k_d = (round(float(x)) for x in (counts[0] - inner[0], counts[2] - inner[2]))
    return f"{n}d{k_d} {n + 1}s{k_s}"
