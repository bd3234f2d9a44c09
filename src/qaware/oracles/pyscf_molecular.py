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
* Spin: ``multiplicity`` if given, else ``atoms.info["multiplicity"]`` (part of the structure
  hash, so each spin state has its own cache key), else :func:`.spin.default_multiplicity`, or with
  ``spin_scan=True`` the lowest-energy of a few multiplicities that pass the gates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, Literal, get_args

from ase import Atoms

from qaware.errors import ConfigError, MissingDependencyError
from qaware.oracles import gates as g
from qaware.oracles._pyscf_steps import (  # noqa: F401  (semicanonical_uhf: tests)
    STABILITY_NOISE_HARTREE,
    build_molecule,
    ccsd_t,
    converge_scf,
    scf_forces_ev_a,
    semicanonical_uhf,
    spin_square,
)
from qaware.oracles.base import settings_hash, timed_call
from qaware.oracles.gates import GateSettings, apply_gates
from qaware.oracles.result import OracleResult
from qaware.oracles.spin import candidate_multiplicities, default_multiplicity, n_electrons
from qaware.units import HARTREE_EV

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
        if "charge" in atoms.info and int(atoms.info["charge"]) != self.charge:
            return self._result(
                f"charge_mismatch: structure {atoms.info['charge']}, oracle {self.charge}"
            )
        if self.multiplicity is not None:
            return self._at_multiplicity(atoms, self.multiplicity, "user")
        if "multiplicity" in atoms.info:  # the structure's own electronic state (a recipe's)
            return self._at_multiplicity(atoms, int(atoms.info["multiplicity"]), "structure")
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
