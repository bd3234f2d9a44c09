"""Descriptors q of a molecule or cluster from a converged PySCF SCF object (DESIGN.md §4).

* **DOS / gap**: MO energies, spin-resolved (restricted and ROHF orbitals are split into α and
  β channels by their occupation), reference = HOMO–LUMO midpoint (:mod:`.dos`).
* **ELF**: evaluated on the SCF's own DFT integration grid (a fresh level-3 Becke grid for HF)
  from the density matrix — ρ_σ, ∇ρ_σ and τ = ½Σ|∇φ|² by ``pyscf.dft.numint`` — with the
  spin-resolved formula of :mod:`.elf` (the closed-shell formula when restricted). The histogram
  is weighted by ρ × quadrature weight, i.e. it is ∫ρ δ(ELF(r) − e) dr / N_electrons. No cube
  file: the quadrature grid integrates the density to N exactly, a uniform cube does not.
* **response**: finite-field static polarisability (±0.001 au along x, y, z, six extra SCFs
  started from the converged density; dipole integrals about the nuclear charge centre),
  isotropic, divided by the atom count, in Å^3. ``pyscf.prop`` (CPHF) lives in the separate
  pyscf-properties package, so finite field is used: it needs nothing beyond the SCF itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaware.descriptors.dos import (
    DEFAULT_DOS_BINS,
    DEFAULT_DOS_SIGMA_EV,
    band_gap,
    dos_vector,
    reference_energy,
)
from qaware.descriptors.elf import DEFAULT_ELF_BINS, elf_from_spin_densities, elf_histogram
from qaware.descriptors.response import (
    AU_POLARISABILITY_A3,
    DEFAULT_FIELD_AU,
    finite_field_polarisability,
    isotropic_polarisability,
)
from qaware.errors import MissingDependencyError

__all__ = [
    "molecular_descriptors",
    "pyscf_elf",
    "pyscf_polarisability_au",
    "pyscf_spin_levels",
]

_FIELD_CONV_TOL = 1e-10  # Ha: SCF tolerance of the finite-field runs (dipole noise ≪ α·F)


def _pyscf() -> Any:
    try:
        import pyscf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("pyscf", "pyscf", "molecular descriptors") from exc
    return pyscf


def _is_unrestricted(mf: Any) -> bool:
    return np.asarray(mf.mo_occ).ndim == 2


def pyscf_spin_levels(mf: Any) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues (2, n_mo) eV, fillings (2, n_mo) in [0, 1]) of an SCF object, α then β.

    Restricted orbitals with occupation 2 fill both channels; ROHF singly occupied ones fill α.
    """
    from ase.units import Hartree

    eig = np.asarray(mf.mo_energy, dtype=float) * Hartree
    occ = np.asarray(mf.mo_occ, dtype=float)
    if _is_unrestricted(mf):
        return eig, occ
    alpha = np.clip(occ, 0.0, 1.0)
    beta = np.clip(occ - 1.0, 0.0, 1.0)
    return np.stack([eig, eig]), np.stack([alpha, beta])


