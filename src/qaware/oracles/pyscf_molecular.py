"""PySCF oracle for molecules and clusters: PBE, r2SCAN, SCAN, HSE06, PBE0, HF and CCSD(T).

A :class:`PySCFOracle` is a frozen, picklable *spec*; ``compute(atoms)`` builds the molecule,
runs the calculation, records diagnostics and applies the sanity gates (:mod:`.gates`). It
never raises for a failed calculation. Å in; eV, eV/Å out (diagnostic energies in eV too).

* DFT: RKS for singlets, UKS otherwise; grid level 3 (GGA, hybrids) or 5 (meta-GGAs, whose
  energies are grid-sensitive). HF: RHF/UHF. Analytic gradients with the grid response, so
  forces are −∇E of the reported energy.
* SCF: DIIS, then Newton (second order) if DIIS did not converge, else ``scf_not_converged``.
  ``mf.stability()`` follows every converged SCF; an unstable solution restarts from the
  lower one (:func:`converge_scf`), else the ``scf_unstable`` gate rejects it.
* CCSD(T): RHF reference for closed shells; ROHF for open shells, UHF as the fallback when ROHF
  or its CCSD does not converge. ROHF orbitals are semicanonicalised before UCCSD(T), the usual
  ROHF-CCSD(T) (Watts, Gauss & Bartlett, JCP 98, 8718 (1993)); PySCF's default puts the
  non-canonical ROHF orbital energies in the (T) denominators (0.04 eV off on FeO/def2-SVP).
  Frozen chemical core, CCSD convergence checked, T1/D1 recorded. No forces.
* Spin: ``multiplicity`` if given, else :func:`.spin.default_multiplicity`, or with
  ``spin_scan=True`` the lowest-energy of a few multiplicities that pass the gates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, Literal, get_args

from ase import Atoms

from qaware.errors import ConfigError, MissingDependencyError
from qaware.oracles import gates as g
from qaware.oracles.base import settings_hash, timed_call
from qaware.oracles.gates import GateSettings, apply_gates
from qaware.oracles.result import OracleResult
from qaware.oracles.spin import candidate_multiplicities, default_multiplicity, n_electrons
from qaware.units import BOHR_ANGSTROM, HARTREE_EV

__all__ = ["METHODS", "Method", "PySCFOracle"]

Method = Literal["PBE", "r2SCAN", "SCAN", "HSE06", "PBE0", "HF", "CCSD(T)"]
METHODS: Final[tuple[str, ...]] = get_args(Method)
_XC: Final[dict[str, str]] = dict(
    PBE="PBE", r2SCAN="R2SCAN", SCAN="SCAN", HSE06="HSE06", PBE0="PBE0"
)
_META_GGA: Final[frozenset[str]] = frozenset({"r2SCAN", "SCAN"})
# Settings that change how fast an answer comes, not the answer: left out of the hash.
_EXECUTION_ONLY: Final[frozenset[str]] = frozenset({"num_threads", "timeout_s", "max_memory_mb"})
REASON_PERIODIC: Final[str] = "periodic structure: use the GPAW oracle"
STABILITY_NOISE_HARTREE: Final[float] = 1e-5  # a lower SCF solution closer than this is noise


@dataclass(frozen=True)
class PySCFOracle:
    """Molecular PySCF calculation at one level of theory (picklable spec).

    method:        one of :data:`METHODS`.
    basis:         Gaussian basis (``def2-SVP``, ``def2-TZVP``...); def2 ECPs beyond Kr.
    multiplicity:  2S+1, or None for the default table / parity rule (see ``spin_scan``).
    charge:        net charge (e).
    spin_scan:     with ``multiplicity=None``, compute the ``spin_scan_count`` lowest allowed
                   multiplicities and keep the lowest energy that passes the gates.
    frozen_core:   freeze chemical cores in CCSD(T).
    conv_tol:      SCF energy convergence (Hartree); ``max_cycle`` SCF iterations per stage.
    cc_conv_tol, cc_max_cycle: CCSD convergence (Hartree) and iteration cap.
    grids_level:   DFT integration grid level, None = 3 (GGA/hybrid) or 5 (meta-GGA).
    stability_restarts: restarts from a lower solution found by stability analysis.
    level_name:    fidelity name this oracle labels; defaults to ``method``.
    gates:         sanity-gate thresholds.
    timeout_s:     wall-clock limit a campaign applies through ``run_with_timeout``.
    num_threads:   OpenMP threads for PySCF (None: leave ``OMP_NUM_THREADS`` in charge).
    max_memory_mb: PySCF's memory cap (MB).
    """

    method: Method = "PBE"
    basis: str = "def2-SVP"
    multiplicity: int | None = None
    charge: int = 0
    spin_scan: bool = False
    spin_scan_count: int = 3
    frozen_core: bool = True
    conv_tol: float = 1e-9
    max_cycle: int = 100
    cc_conv_tol: float = 1e-7
    cc_max_cycle: int = 100
    grids_level: int | None = None
    stability_restarts: int = 2
    level_name: str | None = None
    gates: GateSettings = field(default_factory=GateSettings)
    timeout_s: float = 1800.0
    num_threads: int | None = None
    max_memory_mb: int = 4000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"oracle.method: {self.method!r} is not one of {list(METHODS)}")
        if not self.basis or not isinstance(self.basis, str):
            raise ConfigError(f"oracle.basis: must be a basis name, got {self.basis!r}")
        if self.multiplicity is not None and self.multiplicity < 1:
            raise ConfigError(f"oracle.multiplicity: must be >= 1, got {self.multiplicity}")
        for name in ("conv_tol", "cc_conv_tol", "timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"oracle.{name}: must be > 0, got {getattr(self, name)}")
        for name in ("max_cycle", "cc_max_cycle", "spin_scan_count", "max_memory_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"oracle.{name}: must be >= 1, got {getattr(self, name)}")
        if self.stability_restarts < 0:
            raise ConfigError("oracle.stability_restarts: must be >= 0")
        if self.level_name is not None and not self.level_name.strip():
            raise ConfigError("oracle.level_name: must be non-empty (or None for the method)")

    # -- provenance ---------------------------------------------------------------------
    @property
    def level(self) -> str:
        """Fidelity name of the results (``level_name`` or the method)."""
        return self.level_name or self.method

    @property
    def code(self) -> str:
        return "pyscf"

    @property
    def code_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pyscf")
        except PackageNotFoundError:
            return "not installed"

    def settings_hash(self) -> str:
        """sha256 of code, version and every setting except the execution-only ones."""
        settings = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in _EXECUTION_ONLY
        }
        return settings_hash(
            {"code": self.code, "code_version": self.code_version, "settings": settings}
        )

    # -- calculation --------------------------------------------------------------------
    def compute(self, atoms: Atoms) -> OracleResult:
        """Energy (eV), forces (eV/Å, DFT/HF only) and diagnostics of ``atoms``; never raises."""
        result = timed_call(
            self._compute,
            atoms,
            level=self.level,
            code=self.code,
            code_version=self.code_version,
            settings_hash=self.settings_hash(),
        )
        return apply_gates(result, self.gates)

    def _result(self, reason: str = "", **kwargs: Any) -> OracleResult:
        """A result with this oracle's provenance; ``ok`` exactly when no ``reason``."""
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
        if any(atoms.pbc):
            return self._result(REASON_PERIODIC)
        if len(atoms) == 0:
            return self._result("empty structure")
        try:
            from pyscf import lib
        except ImportError as exc:
            raise MissingDependencyError("pyscf", "pyscf", "the PySCF oracle") from exc
        if self.num_threads is not None:
            lib.num_threads(self.num_threads)
        n_elec = n_electrons(atoms, self.charge)
        if self.multiplicity is not None:
            return self._at_multiplicity(atoms, self.multiplicity, "user")
        if not self.spin_scan:
            return self._at_multiplicity(atoms, *default_multiplicity(atoms, self.charge))
        return self._spin_scan(atoms, candidate_multiplicities(n_elec, self.spin_scan_count))

    def _spin_scan(self, atoms: Atoms, multiplicities: tuple[int, ...]) -> OracleResult:
        """Lowest-energy multiplicity among those whose result passes the gates."""
        results = {m: apply_gates(self._at_multiplicity(atoms, m, "scan"), self.gates)
                   for m in multiplicities}  # fmt: skip
        scan = {str(m): r.energy for m, r in results.items()}
        pool = [r for r in results.values() if r.ok] or list(results.values())
        best = min(pool, key=lambda r: r.energy if r.energy is not None else math.inf)
        return replace(best, diagnostics={**best.diagnostics, "spin_scan_ev": scan})

    def _at_multiplicity(self, atoms: Atoms, multiplicity: int, source: str) -> OracleResult:
        n_elec = n_electrons(atoms, self.charge)
        if (n_elec - (multiplicity - 1)) % 2 or multiplicity - 1 > n_elec:
            return self._result(
                f"invalid_spin: multiplicity {multiplicity} impossible with {n_elec} electrons"
            )
        mol = build_molecule(atoms, self.basis, self.charge, multiplicity, self.max_memory_mb)
        s = 0.5 * (multiplicity - 1)
        diag: dict[str, Any] = {"method": self.method, "basis": self.basis, "charge": self.charge}
        diag.update(multiplicity=multiplicity, spin_source=source, n_basis=int(mol.nao_nr()))
        diag.update({g.OPEN_SHELL: multiplicity > 1, g.S2_EXPECTED: s * (s + 1)})
        if self.method == "CCSD(T)":
            return self._ccsd_t(mol, diag)
        return self._scf_level(mol, diag)

    def _make_scf(self, mol: Any, kind: str) -> Any:
        """An unconverged mean-field object: kind in RHF/UHF/ROHF/RKS/UKS."""
        from pyscf import dft, scf

        if kind in ("RKS", "UKS"):
            mf = dft.RKS(mol) if kind == "RKS" else dft.UKS(mol)
            mf.xc = _XC[self.method]
            level = self.grids_level
            mf.grids.level = level if level is not None else (5 if self.method in _META_GGA else 3)
        else:
            mf = {"RHF": scf.RHF, "UHF": scf.UHF, "ROHF": scf.ROHF}[kind](mol)
        mf.conv_tol = self.conv_tol
        mf.max_cycle = self.max_cycle
        mf.chkfile = None  # no scratch files: the result travels in the OracleResult
        mf.verbose = 0
        return mf

    def _scf_level(self, mol: Any, diag: dict[str, Any]) -> OracleResult:
        closed = mol.spin == 0
        if self.method == "HF":
            kind = "RHF" if closed else "UHF"
        else:
            kind = "RKS" if closed else "UKS"
            diag["xc"] = _XC[self.method]
        mf, scf_diag = converge_scf(self._make_scf(mol, kind), self.stability_restarts)
        diag.update(scf_diag, reference=kind, e_scf=float(mf.e_tot) * HARTREE_EV)
        diag[g.S2] = spin_square(mf)
        if not diag[g.SCF_CONVERGED]:
            return self._result("scf_not_converged", diagnostics=diag)
        if kind in ("RKS", "UKS"):
            diag["grids_level"] = int(mf.grids.level)
        energy = float(mf.e_tot) * HARTREE_EV
        return self._result(energy=energy, forces=scf_forces_ev_a(mf), diagnostics=diag)

    def _ccsd_t(self, mol: Any, diag: dict[str, Any]) -> OracleResult:
        references = ("RHF",) if mol.spin == 0 else ("ROHF", "UHF")
        tried: list[str] = []
        attempt: dict[str, Any] = {}
        for kind in references:
            tried.append(kind)
            mf, scf_diag = converge_scf(self._make_scf(mol, kind), self.stability_restarts)
            if not scf_diag[g.SCF_CONVERGED]:
                attempt = attempt or {**scf_diag, "reference": kind}  # keep a CCSD failure
                continue
            attempt = {**scf_diag, "reference": kind, g.S2: spin_square(mf)}
            attempt["e_scf"] = float(mf.e_tot) * HARTREE_EV
            attempt.update(ccsd_t(mf, self.frozen_core, self.cc_conv_tol, self.cc_max_cycle))
            if attempt[g.CCSD_CONVERGED]:
                break
        diag.update(attempt, references_tried=tried)
        if not diag[g.SCF_CONVERGED]:
            return self._result("scf_not_converged", diagnostics=diag)
        if not diag[g.CCSD_CONVERGED]:
            return self._result("ccsd_not_converged", diagnostics=diag)
        energy = diag["e_scf"] + diag["e_corr"] + diag["e_t"]
        return self._result(energy=energy, diagnostics=diag)


