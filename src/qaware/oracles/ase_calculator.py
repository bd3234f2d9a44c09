"""Any ASE calculator as an oracle, at a fidelity the user declares (EMT, tblite xTB, ...).

The oracle is a picklable spec: it holds the *factory* of the calculator (a ``"module:attr"``
import path or a module-level callable) and its keyword arguments, and builds a fresh
calculator inside every ``compute`` call, so it can be shipped to a worker process or a SLURM
job. Energy, forces and stress are returned where the calculator implements them (stress only
for fully periodic structures). Level names must say what the calculator is: GFN2-xTB is
``"GFN2-xTB"``, never ``"PBE"`` (DESIGN.md §3).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from ase import Atoms

from qaware.errors import ConfigError
from qaware.oracles.base import settings_hash, timed_call
from qaware.oracles.result import OracleResult

__all__ = ["ASECalculatorOracle", "factory_path", "resolve_factory"]

_SCF_WORDS: Final[tuple[str, ...]] = ("not converged", "convergence", "did not converge")


def factory_path(factory: str | Callable[..., Any]) -> str:
    """``"module:qualname"`` of a factory; raises ConfigError for one a worker cannot import."""
    if isinstance(factory, str):
        module, sep, attr = factory.partition(":")
        if not sep:  # accept "package.module.Name" too
            module, _, attr = factory.rpartition(".")
        if not module or not attr:
            raise ConfigError(
                f"oracle.factory: {factory!r} must be 'module:attr', e.g. 'ase.calculators.emt:EMT'"
            )
        return f"{module}:{attr}"
    owner: str | None = getattr(factory, "__module__", None)
    qualname: str = getattr(factory, "__qualname__", "")
    if not callable(factory) or not owner or "<" in qualname:
        raise ConfigError(
            f"oracle.factory: {factory!r} is not a module-level callable (lambdas and local "
            "functions cannot be sent to a worker); pass a 'module:attr' string instead"
        )
    return f"{owner}:{qualname}"


def resolve_factory(path: str) -> Callable[..., Any]:
    """Import ``"module:attr"`` (attr may be dotted) and return the object."""
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"oracle.factory: {path!r} is not callable")
    return obj


@lru_cache(maxsize=64)
def _version_of(module_name: str) -> str:
    """Version of the distribution that provides ``module_name`` (top-level package)."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    top = module_name.split(".")[0]
    for dist in packages_distributions().get(top, []):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    mod = sys.modules.get(top)
    return str(getattr(mod, "__version__", "unknown"))


@dataclass(frozen=True)
class ASECalculatorOracle:
    """An ASE calculator at a declared fidelity ``level``.

    factory:   ``"module:attr"`` (e.g. ``"ase.calculators.emt:EMT"``, ``"tblite.ase:TBLite"``)
               or a module-level callable returning an ASE calculator.
    level:     fidelity name of the results (e.g. ``"EMT"``, ``"GFN2-xTB"``).
    kwargs:    keyword arguments of the factory (JSON-like values; part of the settings hash).
    timeout_s: wall-clock limit a campaign applies through ``run_with_timeout``.
    """

    factory: str | Callable[..., Any]
    level: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        factory_path(self.factory)  # fail at construction, not inside a worker
        if not isinstance(self.level, str) or not self.level.strip():
            raise ConfigError(f"oracle.level: must be a non-empty name, got {self.level!r}")
        if not isinstance(self.kwargs, Mapping):
            raise ConfigError(f"oracle.kwargs: must be a mapping, got {type(self.kwargs)}")
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        if not self.timeout_s > 0:
            raise ConfigError(f"oracle.timeout_s: must be > 0, got {self.timeout_s}")

    @property
    def code(self) -> str:
        """The factory's import path: what produced the numbers."""
        return factory_path(self.factory)

    @property
    def code_version(self) -> str:
        return _version_of(self.code.partition(":")[0])

    def settings_hash(self) -> str:
        return settings_hash(
            {
                "code": self.code,
                "code_version": self.code_version,
                "level": self.level,
                "kwargs": self.kwargs,
            }
        )

    def compute(self, atoms: Atoms) -> OracleResult:
        """Energy (eV), forces (eV/Å), stress (Voigt, eV/Å³) where implemented; never raises.

        A calculator exception whose message says its SCF did not converge (tblite raises
        ``CalculationFailed("SCF not converged in 250 cycles")``) gives
        ``reason="scf_not_converged: ..."``; any other gives ``"exception: ..."``.
        """
        result = timed_call(
            self._compute,
            atoms,
            level=self.level,
            code=self.code,
            code_version=self.code_version,
            settings_hash=self.settings_hash(),
        )
        failed_in_code = not result.ok and result.reason.startswith("exception:")
        if failed_in_code and any(word in result.reason.lower() for word in _SCF_WORDS):
            detail = result.reason.removeprefix("exception:").strip()
            result.reason = f"scf_not_converged: {detail}"
        return result

    def _compute(self, atoms: Atoms) -> OracleResult:
        factory = self.factory if callable(self.factory) else resolve_factory(self.code)
        calc = factory(**self.kwargs)
        work = atoms.copy()
        work.calc = calc
        implemented = set(getattr(calc, "implemented_properties", ()))
        energy = float(work.get_potential_energy())
        forces = work.get_forces() if "forces" in implemented else None
        periodic = bool(work.pbc.all()) and work.cell.rank == 3
        stress = work.get_stress(voigt=True) if "stress" in implemented and periodic else None
        return OracleResult(
            ok=True,
            level=self.level,
            energy=energy,
            forces=forces,
            stress=stress,
            code=self.code,
            code_version=self.code_version,
            settings_hash=self.settings_hash(),
            diagnostics={"calculator": type(calc).__name__},
        )
