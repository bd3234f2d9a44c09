"""The qaware exception tree: every error names the offending input (file, row, atom, key)."""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "ConfigError",
    "ExecutionError",
    "InvalidStructureError",
    "MissingDependencyError",
    "OracleError",
    "QawareError",
    "RunDirectoryError",
    "StateTransitionError",
    "StoreError",
]


class QawareError(Exception):
    """Base class of every error qaware raises on purpose."""


class InvalidStructureError(QawareError, ValueError):
    """A structure (or a file of structures) failed a sanity check or could not be parsed.

    The message says where: ``source`` (file name), ``index`` (0-based position in the file,
    named by ``unit``: "row" of a CSV, "frame" of an extxyz, "block" of a CIF), ``atom``
    (0-based atom index), ``field`` and ``problem`` (what is wrong).
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        index: int | None = None,
        atom: int | None = None,
        field: str | None = None,
        unit: str = "row",
    ) -> None:
        self.problem = problem
        self.unit = unit
        self.source = source
        self.index = index
        self.atom = atom
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.index is not None:
            where.append(f"{self.unit} {self.index}")
        if self.atom is not None:
            where.append(f"atom {self.atom}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def located(
        self,
        *,
        source: str | None = None,
        index: int | None = None,
        unit: str | None = None,
    ) -> InvalidStructureError:
        """Return a copy that also says which file and row / frame / block it came from."""
        return InvalidStructureError(
            self.problem,
            source=source if source is not None else self.source,
            index=index if index is not None else self.index,
            atom=self.atom,
            field=self.field,
            unit=unit if unit is not None else self.unit,
        )

    def __reduce__(self):  # keep the keyword fields through pickling (executors, subprocesses)
        return (
            _rebuild_invalid_structure,
            (self.problem, self.source, self.index, self.atom, self.field, self.unit),
        )


def _rebuild_invalid_structure(
    problem: str,
    source: str | None,
    index: int | None,
    atom: int | None,
    field: str | None,
    unit: str = "row",
) -> InvalidStructureError:
    return InvalidStructureError(
        problem, source=source, index=index, atom=atom, field=field, unit=unit
    )


class ConfigError(QawareError, ValueError):
    """A configuration file or value is wrong; the message names the key path (``a.b.c``)."""


class OracleError(QawareError):
    """An oracle could not be built or called (never raised from inside a campaign step)."""


class StoreError(QawareError):
    """The campaign store could not be opened, read or written."""


class StateTransitionError(StoreError):
    """A candidate was asked to move along an edge the state machine does not have."""


class RunDirectoryError(QawareError):
    """A run directory is missing, incomplete, from a newer qaware, or its config changed."""


class CalibrationError(QawareError):
    """The validator's uncertainties fail the calibration gate (ECE too high) before a campaign."""


class TrainingError(QawareError):
    """Training diverged (a non-finite loss) with no earlier weights to fall back on."""


class ExecutionError(QawareError):
    """An executor backend could not be started or lost its work."""


class MissingDependencyError(QawareError, ImportError):
    """An optional backend is not installed; the message names the pip extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{purpose} needs the '{package}' package: pip install 'qaware[{extra}]'")