# -- PySCF steps (pure functions of PySCF objects) --------------------------------------------
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


def _kernel(mf: Any, dm0: Any = None) -> tuple[Any, str]:
    """Run DIIS; if it does not converge, continue with Newton from where it stopped."""
    mf.kernel(dm0=dm0)
    if mf.converged:
        return mf, "diis"
    newton = mf.newton()
    newton.kernel(mf.mo_coeff, mf.mo_occ)
    return newton.undo_soscf(), "newton"


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
    active-occupied and virtual blocks (same determinant, same energy)."""
    import numpy as np

    uhf = rohf.to_uhf()
    focks = uhf.get_fock(dm=uhf.make_rdm1())
    mos, energies = [], []
    for c, f, occ in zip(uhf.mo_coeff, focks, uhf.mo_occ, strict=True):
        c, e = np.array(c, copy=True), np.zeros(c.shape[1])
        occupied, virtual = np.flatnonzero(occ > 0), np.flatnonzero(occ == 0)
        for block in (occupied[:ncore], occupied[ncore:], virtual):
            if block.size:
                w, u = np.linalg.eigh(c[:, block].T @ f @ c[:, block])
                c[:, block], e[block] = c[:, block] @ u, w
        mos.append(c)
        energies.append(e)
    uhf.mo_coeff, uhf.mo_energy = tuple(mos), tuple(energies)
    return uhf


def ccsd_t(mf: Any, frozen_core: bool, conv_tol: float, max_cycle: int) -> dict[str, Any]:
    """CCSD(T) on a converged RHF/ROHF/UHF; energies in eV. Skips (T) if CCSD did not converge."""
    from pyscf import cc
    from pyscf.data.elements import chemcore

    ncore = int(chemcore(mf.mol)) if frozen_core else 0
    ref = semicanonical_uhf(mf, ncore) if mf.istype("ROHF") else mf
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
        out["e_t"] = float(solver.ccsd_t()) * HARTREE_EV
    return out
