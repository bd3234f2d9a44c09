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
  Frozen chemical core, CCSD convergence checked, T1/D1 recorded. No forces, no descriptors.
  When the ROHF T1 exceeds ``uhf_t1_threshold`` (default 0.045, the open-shell T1 gate),
  UHF-CCSD(T) is run too and replaces the ROHF result if it passes every gate (⟨S²⟩ of the
  UHF included); else the ROHF result stands, the UHF one kept in ``diagnostics["uhf_attempt"]``.
  (T) runs only on a CCSD that passes every gate (``gated_triples=False``): no gate reads (T), so
  a gated CCSD stays gated, and the skipped (T) (o³v⁴, of the order of the whole CCSD for a 3d
  cluster) is saved; such results have ``diagnostics["triples_skipped"]`` and no energy.
* Free neutral d-block atoms (``atom_configurations=True``): the aufbau SCF lands in 3d^(n+1)4s¹ or
  3d^n 4s² depending on the guess (ROHF Fe: 3d⁷4s¹, 2.5 eV above 3d⁶4s²). The atom is computed
  in the aufbau state and in every s/d configuration the multiplicity allows, each held by a
  fixed occupation (:mod:`.atom_states`), and the lowest energy that passes the gates is kept
  (the whole CCSD(T) energy for CCSD(T)). ``diagnostics["atom_configuration"]`` names it and
  ``diagnostics["atom_configurations"]`` lists every candidate's energy and verdict.