def pyscf_elf(mf: Any, mol: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(elf (n,), density (n,) bohr^-3, quadrature weights (n,) bohr^3) on the SCF's DFT grid."""
    _pyscf()
    from pyscf import dft

    grids = getattr(mf, "grids", None)
    if grids is None:
        grids = dft.gen_grid.Grids(mol)
        grids.level = 3
    if grids.coords is None:
        grids.build(with_non0tab=True)
    dm = np.asarray(mf.make_rdm1())
    dms = dm if dm.ndim == 3 else dm[None]  # (n_spin, nao, nao); restricted = total density
    ni = dft.numint.NumInt()
    elf_parts, rho_parts, w_parts = [], [], []
    for ao, _mask, weight, _coords in ni.block_loop(mol, grids, mol.nao_nr(), deriv=1):
        rho_s, grad2_s = [], []
        tau = np.zeros(len(weight))
        for d in dms:
            r = ni.eval_rho(mol, ao, d, xctype="MGGA", with_lapl=False)  # rho, ∇rho (3), tau
            rho_s.append(r[0])
            grad2_s.append(np.einsum("xg,xg->g", r[1:4], r[1:4]))
            tau = tau + r[4]
        elf_parts.append(elf_from_spin_densities(np.array(rho_s), np.array(grad2_s), tau))
        rho_parts.append(np.sum(rho_s, axis=0))
        w_parts.append(weight)
    return np.concatenate(elf_parts), np.concatenate(rho_parts), np.concatenate(w_parts)


def pyscf_polarisability_au(mf: Any, mol: Any, field: float = DEFAULT_FIELD_AU) -> np.ndarray:
    """(3, 3) static polarisability, bohr^3, by finite field on a copy of ``mf``.

    The field F enters the one-electron Hamiltonian as +F·r (electron charge −1), dipole
    integrals taken about the nuclear charge centre. Raises RuntimeError when a field run does
    not converge (the descriptor would be noise).
    """
    _pyscf()
    charges = mol.atom_charges()
    centre = np.einsum("i,ix->x", charges, mol.atom_coords()) / charges.sum()
    with mol.with_common_orig(centre):
        r_ints = mol.intor_symmetric("int1e_r", comp=3)
    h0 = mf.get_hcore(mol)
    dm0 = mf.make_rdm1()

    def dipole(f_vec: np.ndarray) -> np.ndarray:
        run = mf.copy()
        run.verbose = 0
        run.conv_tol = min(float(getattr(mf, "conv_tol", 1e-9)), _FIELD_CONV_TOL)
        h_field = h0 + np.einsum("x,xij->ij", f_vec, r_ints)
        run.get_hcore = lambda *args, **kwargs: h_field
        run.kernel(dm0=dm0)
        if not run.converged:
            raise RuntimeError(f"finite-field SCF (field {f_vec.tolist()} au) did not converge")
        with mol.with_common_orig(centre):
            return np.asarray(run.dip_moment(mol, run.make_rdm1(), unit="AU", verbose=0))

    return finite_field_polarisability(dipole, field)


def molecular_descriptors(
    mf: Any,
    mol: Any,
    *,
    bins: np.ndarray = DEFAULT_DOS_BINS,
    sigma: float = DEFAULT_DOS_SIGMA_EV,
    elf_bins: int = DEFAULT_ELF_BINS,
    field: float | None = DEFAULT_FIELD_AU,
) -> dict[str, np.ndarray]:
    """Descriptor dict (keys ``dos``, ``gap``, ``elf``, ``response``) of a converged SCF.

    mf:    converged PySCF SCF (RHF/ROHF/UHF/RKS/UKS) of ``mol``.
    field: finite-field strength (au) for the polarisability; None skips the six extra SCFs
           and leaves ``response`` out of the dict.
    Shapes and units: see :mod:`qaware.descriptors`. Raises ValueError when ``mf`` is not
    converged.
    """
    from qaware.descriptors import DOS, ELF, GAP, RESPONSE

    if not getattr(mf, "converged", False):
        raise ValueError("molecular_descriptors: the SCF object is not converged")
    eig, fill = pyscf_spin_levels(mf)
    ref = reference_energy(eig, fill)
    out = {
        DOS: dos_vector(eig, 1.0, ref, bins=bins, sigma=sigma, n_atoms=mol.natm),
        GAP: np.array([band_gap(eig, fill)]),
    }
    elf, rho, weights = pyscf_elf(mf, mol)
    out[ELF] = elf_histogram(elf, rho, bins=elf_bins, grid_weights=weights)
    if field is not None:
        alpha = pyscf_polarisability_au(mf, mol, field)
        out[RESPONSE] = np.array(
            [isotropic_polarisability(alpha) * AU_POLARISABILITY_A3 / mol.natm]
        )
    return out
