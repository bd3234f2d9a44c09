"""What a reference data set is made of: a typed, YAML-loadable spec (unknown keys refused).

A spec names structures (files that :func:`qaware.structures.read_structures` reads, and/or
recipes: ``"module:function"`` or ``"path/to/recipe.py:function"`` returning ``list[Atoms]``),
the oracles that label them, which oracle labels which structures (all by default, or a
``subset``), where the output goes and how calls are executed. Paths are relative to the spec
file. Example::

    name: track_m
    description: 3d-metal oxide molecules at PBE and CCSD(T)
    output: .                       # <output>/track_m.extxyz, README.md, run/
    compress: false                 # true: <output>/track_m.extxyz.gz instead
    export: true                    # false: fill the store only (a stage of a bigger spec)
    seed: 0                         # null/absent: recipes use their own default seed
    structures:
      - recipe: recipe.py:structures   # called as structures(seed=0, **kwargs)
        kwargs: {n_geometries: 5}
      - extra.extxyz                   # a file, or {file: extra.extxyz, tag: extra}
    oracles:
      - {level: PBE, kind: pyscf, settings: {method: PBE, basis: def2-SVP}, timeout_s: 600}
      - level: CCSD(T)/def2-TZVP
        kind: pyscf
        settings: {method: CCSD(T), basis: def2-TZVP}
        subset: {tags: [diatomic], first: 60}
      - level: CCSD(T)/def2-QZVP       # only where the def2-TZVP result passed its gates
        kind: pyscf
        settings: {method: CCSD(T), basis: def2-QZVP}
        subset: {passed: {level: CCSD(T)/def2-TZVP}}   # add spec: other.yaml for another spec's
    execution: {backend: local, max_workers: 2}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qaware.config import OracleSpec
from qaware.execution import ExecutionSettings

__all__ = [
    "DatasetOracle",
    "DatasetSpec",
    "Passed",
    "StructureSource",
    "Subset",
    "level_key",
    "load_dataset_spec",
    "parse_dataset_spec",
]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def level_key(level: str) -> str:
    """A level name as it appears in extxyz keys: ``CCSD(T)`` -> ``CCSD_T``.

    ``+`` becomes ``plus`` and ``@`` becomes ``at`` (so ``GGA+U`` and ``GGA-U`` stay apart),
    every other run of characters outside ``[A-Za-z0-9]`` one ``_``:
    ``r2SCAN@SevenNet-MF-0`` -> ``r2SCAN_at_SevenNet_MF_0``,
    ``CCSD(T)/def2-TZVP`` -> ``CCSD_T_def2_TZVP``. The README lists the mapping.
    """
    text = level.replace("+", "_plus_").replace("@", "_at_")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StructureSource(_Model):
    """Where structures come from: exactly one of ``file`` and ``recipe``.

    file:   a CIF, extxyz or CDVAE-CSV file (relative to the spec file).
    recipe: ``"package.module:function"`` or ``"relative/path.py:function"``; the function
            returns ``list[ase.Atoms]``, gets ``kwargs`` and, when it takes one and the spec
            sets it, ``seed``.
    tag:    put into ``info["tag"]`` of structures that have none (for ``subset.tags``).
    """

    file: Path | None = Field(None, description="Structure file (CIF, extxyz, CDVAE CSV).")
    recipe: str | None = Field(None, description="'module:function' returning list[Atoms].")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Arguments of the recipe.")
    tag: str | None = Field(None, description="info['tag'] for structures without one.")

    @model_validator(mode="after")
    def _one_source(self) -> StructureSource:
        if (self.file is None) == (self.recipe is None):
            raise ValueError("give exactly one of 'file' and 'recipe'")
        if self.recipe is not None and ":" not in self.recipe:
            raise ValueError(f"recipe {self.recipe!r} must read 'module:function'")
        if self.file is not None and self.kwargs:
            raise ValueError("'kwargs' apply to recipes only")
        return self

    @property
    def label(self) -> str:
        """How the source is named in ``info["source"]`` and in ``subset.sources``."""
        return str(self.file) if self.file is not None else str(self.recipe)


class Passed(_Model):
    """A prerequisite: the result of the same structure at ``level`` must be ``ok`` (computed and
    through its sanity gates). ``level`` is an oracle of this spec, or of the spec file ``spec``
    (relative to this one), whose oracle settings and store are then the ones used."""

    level: str = Field(description="The level whose result must be ok.")
    spec: Path | None = Field(
        None, description="The spec that computes that level (relative path); null: this spec."
    )


class Subset(_Model):
    """Which structures an oracle labels; filters apply in this order, all optional.

    sources: only structures from these sources (file paths or recipe strings as in the spec).
    tags:    only structures whose ``info["tag"]`` is one of these.
    info:    only structures whose ``info[key]`` is one of the listed values, for every key
             (e.g. ``{hse06: [true]}``: a flag a recipe set; a missing key never matches).
    passed:  only structures whose result at ``passed.level`` is ok (e.g. CCSD(T)/def2-TZVP only
             where CCSD(T)/def2-SVP passed its T1/D1 gates: the diagnostics barely depend on the
             basis). Evaluated at every build, so the subset grows as that level is computed; a
             structure this oracle has already labelled stays in it, so no stored result ever
             leaves the export.
    by_tag:  compute in the order of ``tags`` (every structure of the first tag, then of the
             next, each in spec order) instead of spec order: a family finishes before the
             next starts (Track X's HSE06 perovskites: one anion family complete is a benchmark
             fold; five families a fifth done each is none).
    stored:  only structures this oracle has already labelled (a closed level: what is stored
             is exported, nothing new is computed; Track X's self-consistent HSE06, kept as
             the check of HSE06@PBE after the cheaper level took over).
    first:   then the first N of them, in spec order (in tag order with ``by_tag``).
    """

    sources: list[str] | None = Field(None, description="Source labels (file or recipe).")
    tags: list[str] | None = Field(None, description="Allowed values of info['tag'].")
    info: dict[str, list[str | bool | int | float]] | None = Field(
        None, description="info key -> allowed values (all keys must match)."
    )
    passed: Passed | None = Field(
        None, description="Only where the result at another level is ok (a prerequisite)."
    )
    by_tag: bool = Field(False, description="Order by the position of the tag in 'tags'.")
    stored: bool = Field(
        False, description="Only what this oracle has already labelled; nothing new is computed."
    )
    first: int | None = Field(None, ge=1, description="Keep only the first N.")


class DatasetOracle(OracleSpec):
    """An oracle of a data set: :class:`~qaware.config.OracleSpec` plus ``subset`` and
    ``isolate``."""

    subset: Subset | None = Field(None, description="null: label every structure.")
    isolate: bool = Field(
        True,
        description="Run each call in its own child process, killed past timeout_s. false: in "
        "the worker, no timeout (cheap oracles: replay, EMT; pretrained models stay loaded).",
    )


class DatasetSpec(_Model):
    """A data set: structures, oracles, output, execution, seed (see the module docstring)."""

    name: str = Field(description="Data set name; the export is <output>/<name>.extxyz.")
    description: str = Field("", description="One paragraph for the README.")
    structures: list[StructureSource] = Field(description="Files and recipes, in order.")
    oracles: list[DatasetOracle] = Field(description="One oracle per level (names unique).")
    output: Path = Field(Path("."), description="Output directory (relative to the spec).")
    compress: bool = Field(
        False, description="Export <name>.extxyz.gz (gzip, no timestamp: same bytes every time)."
    )
    export: bool = Field(
        True,
        description="false: a staging spec that only fills the store <output>/run/ (its pairs "
        "are exported by the full spec sharing that store); no extxyz or README is written.",
    )
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    seed: int | None = Field(
        None, description="Passed to recipes that take a 'seed' (null: their own default)."
    )

    @field_validator("name")
    @classmethod
    def _file_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use letters, digits, '_', '.', '-' (it names files)")
        return v

    @field_validator("structures", mode="before")
    @classmethod
    def _plain_paths(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"file": item} if isinstance(item, str) else item for item in v]
        return v

    @model_validator(mode="after")
    def _levels(self) -> DatasetSpec:
        if not self.structures:
            raise ValueError("structures: give at least one file or recipe")
        if not self.oracles:
            raise ValueError("oracles: give at least one oracle")
        keys: dict[str, str] = {}
        for i, oracle in enumerate(self.oracles):
            key = level_key(oracle.level)
            if not key:
                raise ValueError(f"oracles.{i}.level: {oracle.level!r} has no usable characters")
            if key in keys:
                raise ValueError(
                    f"oracles.{i}.level: {oracle.level!r} clashes with {keys[key]!r} "
                    f"(both export as {key!r}); give every oracle its own level name"
                )
            keys[key] = oracle.level
        levels = [o.level for o in self.oracles]
        for i, oracle in enumerate(self.oracles):
            passed = oracle.subset.passed if oracle.subset is not None else None
            if passed is None or passed.spec is not None:
                continue
            if passed.level == oracle.level or passed.level not in levels:
                raise ValueError(
                    f"oracles.{i}.subset.passed.level: {passed.level!r} must be another oracle "
                    f"of this spec ({[lv for lv in levels if lv != oracle.level]}), or give "
                    "'spec' to name the spec that computes it"
                )
        return self

    def resolved(self, base_dir: str | Path) -> DatasetSpec:
        """A copy whose relative file and output paths are taken from ``base_dir`` (a ``passed``
        rule's ``spec`` stays as written: the build resolves it, and the README shows it so)."""
        base = Path(base_dir)
        out = self.model_copy(deep=True)
        out.output = base / self.output if not self.output.is_absolute() else self.output
        for src in out.structures:
            if src.file is not None and not src.file.is_absolute():
                src.file = base / src.file
        return out


def load_dataset_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a YAML spec; ConfigError names file, line and key of any problem.

    Paths inside stay as written (relative to the spec file): see :meth:`DatasetSpec.resolved`.
    """
    from qaware.config_io import read_yaml_text

    return parse_dataset_spec(read_yaml_text(path, "data set spec"), source=str(path))


def parse_dataset_spec(text: str, *, source: str = "<string>") -> DatasetSpec:
    """Validate YAML text; ``source`` names it in error messages."""
    from qaware.config_io import validate_yaml

    return validate_yaml(text, DatasetSpec, source=source, what="data set spec")