* Descriptors (``descriptors=True``, SCF levels only): DOS, gap, ELF histogram and finite-field
  polarisability per atom of the converged SCF (:mod:`qaware.descriptors.from_pyscf`; six
  extra SCFs for the polarisability).
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
    TRIPLES_SKIPPED,
    build_molecule,
    cc_total_ev,
    ccsd_t,
    converge_scf,
    make_scf,
    scf_forces_ev_a,
    semicanonical_uhf,
    spin_square,
)
from qaware.oracles.atom_states import AtomConfiguration, atom_configurations, configuration_label
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
# Settings that change how fast an answer comes, not the answer (no ok result, no gate verdict):
# left out of the hash.
_EXECUTION_ONLY: Final[frozenset[str]] = frozenset(
    {"num_threads", "timeout_s", "max_memory_mb", "gated_triples"}
)
REASON_PERIODIC: Final[str] = "periodic structure: use the GPAW oracle"
_SAME_STATE_EV: Final[float] = 1e-3
"""Atom configurations closer than this (eV) are one state (a fixed occupation that relaxed
into the aufbau solution, e.g. Ti 3d⁴ into 3d²4s² through s–d mixing): the first one tried wins."""


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
    atom_configurations: for a free d-block atom, also compute each s/d configuration the
                   multiplicity allows and keep the lowest energy that passes the gates.
    uhf_t1_threshold: ROHF-CCSD T1 above which UHF-CCSD(T) is tried (None: never).
    gated_triples: compute (T) even on a CCSD that already fails a gate (to inspect the energy of
                   a gated result; the verdict is the same).
    descriptors:   compute q (DOS, gap, ELF, polarisability) on SCF levels.
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
    atom_configurations: bool = True
    uhf_t1_threshold: float | None = 0.045
    gated_triples: bool = False
    descriptors: bool = False
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
        if self.uhf_t1_threshold is not None and not self.uhf_t1_threshold > 0:
            raise ConfigError("oracle.uhf_t1_threshold: must be > 0 or None")
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
        diag: dict[str, Any] = {"method": self.method, "basis": self.basis, "charge": self.charge}
        diag.update(multiplicity=multiplicity, spin_source=source, n_basis=int(mol.nao_nr()))
        diag.update(g.state_context(mol.spin))
        configs: tuple[AtomConfiguration, ...] = ()
        if self.atom_configurations and len(atoms) == 1 and self.charge == 0:  # neutral atoms
            n_ecp = int(mol.atom_nelec_core(0)) if mol.has_ecp() else 0
            configs = atom_configurations(atoms.get_chemical_symbols()[0], multiplicity, n_ecp)
        if not configs:
            return self._one_state(mol, diag, None)
        return self._lowest_configuration(mol, diag, configs)

    def _one_state(
        self, mol: Any, diag: dict[str, Any], config: AtomConfiguration | None
    ) -> OracleResult:
        if self.method == "CCSD(T)":
            return self._ccsd_t(mol, dict(diag), config)
        return self._scf_level(mol, dict(diag), config)

    def _lowest_configuration(
        self,
        mol: Any,
        diag: dict[str, Any],
        configs: tuple[AtomConfiguration, ...],
    ) -> OracleResult:
        """The aufbau state and each fixed configuration of a free atom; the lowest energy
        among those that pass the gates wins (the aufbau one if none passes)."""
        candidates: list[tuple[str, OracleResult]] = []
        for config in (None, *configs):
            try:
                result = apply_gates(self._one_state(mol, diag, config), self.gates)
            except ValueError as exc:  # the basis cannot hold this configuration
                result = self._result(f"configuration_impossible: {exc}", diagnostics=diag)
            label = result.diagnostics.get("scf_configuration", "?")
            name = "aufbau" if config is None else config.label
            candidates.append((f"{name} ({label})" if config is None else name, result))
        table = {
            name: {
                "energy_ev": r.energy,
                "ok": r.ok,
                "reason": r.reason,
                "scf_configuration": r.diagnostics.get("scf_configuration", "?"),
            }
            for name, r in candidates
        }
        name, best = candidates[0]
        for n, r in candidates[1:]:  # a later candidate must be lower by more than the noise
            if not r.ok or r.energy is None:
                continue
            if not best.ok or best.energy is None or r.energy < best.energy - _SAME_STATE_EV:
                name, best = n, r
        extra = {"atom_configuration": name, "atom_configurations": table}
        return replace(best, diagnostics={**best.diagnostics, **extra})

    def _make_scf(self, mol: Any, kind: str, config: AtomConfiguration | None = None) -> Any:
        xc = _XC.get(self.method, "")
        level = self.grids_level
        grids = level if level is not None else (5 if self.method in _META_GGA else 3)
        return make_scf(mol, kind, xc, grids, self.conv_tol, self.max_cycle, config)

    def _scf_level(
        self, mol: Any, diag: dict[str, Any], config: AtomConfiguration | None = None
    ) -> OracleResult:
        closed = mol.spin == 0
        if self.method == "HF":
            kind = "RHF" if closed else "UHF"
        else:
            kind = "RKS" if closed else "UKS"
            diag["xc"] = _XC[self.method]
        mf, scf_diag = converge_scf(self._make_scf(mol, kind, config), self.stability_restarts)
        diag.update(scf_diag, reference=kind, e_scf=float(mf.e_tot) * HARTREE_EV)
        diag[g.S2] = spin_square(mf)
        if mol.natm == 1:
            diag["scf_configuration"] = configuration_label(mf, mol.atom_pure_symbol(0))
        if not diag[g.SCF_CONVERGED]:
            return self._result("scf_not_converged", diagnostics=diag)
        if kind in ("RKS", "UKS"):
            diag["grids_level"] = int(mf.grids.level)
        energy = float(mf.e_tot) * HARTREE_EV
        forces = scf_forces_ev_a(mf)
        descriptors: dict[str, Any] = {}
        if self.descriptors:
            from qaware.descriptors.from_pyscf import molecular_descriptors

            descriptors = molecular_descriptors(mf, mol)
        return self._result(energy=energy, forces=forces, descriptors=descriptors, diagnostics=diag)

    def _cc_attempt(self, mol: Any, kind: str, config: AtomConfiguration | None) -> dict[str, Any]:
        """Diagnostics of CCSD(T) on one reference kind (RHF, ROHF or UHF)."""
        mf, scf_diag = converge_scf(self._make_scf(mol, kind, config), self.stability_restarts)
        attempt: dict[str, Any] = {**scf_diag, "reference": kind}
        if mol.natm == 1:
            attempt["scf_configuration"] = configuration_label(mf, mol.atom_pure_symbol(0))
        if not scf_diag[g.SCF_CONVERGED]:
            return attempt
        attempt.update({g.S2: spin_square(mf), "e_scf": float(mf.e_tot) * HARTREE_EV})
        context = g.state_context(mol.spin)

        def triples(ccsd: dict[str, Any]) -> bool:
            return self.gated_triples or not g.gate_failures(
                {**context, **attempt, **ccsd}, self.gates
            )

        attempt.update(
            ccsd_t(mf, self.frozen_core, self.cc_conv_tol, self.cc_max_cycle, triples=triples)
        )
        return attempt

    def _ccsd_t(
        self, mol: Any, diag: dict[str, Any], config: AtomConfiguration | None = None
    ) -> OracleResult:
        """RHF-CCSD(T) for closed shells; ROHF, then UHF if ROHF fails or its T1 is large.

        Of the attempts, the one that got furthest wins (SCF converged < CCSD converged <
        every gate passed); a tie goes to the first tried (ROHF). The others are kept as
        ``diagnostics["<kind>_attempt"]``.
        """
        references = ("RHF",) if mol.spin == 0 else ("ROHF", "UHF")
        attempts: dict[str, dict[str, Any]] = {}
        for kind in references:
            attempt = attempts[kind] = self._cc_attempt(mol, kind, config)
            if not attempt[g.SCF_CONVERGED] or not attempt.get(g.CCSD_CONVERGED):
                continue  # the UHF fallback
            t1_limit = self.uhf_t1_threshold
            if kind == "ROHF" and t1_limit is not None and not attempt[g.T1] <= t1_limit:
                continue  # multireference-looking ROHF-CCSD: see what UHF says
            break

        def progress(attempt: dict[str, Any]) -> int:
            if not attempt[g.SCF_CONVERGED]:
                return 0
            if not attempt.get(g.CCSD_CONVERGED):
                return 1
            return 3 if not g.gate_failures({**diag, **attempt}, self.gates) else 2

        chosen = max(attempts, key=lambda k: progress(attempts[k]))  # first of equals wins
        diag.update(attempts[chosen], references_tried=list(attempts))
        for kind, other in attempts.items():
            if kind != chosen:
                diag[f"{kind.lower()}_attempt"] = {
                    k: other.get(k) for k in (g.SCF_CONVERGED, g.CCSD_CONVERGED, g.S2, g.T1, g.D1)
                } | {"energy_ev": cc_total_ev(other)}
        if not diag[g.SCF_CONVERGED]:
            return self._result("scf_not_converged", diagnostics=diag)
        if not diag[g.CCSD_CONVERGED]:
            return self._result("ccsd_not_converged", diagnostics=diag)
        if diag.get(TRIPLES_SKIPPED):  # gated before (T): no total energy to report
            failed = g.gate_failures(diag, self.gates)
            return self._result(failed[0], diagnostics={**diag, g.GATES_FAILED: failed})
        return self._result(energy=cc_total_ev(diag), diagnostics=diag)
