"""The PySCF steps the molecular oracle chains: build, converge (DIIS -> Newton -> stability),
spin, forces and CCSD(T). Private: :class:`~qaware.oracles.pyscf_molecular.PySCFOracle` is the API.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from ase import Atoms

from qaware.oracles import gates as g
from qaware.oracles.atom_states import AtomConfiguration, fix_occupation
from qaware.units import BOHR_ANGSTROM, HARTREE_EV

STABILITY_NOISE_HARTREE: Final[float] = 1e-5  # a lower SCF solution closer than this is noise
TRIPLES_SKIPPED: Final[str] = "triples_skipped"  # diagnostics: (T) not computed (gated CCSD)


def build_molecule(
    atoms: Atoms, basis: str, charge: int, multiplicity: int, max_memory_mb: int
) -> Any:
    """A built ``pyscf.gto.Mole`` (Å, no point-group symmetry, def2 ECPs beyond Kr)."""
    from pyscf import gto

    heavy = any(int(z) > 36 for z in atoms.get_atomic_numbers())
    return gto.M(
        atom=[
            (s, tuple(map(float, p)))
            for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
        ],
        unit="Angstrom",
        basis=basis,
        ecp=basis if heavy and basis.lower().startswith("def2") else None,
        charge=charge,
        spin=multiplicity - 1,
        symmetry=False,
        max_memory=max_memory_mb,
        verbose=0,
    )


def make_scf(
    mol: Any,
    kind: str,
    xc: str,
    grids_level: int,
    conv_tol: float,
    max_cycle: int,
    config: AtomConfiguration | None = None,
) -> Any:
    """An unconverged mean-field object: kind in RHF/UHF/ROHF/RKS/UKS (``xc`` and the grid
    level for the KS kinds); ``config`` fixes a free atom's configuration."""
    from pyscf import dft, scf

    if kind in ("RKS", "UKS"):
        mf = dft.RKS(mol) if kind == "RKS" else dft.UKS(mol)
        mf.xc, mf.grids.level = xc, grids_level
    else:
        mf = {"RHF": scf.RHF, "UHF": scf.UHF, "ROHF": scf.ROHF}[kind](mol)
    mf.conv_tol, mf.max_cycle = conv_tol, max_cycle
    mf.chkfile = None  # no scratch files: the result travels in the OracleResult
    mf.verbose = 0
    if config is not None:
        fix_occupation(mf, config)
    return mf


def _kernel(mf: Any, dm0: Any = None) -> tuple[Any, str]:
    """Run DIIS; if it does not converge, continue with Newton from where it stopped."""
    mf.kernel(dm0=dm0)
    if mf.converged:
        return mf, "diis"
    newton = mf.newton()
    newton.kernel(mf.mo_coeff, mf.mo_occ)
    return newton.undo_soscf(), "newton"


def n_orbital_rotations(mo_occ: Any) -> int:
    """Occupied–unoccupied orbital pairs a stability analysis could rotate (0: one determinant,
    e.g. triplet H2 in a minimal basis, where PySCF's Davidson solver divides by zero)."""
    occ = np.asarray(mo_occ)
    if occ.ndim == 2:  # unrestricted: alpha and beta rotate separately
        return int(sum((o > 0).sum() * (o == 0).sum() for o in occ))
    double, empty = int((occ > 1.5).sum()), int((occ == 0).sum())
    single = occ.size - double - empty
    return double * (single + empty) + single * empty


def converge_scf(mf: Any, stability_restarts: int) -> tuple[Any, dict[str, Any]]:
    """Converge ``mf`` (DIIS, then Newton) and follow internal instabilities downhill.

    After each converged SCF, ``mf.stability()`` looks for a lower solution; the SCF restarts
    from it at most ``stability_restarts`` times. A restart that lowers the energy by less than
    :data:`STABILITY_NOISE_HARTREE` (grid noise: on the O atom PBE finds "instabilities" worth
    5e-7 Eh) ends the search as stable; one that does not converge or goes uphill is undone.
    Diagnostics: ``scf_converged``, ``scf_solver``, ``n_scf_cycles``, ``scf_stable``,
    ``n_stability_restarts``, ``stability_energy_drop_ev``.
    """
    mf, solver = _kernel(mf)
    cycles = int(getattr(mf, "cycles", 0) or 0)
    stable: bool | None = None
    restarts, drop_total = 0, 0.0
    while mf.converged:
        if n_orbital_rotations(mf.mo_occ) == 0:
            stable = True  # nothing to rotate into: this determinant is the only one
            break
        mo_i, _, stable, _ = mf.stability(return_status=True)
        stable = bool(stable)
        if stable or restarts >= stability_restarts:
            break
        restarts += 1
        previous, previous_solver = mf.copy(), solver
        mf, solver = _kernel(mf, dm0=mf.make_rdm1(mo_i, mf.mo_occ))
        cycles += int(getattr(mf, "cycles", 0) or 0)
        drop = float(previous.e_tot - mf.e_tot) if mf.converged else -math.inf
        if drop <= 0:
            mf, solver = previous, previous_solver
        else:
            drop_total += drop
        if drop < STABILITY_NOISE_HARTREE:
            stable = drop > -math.inf  # uphill/tiny: nothing lower worth having; failed: unstable
            break
    diag = {
        g.SCF_CONVERGED: bool(mf.converged),
        "scf_solver": solver,
        "n_scf_cycles": cycles,
        g.SCF_STABLE: stable,
        "n_stability_restarts": restarts,
        "stability_energy_drop_ev": drop_total * HARTREE_EV,
    }
    return mf, diag


