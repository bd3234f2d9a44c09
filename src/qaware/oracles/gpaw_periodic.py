"""GPAW plane-wave oracle for crystals: PBE, PBE+U, HSE06, HSE06@PBE (DESIGN.md §4 "Oracles").

A :class:`GPAWOracle` is a frozen, picklable *spec*; ``compute(atoms)`` builds a GPAW
calculator, runs the SCF and returns energy (eV), forces (eV/Å), stress (Voigt xx yy zz yz xz
xy, eV/Å^3, ASE sign convention) and diagnostics. It never raises: a non-periodic structure
gives ``ok=False, reason="not periodic: use the PySCF oracle"``, an SCF that hits ``maxiter``
(GPAW's ``KohnShamConvergenceError``) gives ``reason="scf_not_converged"``, anything else
``reason="exception: ..."``.

Choices, and why:

* **Basis / k-points**: PW cutoff ``ecut_ev`` and a Γ-centred Monkhorst–Pack mesh from a
  k-point density (:func:`monkhorst_pack_size`; Γ-centred because shifted meshes break
  hexagonal symmetry, and one convention for every cell keeps references comparable).
  Defaults 600 eV and 3.0 per Å^-1 come from ``scripts/gpaw_convergence.py``
  (``benchmarks/results/gpaw_convergence.json``): the formation energies of MgO, SrTiO3 and
  ferromagnetic NiO (PBE+U) stay within 5 meV/atom of 800 eV (≤ 3.3 meV at 600 eV) and of
  4.5 per Å^-1 (≤ 4.0 meV at 3.0). Absolute energies are not converged that far (O-containing
  cells ~42 meV/atom above 800 eV at 600 eV): compare referenced energies only (DESIGN §3).
  The residual k-error sits in the metallic references (fcc Sr 21 meV/atom at 3.0 per Å^-1).
* **Bands**: (n_valence + M)/2 occupied plus 4 + n_atoms empty bands, about GPAW's default
  (20 % + 4) but never capped: GPAW caps its default at the setups' bound partial waves, which
  leaves fcc Sr with 5 bands for 10 electrons — every band full, Fermi level at +inf and a wrong
  metallic energy.
* **Energy**: GPAW's energy extrapolated to zero smearing width (ASE's ``get_potential_energy``);
  the free energy, which the forces differentiate, is in ``diagnostics["free_energy_ev"]``.
  Fermi–Dirac smearing of ``smearing_ev`` (0.05 eV) for every system.
* **PBE+U**: Dudarev U_eff on the d shell, GPAW setups ``{"Fe": ":d,5.3"}``. Default U values are
  the Materials Project's (pymatgen ``MPRelaxSet``: Co 3.32, Cr 3.7, Fe 5.3, Mn 3.9, Mo 4.38,
  Ni 6.2, V 3.25, W 6.2 eV), and as in MP they apply only when the structure contains one of
  ``u_anions`` (O, F), so metallic references are plain PBE. HSE06 ignores U.
* **Spin**: spin-polarised exactly when an atom starts with a moment. Initial moments are the
  structure's own (``atoms.get_initial_magnetic_moments()``, e.g. an antiferromagnetic order)
  when any is non-zero, else a ferromagnetic start from :data:`DEFAULT_MAGMOMS` (pymatgen's
  ``MPRelaxSet`` MAGMOM values: 5 μB on V, Cr, Mn, Fe, Ni, Mo, W; 0.6 on Co and Cu).
* **HSE06**: GPAW's self-consistent plane-wave hybrid (``xc="HSE06"``). Forces are returned
  (checked against finite differences); stress is not: GPAW 26.7's stress misses the
  exact-exchange term (Si, 200 eV, 2³ k: σ_xx −0.190 vs +0.024 eV/Å^3 by finite strain).
  Its cost grows like N_k(irreducible) × N_k(full mesh), so it gets its own, coarse
  ``hybrid_kpt_density`` (default 1.0 per Å^-1: 2×2×2 for a 3.9 Å perovskite cell, 3×3×3
  for a 2-atom rocksalt cell). A cost choice, not a converged one: the PBE sweep of
  ``benchmarks/results/gpaw_convergence.json`` has formation-energy errors of up to 13 meV/atom
  already at 2.0 per Å^-1, and no hybrid sweep exists. 2.0 would give the perovskite 4×4×4
  (8× the full mesh, ~30× the exchange cost), while at 1.0 HSE06 already takes 90–150 CPU s
  on 2-atom cells and over 1500 s on ferromagnetic SrFeO3 (``oracle_costs.json``). HSE06
  formation energies are referenced to elements at the same density, so part of the k-error
  cancels; how much is left at 1.0 has not been measured.
* **HSE06@PBE**: HSE06 evaluated non-self-consistently on converged PBE orbitals (GPAW's
  ``non_self_consistent_energy``) at the same coarse hybrid mesh: the PBE energy extrapolated
  to zero width plus GPAW's hybrid correction (semi-local xc swapped, exact exchange added).
  Energy only (no forces, no stress). About 100× cheaper than the self-consistent hybrid
  (seconds, not 16–37 min, for a 5-atom perovskite) because exact exchange is evaluated once,
  not at every SCF step. On the 18 Track X compounds labelled both ways its formation
  energies are 16 meV/atom (MAE; max 46, CdTiO3) from self-consistent HSE06's, against a
  0.25 eV/atom PBE − HSE06 gap on the same cells (``data/track_x/DECISIONS.md``,
  ``benchmarks/results/fidelity_gaps.json``); the orbitals, and so any ground state the hybrid
  would change, stay PBE's. The name follows the usual ``functional@orbitals`` notation (as in
  G0W0@PBE). The diagnostics' eigenvalue-derived keys carry a ``pbe_`` prefix: they are the
  PBE orbitals' (no hybrid gap is claimed).
* **Descriptors** (``descriptors=True``, semi-local xc only): DOS, gap, ELF histogram and the
  RPA-ε∞ polarisability per atom (:mod:`qaware.descriptors.from_gpaw`); roughly doubles the cost.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, get_args

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError, MissingDependencyError
from qaware.oracles.base import settings_hash, timed_call
from qaware.oracles.gates import SCF_CONVERGED, apply_gates
from qaware.oracles.result import OracleResult

__all__ = [
    "DEFAULT_ECUT_EV",
    "DEFAULT_HUBBARD_U",
    "DEFAULT_KPT_DENSITY",
    "DEFAULT_MAGMOMS",
    "REASON_NOT_PERIODIC",
    "REASON_SCF",
    "XC",
    "GPAWOracle",
    "monkhorst_pack_size",
]

XC = Literal["PBE", "PBE+U", "HSE06", "HSE06@PBE"]
_HYBRIDS: Final[frozenset[str]] = frozenset({"HSE06", "HSE06@PBE"})
_XCS: Final[tuple[str, ...]] = get_args(XC)
DEFAULT_ECUT_EV: Final[float] = 600.0
DEFAULT_KPT_DENSITY: Final[float] = 3.0
DEFAULT_HYBRID_KPT_DENSITY: Final[float] = 1.0
DEFAULT_HUBBARD_U: Final[tuple[tuple[str, float], ...]] = (
    ("Co", 3.32), ("Cr", 3.7), ("Fe", 5.3), ("Mn", 3.9),
    ("Mo", 4.38), ("Ni", 6.2), ("V", 3.25), ("W", 6.2),
)  # fmt: skip
"""U_eff (eV) on the d shell, Materials Project values (pymatgen MPRelaxSet LDAUU)."""
DEFAULT_MAGMOMS: Final[tuple[tuple[str, float], ...]] = (
    ("V", 5.0), ("Cr", 5.0), ("Mn", 5.0), ("Fe", 5.0), ("Co", 0.6),
    ("Ni", 5.0), ("Cu", 0.6), ("Mo", 5.0), ("W", 5.0),
)  # fmt: skip
"""Initial moments (μB) of a ferromagnetic start (pymatgen MPRelaxSet MAGMOM)."""
REASON_NOT_PERIODIC: Final[str] = "not periodic: use the PySCF oracle"
REASON_SCF: Final[str] = "scf_not_converged"
# Settings that change how fast an answer comes, not the answer: left out of the hash.
_EXECUTION_ONLY: Final[frozenset[str]] = frozenset({"threads"})
_EMPTY_BANDS_BASE: Final[int] = 4  # empty bands = 4 + n_atoms (see the module docstring)


def _pairs(
    value: Mapping[str, float] | tuple[tuple[str, float], ...],
) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), float(v)) for k, v in items))


def monkhorst_pack_size(cell: np.ndarray, kpt_density: float) -> tuple[int, int, int]:
    """Mesh size (n1, n2, n3) with at least ``kpt_density`` k-points per Å^-1.

    n_i = ceil(2π |b_i| · kpt_density), b_i the reciprocal vectors without 2π (rows of
    inv(cell).T; cell rows are lattice vectors in Å) — the definition of ASE's
    ``kptdensity2monkhorstpack`` and GPAW's ``kpts={"density": ...}``.
    """
    recip = np.linalg.inv(np.asarray(cell, dtype=float)).T
    lengths = 2.0 * np.pi * np.linalg.norm(recip, axis=1)
    n1, n2, n3 = (max(1, math.ceil(x * kpt_density - 1e-9)) for x in lengths)
    return n1, n2, n3


@dataclass(frozen=True)
class GPAWOracle:
    """GPAW plane-wave calculation of a crystal at one level of theory (picklable spec).

    xc:                 ``"PBE"``, ``"PBE+U"`` or ``"HSE06"``.
    level_name:         fidelity name of the results; None = ``xc``.
    ecut_ev:            plane-wave cutoff, eV.
    kpt_density:        k-points per Å^-1 for PBE/PBE+U (see :func:`monkhorst_pack_size`).
    hybrid_kpt_density: the same for HSE06 (default 1.0; coarse on purpose, see above).
    gamma_centred:      Γ-centred meshes (default); False shifts every mesh off Γ (ASE's
                        ``gamma=False``). Finite-strain checks of the stress need the shift:
                        at Γ whole shells of plane waves cross the cutoff under strain, and the
                        energy jumps (Si, 250 eV: 5e-4 eV/Å^3 off the analytic stress on 3³).
    hubbard_u:          element -> U_eff (eV) on d, for ``PBE+U`` (mapping or pairs).
    u_anions:           U applies only if one of these elements is present; () = always.
    magmoms:            element -> initial moment (μB) of the ferromagnetic default start.
    smearing_ev:        Fermi–Dirac width, eV.
    maxiter:            SCF iteration cap (then ``scf_not_converged``).
    energy_tol_ev:      SCF energy criterion, eV per valence electron (GPAW's ``energy``).
    density_tol:        SCF density criterion, electrons per valence electron.
    descriptors:        compute q (DOS, gap, ELF, response) on semi-local runs.
    threads:            BLAS/OpenMP threads for this call (threadpoolctl), None = as is.
    """

    xc: XC = "PBE"
    level_name: str | None = None
    ecut_ev: float = DEFAULT_ECUT_EV
    kpt_density: float = DEFAULT_KPT_DENSITY
    hybrid_kpt_density: float = DEFAULT_HYBRID_KPT_DENSITY
    gamma_centred: bool = True
    hubbard_u: Mapping[str, float] | tuple[tuple[str, float], ...] = DEFAULT_HUBBARD_U
    u_anions: tuple[str, ...] = ("O", "F")
    magmoms: Mapping[str, float] | tuple[tuple[str, float], ...] = DEFAULT_MAGMOMS
    smearing_ev: float = 0.05
    maxiter: int = 200
    energy_tol_ev: float = 1e-5
    density_tol: float = 1e-5
    descriptors: bool = False
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.xc not in _XCS:
            raise ConfigError(f"oracle.xc: {self.xc!r} is not one of {list(_XCS)}")
        object.__setattr__(self, "hubbard_u", _pairs(self.hubbard_u))
        object.__setattr__(self, "magmoms", _pairs(self.magmoms))
        object.__setattr__(self, "u_anions", tuple(sorted(self.u_anions)))
        for name in ("ecut_ev", "kpt_density", "hybrid_kpt_density", "smearing_ev",
                     "energy_tol_ev", "density_tol"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ConfigError(f"oracle.{name}: must be > 0, got {getattr(self, name)}")
        if self.maxiter < 1:
            raise ConfigError(f"oracle.maxiter: must be >= 1, got {self.maxiter}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"oracle.threads: must be >= 1 or None, got {self.threads}")
        if any(u < 0 for _, u in _pairs(self.hubbard_u)):
            raise ConfigError(f"oracle.hubbard_u: U must be >= 0 eV, got {dict(self.hubbard_u)}")
        if self.level_name is not None and not self.level_name.strip():
            raise ConfigError("oracle.level_name: must be non-empty (or None for the xc)")

    # -- provenance ---------------------------------------------------------------------
    @property
    def level(self) -> str:
        return self.level_name or self.xc

    @property
    def code(self) -> str:
        return "gpaw"

    @property
    def code_version(self) -> str:
        """GPAW version and its PAW setup package, e.g. ``26.7.0+gpaw-data-1.2.1``."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            gpaw_version = version("gpaw")
        except PackageNotFoundError:
            return "not installed"
        try:
            return f"{gpaw_version}+gpaw-data-{version('gpaw-data')}"
        except PackageNotFoundError:
            return gpaw_version

    def settings_hash(self) -> str:
        """sha256 of code, version and every setting except ``threads``."""
        settings = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in _EXECUTION_ONLY
        }
        return settings_hash(
            {"code": self.code, "code_version": self.code_version, "settings": settings}
        )

    # -- inputs derived from a structure -------------------------------------------------
    def kpts(self, atoms: Atoms) -> tuple[int, int, int]:
        """Monkhorst–Pack mesh this oracle uses for ``atoms``."""
        density = self.hybrid_kpt_density if self.xc in _HYBRIDS else self.kpt_density
        return monkhorst_pack_size(atoms.cell.array, density)

    def u_values(self, atoms: Atoms) -> dict[str, float]:
        """Element -> U_eff (eV) applied to ``atoms`` (empty unless ``xc == "PBE+U"``)."""
        symbols = set(atoms.get_chemical_symbols())
        if self.xc != "PBE+U" or (self.u_anions and not symbols & set(self.u_anions)):
            return {}
        return {el: u for el, u in _pairs(self.hubbard_u) if el in symbols and u > 0}

    def initial_magmoms(self, atoms: Atoms) -> np.ndarray:
        """(n_atoms,) initial moments (μB): the structure's own if any is non-zero, else table."""
        own = np.asarray(atoms.get_initial_magnetic_moments(), dtype=float)
        if own.ndim == 1 and np.any(own != 0):
            return own
        table = dict(_pairs(self.magmoms))
        return np.array([table.get(s, 0.0) for s in atoms.get_chemical_symbols()])

    # -- calculation --------------------------------------------------------------------
    def compute(self, atoms: Atoms) -> OracleResult:
        """Energy, forces, stress (not for HSE06) and diagnostics of ``atoms``; never raises."""
        result = timed_call(
            self._compute,
            atoms,
            level=self.level,
            code=self.code,
            code_version=self.code_version,
            settings_hash=self.settings_hash(),
        )
        return apply_gates(result)

    def _result(self, reason: str = "", **kwargs: Any) -> OracleResult:
        return OracleResult(
            ok=not reason,
            level=self.level,
            reason=reason,
            code=self.code,
            code_version=self.code_version,
            settings_hash=self.settings_hash(),
            **kwargs,
        )

    def _compute(self, atoms: Atoms) -> OracleResult:
        if len(atoms) == 0:
            return self._result("empty structure")
        if not all(atoms.pbc):
            return self._result(REASON_NOT_PERIODIC)
        if abs(atoms.cell.volume) < 1e-6:
            return self._result("not periodic: the cell has zero volume")
        try:
            import gpaw
        except ImportError as exc:
            raise MissingDependencyError("gpaw", "gpaw", "the GPAW oracle") from exc
        with _thread_limit(self.threads):
            return self._run(atoms.copy(), gpaw)

    def _run(self, work: Atoms, gpaw: Any) -> OracleResult:
        kpts, u = self.kpts(work), self.u_values(work)
        magmoms = self.initial_magmoms(work)
        spinpol = bool(np.any(magmoms != 0))
        work.set_initial_magnetic_moments(magmoms if spinpol else None)
        work.calc = gpaw.GPAW(
            mode=gpaw.PW(self.ecut_ev),
            xc="HSE06" if self.xc == "HSE06" else "PBE",
            kpts={"size": kpts, "gamma": self.gamma_centred},
            occupations={"name": "fermi-dirac", "width": self.smearing_ev},
            setups={el: f":d,{value}" for el, value in u.items()},
            spinpol=spinpol,
            nbands=-(_EMPTY_BANDS_BASE + len(work)),
            maxiter=self.maxiter,
            convergence={"energy": self.energy_tol_ev, "density": self.density_tol},
            txt=None,
        )
        diagnostics: dict[str, Any] = {
            "xc": self.xc, "ecut_ev": self.ecut_ev, "kpts": list(kpts),
            "hubbard_u": u, "spin_polarised": spinpol,
        }  # fmt: skip
        try:
            energy = float(work.get_potential_energy())
        except gpaw.KohnShamConvergenceError:
            diagnostics |= {SCF_CONVERGED: False, "n_scf_iterations": self.maxiter}
            return self._result(REASON_SCF, diagnostics=diagnostics)
        calc = work.calc
        if self.xc == "HSE06@PBE":
            return self._non_self_consistent(work, energy, diagnostics)
        forces = work.get_forces()
        stress = None if self.xc == "HSE06" else work.get_stress(voigt=True)
        diagnostics |= _diagnostics(calc, work)
        descriptors: dict[str, np.ndarray] = {}
        if self.descriptors and self.xc not in _HYBRIDS:
            from qaware.descriptors.from_gpaw import periodic_descriptors

            descriptors = periodic_descriptors(calc, work)
        return self._result(
            energy=energy, forces=forces, stress=stress,
            descriptors=descriptors, diagnostics=diagnostics,
        )  # fmt: skip

    def _non_self_consistent(
        self, work: Atoms, pbe_energy: float, diagnostics: dict[str, Any]
    ) -> OracleResult:
        """HSE06 on the converged PBE orbitals of ``work``: energy only (see the docstring)."""
        from gpaw.hybrids.energy import non_self_consistent_energy

        with contextlib.redirect_stdout(io.StringIO()):  # it prints its parts
            parts = np.asarray(non_self_consistent_energy(work.calc, "HSE06"), dtype=float)
        correction = float(parts[1:].sum())
        pbe = _diagnostics(work.calc, work)
        diagnostics |= {k if k in _SCF_KEYS else f"pbe_{k}": v for k, v in pbe.items()}
        diagnostics |= {
            "pbe_energy_ev": pbe_energy,
            "hybrid_correction_ev": correction,
            "free_energy_ev": float(parts.sum()),
        }
        return self._result(energy=pbe_energy + correction, diagnostics=diagnostics)


