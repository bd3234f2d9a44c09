"""Build an oracle from its configuration (:class:`qaware.config.OracleSpec`).

``spec.kind`` picks the class, ``spec.settings`` are its keyword arguments, ``spec.level`` its
fidelity name. Every settings key is checked against what the class accepts *before* anything
is built, so a typo fails as ``oracles.2.settings.basiss: unknown setting ...`` instead of a
``TypeError`` from deep inside. Backends are imported here, lazily: building a PySCF oracle
does not import GPAW.

Settings per kind (see each class for the meaning):

* ``pyscf``      — fields of :class:`~qaware.oracles.pyscf_molecular.PySCFOracle` except
  ``level_name`` and ``timeout_s`` (taken from the spec); ``gates`` is a mapping of
  :class:`~qaware.oracles.gates.GateSettings` fields.
* ``gpaw``       — fields of :class:`~qaware.oracles.gpaw_periodic.GPAWOracle` except
  ``level_name``.
* ``ase``        — ``calculator`` (``"module:attr"``, required) and ``kwargs`` (mapping).
* ``pretrained`` — ``model``, ``modal``, ``device``, ``threads``. Its level name is fixed by what
  the model was trained on (``r2SCAN@SevenNet-MF-0``): ``spec.level`` must equal it.
* ``replay``     — ``table`` (a CSV path, relative to ``base_dir``, or one of :data:`NAMED_TABLES`),
  ``quantity`` (for a CSV of your own: ``formation_energy_per_atom`` or ``band_gap``), ``key``
  and ``duplicates``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from qaware.config import OracleSpec
from qaware.errors import ConfigError
from qaware.protocols import Oracle

__all__ = ["KINDS", "NAMED_TABLES", "build_oracle"]

NAMED_TABLES: Final[tuple[str, ...]] = (
    "rxnnet",
    "rxnnet_intermetallics",
    "borlido",
    "borlido_original",
)
"""Replay tables known by name (the published sets in the shared data folder)."""


def build_oracle(
    spec: OracleSpec, *, index: int | None = None, base_dir: str | Path | None = None
) -> Oracle:
    """The oracle ``spec`` describes, checked; ConfigError naming ``oracles.<index>...``.

    index:    position of the spec in its config's ``oracles`` list (for error messages).
    base_dir: directory that relative paths in the settings (replay tables) are relative to;
              None: the current directory.
    """
    where = f"oracles.{index}" if index is not None else "oracle"
    builder = _BUILDERS.get(spec.kind)
    if builder is None:  # OracleSpec's Literal makes this unreachable from a validated config
        raise ConfigError(f"{where}.kind: unknown oracle kind {spec.kind!r} (known: {KINDS})")
    settings = dict(spec.settings)
    try:
        return builder(spec, settings, where, Path(base_dir) if base_dir is not None else None)
    except ConfigError as err:
        message = str(err)
        if message.startswith(where):
            raise
        raise ConfigError(f"{where} ({spec.kind}, level {spec.level!r}): {message}") from None
    except (TypeError, ValueError) as err:  # a value of the wrong type inside a constructor
        raise ConfigError(f"{where}.settings: {type(err).__name__}: {err}") from None


def _check_keys(settings: Mapping[str, Any], allowed: set[str], prefix: str, hint: str) -> None:
    """ConfigError ``<prefix>.<key>: unknown setting`` for the first key not in ``allowed``."""
    import difflib

    for key in settings:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            extra = f", did you mean '{near[0]}'?" if near else f" ({hint}: {sorted(allowed)})"
            raise ConfigError(f"{prefix}.{key}: unknown setting{extra}")


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _pyscf(spec: OracleSpec, settings: dict[str, Any], where: str, _: Path | None) -> Oracle:
    from qaware.oracles.gates import GateSettings
    from qaware.oracles.pyscf_molecular import PySCFOracle

    allowed = _field_names(PySCFOracle) - {"level_name", "timeout_s"}
    _check_keys(
        settings, allowed, f"{where}.settings", "PySCF settings; level and timeout_s are spec keys"
    )
    gates = settings.get("gates")
    if isinstance(gates, Mapping):
        _check_keys(gates, _field_names(GateSettings), f"{where}.settings.gates", "gates")
        settings["gates"] = GateSettings(**gates)
    elif gates is not None:
        raise ConfigError(f"{where}.settings.gates: must be a mapping of gate thresholds")
    return PySCFOracle(**settings, level_name=spec.level, timeout_s=spec.timeout_s)


def _gpaw(spec: OracleSpec, settings: dict[str, Any], where: str, _: Path | None) -> Oracle:
    from qaware.oracles.gpaw_periodic import GPAWOracle

    allowed = _field_names(GPAWOracle) - {"level_name"}
    _check_keys(settings, allowed, f"{where}.settings", "GPAW settings; the level is a spec key")
    if "u_anions" in settings:
        settings["u_anions"] = tuple(settings["u_anions"])
    return GPAWOracle(**settings, level_name=spec.level)


def _ase(spec: OracleSpec, settings: dict[str, Any], where: str, _: Path | None) -> Oracle:
    from qaware.oracles.ase_calculator import ASECalculatorOracle

    _check_keys(settings, {"calculator", "kwargs"}, f"{where}.settings", "ASE settings")
    if "calculator" not in settings:
        raise ConfigError(
            f"{where}.settings.calculator: missing; give the calculator's import path, "
            "e.g. 'ase.calculators.emt:EMT'"
        )
    kwargs = settings.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"{where}.settings.kwargs: must be a mapping, got {kwargs!r}")
    return ASECalculatorOracle(
        factory=str(settings["calculator"]),
        level=spec.level,
        kwargs=dict(kwargs),
        timeout_s=spec.timeout_s,
    )


def _pretrained(spec: OracleSpec, settings: dict[str, Any], where: str, _: Path | None) -> Oracle:
    from qaware.oracles.pretrained import PretrainedOracle

    _check_keys(
        settings, _field_names(PretrainedOracle), f"{where}.settings", "pretrained settings"
    )
    oracle = PretrainedOracle(**settings)
    if oracle.level != spec.level:
        raise ConfigError(
            f"{where}.level: {spec.level!r}, but {oracle.model} with modal {oracle.modal!r} "
            f"labels {oracle.level!r} (the name says what it was trained on); use that level"
        )
    return oracle


def _replay(spec: OracleSpec, settings: dict[str, Any], where: str, base: Path | None) -> Oracle:
    from qaware.oracles import replay_tables as rt
    from qaware.oracles.replay import ReplayOracle

    _check_keys(
        settings, {"table", "quantity", "key", "duplicates"}, f"{where}.settings", "replay settings"
    )
    name, quantity = settings.pop("table", None), settings.pop("quantity", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{where}.settings.table: missing; give a CSV path or one of {list(NAMED_TABLES)}"
        )
    loaders: dict[str, Callable[[], Any]] = {
        "rxnnet": rt.load_formation_enthalpies,
        "rxnnet_intermetallics": lambda: rt.load_formation_enthalpies(intermetallics=True),
        "borlido": rt.load_band_gaps,
        "borlido_original": lambda: rt.load_band_gaps(revised=False),
    }
    if name in loaders:
        table = loaders[name]()
    else:
        path = Path(name).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise ConfigError(f"{where}.settings.table: {path} is not a file")
        table = rt.read_table(path, quantity=quantity)
    return ReplayOracle(table, spec.level, **settings)


_BUILDERS: Final[dict[str, Callable[[OracleSpec, dict[str, Any], str, Path | None], Oracle]]] = {
    "pyscf": _pyscf,
    "gpaw": _gpaw,
    "ase": _ase,
    "pretrained": _pretrained,
    "replay": _replay,
}
KINDS: Final[tuple[str, ...]] = tuple(_BUILDERS)
"""Oracle kinds :func:`build_oracle` knows (the values of ``OracleSpec.kind``)."""