def spin_square(mf: Any) -> float:
    """<S^2> of the SCF determinant (exact S(S+1) for restricted ones)."""
    return float(mf.spin_square()[0])


def scf_forces_ev_a(mf: Any) -> Any:
    """Forces (n_atoms, 3) eV/Å = −analytic gradient, with the DFT grid response included."""
    grad = mf.nuc_grad_method()
    if hasattr(grad, "grid_response"):
        grad.grid_response = True
    grad.verbose = 0
    return -grad.kernel() * (HARTREE_EV / BOHR_ANGSTROM)


def semicanonical_uhf(rohf: Any, ncore: int) -> Any:
    """ROHF as a UHF object whose α and β Fock matrices are diagonal within the frozen-core,
    active-occupied and virtual blocks (same determinant, same energy).

    Occupied orbitals come first in each spin (PySCF's CC code takes the first ``nocc``
    columns as the occupied space), which matters for a fixed, non-aufbau occupation
    (:func:`qaware.oracles.atom_states.fix_occupation`).
    """
    import numpy as np

    uhf = rohf.to_uhf()
    focks = uhf.get_fock(dm=uhf.make_rdm1())
    mos, energies, occs = [], [], []
    for c, f, occ in zip(uhf.mo_coeff, focks, uhf.mo_occ, strict=True):
        occupied, virtual = np.flatnonzero(occ > 0), np.flatnonzero(occ == 0)
        order = np.concatenate([occupied, virtual])
        c, occ = np.array(c[:, order], copy=True), np.asarray(occ)[order]
        e = np.zeros(c.shape[1])
        n_occ = occupied.size
        for block in (np.arange(ncore), np.arange(ncore, n_occ), np.arange(n_occ, c.shape[1])):
            if block.size:
                w, u = np.linalg.eigh(c[:, block].T @ f @ c[:, block])
                c[:, block], e[block] = c[:, block] @ u, w
        mos.append(c)
        energies.append(e)
        occs.append(occ)
    uhf.mo_coeff, uhf.mo_energy, uhf.mo_occ = tuple(mos), tuple(energies), np.array(occs)
    return uhf


def occupied_first(mf: Any) -> Any:
    """A copy of a converged RHF/UHF whose occupied orbitals precede the virtual ones in each
    spin (energy order kept within each block); the same determinant."""
    import numpy as np

    out = mf.copy()
    occ = np.asarray(mf.mo_occ)
    if occ.ndim == 1:
        order = np.concatenate([np.flatnonzero(occ > 0), np.flatnonzero(occ == 0)])
        out.mo_coeff, out.mo_energy = mf.mo_coeff[:, order], mf.mo_energy[order]
        out.mo_occ = occ[order]
        return out
    orders = [np.concatenate([np.flatnonzero(o > 0), np.flatnonzero(o == 0)]) for o in occ]
    out.mo_coeff = np.array([c[:, o] for c, o in zip(mf.mo_coeff, orders, strict=True)])
    out.mo_energy = np.array([e[o] for e, o in zip(mf.mo_energy, orders, strict=True)])
    out.mo_occ = np.array([occ[i][o] for i, o in enumerate(orders)])
    return out


def ccsd_t(
    mf: Any,
    frozen_core: bool,
    conv_tol: float,
    max_cycle: int,
    triples: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """CCSD(T) on a converged RHF/ROHF/UHF; energies in eV. Skips (T) if CCSD did not converge,
    or if ``triples(ccsd diagnostics)`` says no (then ``TRIPLES_SKIPPED`` is True)."""
    from pyscf import cc
    from pyscf.data.elements import chemcore

    ncore = int(chemcore(mf.mol)) if frozen_core else 0
    ref = semicanonical_uhf(mf, ncore) if mf.istype("ROHF") else occupied_first(mf)
    solver = cc.CCSD(ref, frozen=ncore or None)
    solver.conv_tol, solver.max_cycle, solver.verbose = conv_tol, max_cycle, 0
    solver.kernel()
    t1, d1 = g.t1_d1(solver.t1)
    out: dict[str, Any] = {
        g.CCSD_CONVERGED: bool(solver.converged),
        "n_frozen_core": ncore,
        "e_corr": float(solver.e_corr) * HARTREE_EV,
        g.T1: t1,
        g.D1: d1,
    }
    if solver.converged:
        if triples is None or triples(out):
            out["e_t"] = float(solver.ccsd_t()) * HARTREE_EV
        else:
            out[TRIPLES_SKIPPED] = True
    return out


def cc_total_ev(attempt: dict[str, Any]) -> float | None:
    """E(SCF) + E(CCSD corr) + E(T) in eV, or None if CCSD(T) did not finish."""
    if not attempt.get(g.CCSD_CONVERGED) or "e_t" not in attempt:
        return None
    return float(attempt["e_scf"] + attempt["e_corr"] + attempt["e_t"])