_SCF_KEYS: Final[frozenset[str]] = frozenset({SCF_CONVERGED, "n_scf_iterations", "n_ibz_kpoints"})


def _diagnostics(calc: Any, atoms: Atoms) -> dict[str, Any]:
    """Scalars worth keeping from a converged calculator (eV, μB)."""
    from qaware.descriptors.dos import band_gap
    from qaware.descriptors.from_gpaw import gpaw_levels

    eig, fill, _ = gpaw_levels(calc)
    try:
        gap: float | None = float(band_gap(eig, fill))
    except ValueError:  # no empty band computed: no gap to report
        gap = None
    out: dict[str, Any] = {
        SCF_CONVERGED: True,
        "n_scf_iterations": int(calc.get_number_of_iterations()),
        "free_energy_ev": float(atoms.get_potential_energy(force_consistent=True)),
        "fermi_level_ev": float(calc.get_fermi_level()),
        "gap_ev": gap,
        "n_ibz_kpoints": int(eig.shape[1]),
    }
    if calc.get_number_of_spins() == 2:
        out["magnetic_moment"] = float(calc.get_magnetic_moment())
        out["magnetic_moments"] = [float(m) for m in calc.get_magnetic_moments()]
    return out


class _thread_limit:  # noqa: N801 - used like a function
    """Limit BLAS/OpenMP threads inside the block (threadpoolctl); no-op for None or without it."""

    def __init__(self, threads: int | None) -> None:
        self._threads, self._ctx = threads, None

    def __enter__(self) -> None:
        if self._threads is None:
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        self._ctx = threadpool_limits(limits=self._threads)

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.restore_original_limits()
