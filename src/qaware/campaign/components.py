"""Build a campaign's generator, validator and oracles from its configuration.

Relative paths in the config are relative to ``base_dir`` (the config file's folder). A missing
``checkpoint`` means the model shipped inside the package (``qaware/data/models``), so the quick
start needs no download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from qaware.campaign.training_data import LabelledStructure, load_training_data
from qaware.config import GeneratorSettings, QawareConfig
from qaware.errors import ConfigError
from qaware.protocols import Oracle, StructureGenerator

__all__ = [
    "BUNDLED_GENERATOR",
    "BUNDLED_VALIDATOR",
    "Components",
    "build_components",
    "build_generator",
    "bundled_model",
    "generation_conditions",
    "load_proxy",
    "load_validator",
    "resolve",
    "target_descriptors",
]

BUNDLED_GENERATOR = "generator_quickstart.pt"
BUNDLED_VALIDATOR = "validator_quickstart.pt"


def bundled_model(name: str) -> Path:
    """Path of a model shipped in ``qaware/data/models`` (ConfigError if absent)."""
    path = Path(str(resources.files("qaware.data").joinpath("models").joinpath(name)))
    if not path.exists():
        raise ConfigError(f"bundled model {name} is missing from {path.parent}: reinstall qaware")
    return path


def resolve(path: str, base_dir: Path) -> Path:
    """``path`` relative to ``base_dir`` unless absolute; ConfigError if it does not exist."""
    p = Path(path).expanduser()
    p = p if p.is_absolute() else base_dir / p
    if not p.exists():
        raise ConfigError(f"{path}: no such file (looked in {p})")
    return p


@dataclass
class Components:
    """What a campaign runs: oracles per level, the two compared levels, generator, validator."""

    oracles: dict[str, Oracle]
    low: str
    top: str
    generator: StructureGenerator
    validator: Any  # qaware.protocols.Validator with save/load (MFValidator)
    proxy: Any = None  # qaware.descriptors.DescriptorProxy, when generator.proxy is set
    reference_overrides: dict[str, tuple[Atoms, str]] = field(default_factory=dict)
    training_data: list[LabelledStructure] = field(default_factory=list)


def build_components(config: QawareConfig, base_dir: Path) -> Components:
    """Oracles, generator and validator of ``config``; every problem is a ConfigError."""
    from qaware.oracles.factory import build_oracle

    ladder = config.ladder()
    names = list(ladder.names)
    oracles = {
        spec.level: build_oracle(spec, index=i, base_dir=base_dir)
        for i, spec in enumerate(config.oracles)
    }
    top = names[-1]
    if top not in oracles:
        raise ConfigError(
            f"oracles: the top level {top!r} has no oracle; a campaign labels its candidates at "
            f"the top level (levels with oracles: {sorted(oracles)})"
        )
    low = config.validator.low_level or names[0]
    if low == top:
        raise ConfigError("validator.low_level: must differ from the top level")
    for path in config.store.reuse:
        check_reused(path, base_dir)
    overrides = reference_overrides(config.campaign.reference_structures, base_dir)
    validator = load_validator(config, base_dir)
    generator = build_generator(config.generator, base_dir)
    proxy = load_proxy(config.generator, base_dir)
    replay = load_training_data(config.validator.training_data, base_dir, names)
    return Components(oracles, low, top, generator, validator, proxy, overrides, replay)


def reference_overrides(files: list[str], base_dir: Path) -> dict[str, tuple[Atoms, str]]:
    """Element -> (cell, description) from ``campaign.reference_structures``: one structure of a
    single element each, no element twice; ConfigError naming the file and structure."""
    from qaware.structures.io import read_structures

    out: dict[str, tuple[Atoms, str]] = {}
    for f in files:
        for i, atoms in enumerate(read_structures(resolve(f, base_dir))):
            elements = set(atoms.get_chemical_symbols())
            where = f"campaign.reference_structures: {f}, structure {i}"
            if len(elements) != 1:
                raise ConfigError(f"{where}: has {sorted(elements)}, one element expected")
            (el,) = elements
            if el in out:
                raise ConfigError(f"{where}: a second reference cell for {el}")
            desc = atoms.info.get("description") or f"{atoms.get_chemical_formula()} from {f}"
            out[el] = (atoms, str(desc))
    return out


def check_reused(path: str, base_dir: Path) -> Path:
    """The run directory ``path`` of ``store.reuse``; ConfigError if it is none."""
    from qaware.errors import RunDirectoryError
    from qaware.store import RunDirectory

    try:
        where = resolve(path, base_dir)
        RunDirectory.open(where)
    except (ConfigError, RunDirectoryError) as err:  # both name the path
        raise ConfigError(f"store.reuse: {err}") from None
    return where


def load_validator(config: QawareConfig, base_dir: Path, path: Path | None = None) -> Any:
    """The MF-ENNP validator of ``config`` (or of ``path``), its ladder checked against it."""
    from qaware.validator import MFValidator

    if path is None:
        ckpt = config.validator.checkpoint
        path = resolve(ckpt, base_dir) if ckpt else bundled_model(BUNDLED_VALIDATOR)
    validator = MFValidator.load(path, device=config.validator.device)
    want = list(config.ladder().names)
    have = list(validator.ladder.names)
    if have != want:
        raise ConfigError(
            f"validator.checkpoint {path}: trained on levels {have}, but the config's "
            f"fidelities are {want}; use a matching ladder or train a validator for it"
        )
    return validator


def build_generator(settings: GeneratorSettings, base_dir: Path) -> StructureGenerator:
    """The StructureGenerator ``settings`` describes."""
    from qaware.structures.io import read_structures

    def structures() -> list[Any]:
        if not settings.structures:
            raise ConfigError(f"generator.structures: required for kind {settings.kind!r}")
        out: list[Any] = []
        for f in settings.structures:
            out.extend(read_structures(resolve(f, base_dir)))
        return out

    if settings.kind == "diffusion":
        from qaware.generator import DiffusionGenerator

        ckpt = settings.checkpoint
        path = resolve(ckpt, base_dir) if ckpt else bundled_model(BUNDLED_GENERATOR)
        return DiffusionGenerator.load(path, device=settings.device)
    if settings.kind == "substitution":
        from qaware.generator import SubstitutionGenerator

        return SubstitutionGenerator(structures())
    if settings.kind == "random_symmetric":
        from ase.formula import Formula

        from qaware.generator import RandomSymmetricGenerator

        if not settings.compositions:
            raise ConfigError("generator.compositions: required for kind 'random_symmetric'")
        comps = []
        for f in settings.compositions:
            try:
                counts = Formula(f).count()
            except ValueError as err:
                raise ConfigError(f"generator.compositions: {f!r}: {err}") from None
            from ase.data import atomic_numbers

            comps.append({atomic_numbers[el]: n for el, n in counts.items()})
        return RandomSymmetricGenerator(comps)
    from qaware.campaign.pool import PoolGenerator

    return PoolGenerator(structures())


def load_proxy(settings: GeneratorSettings, base_dir: Path) -> Any:
    """The descriptor proxy of ``generator.proxy`` (None when unset); ConfigError if unreadable."""
    if not settings.proxy:
        return None
    from qaware.descriptors.proxy import DescriptorProxy

    return DescriptorProxy.load(resolve(settings.proxy, base_dir))


def target_descriptors(settings: GeneratorSettings, base_dir: Path, proxy: Any) -> np.ndarray:
    """q of ``generator.descriptors`` (:func:`qaware.descriptors.target.descriptor_target`)."""
    from qaware.descriptors.target import descriptor_target

    path = resolve(str(settings.descriptors), base_dir)
    try:
        return descriptor_target(path, proxy)
    except ConfigError as err:
        raise ConfigError(f"generator.descriptors: {err}") from None


def generation_conditions(
    settings: GeneratorSettings, base_dir: Path, proxy: Any = None
) -> dict[str, Any]:
    """The ``conditions`` mapping passed to ``generator.sample`` every cycle (``proxy``: the
    descriptor proxy, needed when ``generator.descriptors`` is a structure file)."""
    cond: dict[str, Any] = {}
    if settings.elements:
        cond["elements"] = list(settings.elements)
    if settings.kind == "pool":
        return cond
    if settings.space_group:
        cond["space_group"] = settings.space_group
    if settings.max_atoms and settings.kind == "diffusion":
        cond["max_atoms"] = settings.max_atoms
    if settings.descriptors:
        cond["descriptors"] = target_descriptors(settings, base_dir, proxy)
        cond["lam"] = settings.lam
    return cond
