"""Save and load a trained generator: weights, hyper-parameters, normalisers, templates.

One ``.pt`` file holding only plain containers and tensors, so ``torch.load(weights_only=True)``
reads it (no pickled code runs). ``format`` names the layout for future migrations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qaware._torch_io import load_payload
from qaware.errors import ConfigError
from qaware.generator.diffusion import CrystalDiffusion, DiffusionConfig
from qaware.generator.lattice import LatticeNormalizer
from qaware.generator.templates import TemplateLibrary

__all__ = ["FORMAT", "GeneratorBundle", "load_bundle", "save_bundle"]

FORMAT = "qaware-crystal-diffusion/1"


@dataclass
class GeneratorBundle:
    """A model with its training templates and the info keys its condition vector reads."""

    model: CrystalDiffusion
    library: TemplateLibrary
    descriptor_keys: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


def save_bundle(bundle: GeneratorBundle, path: str | Path, *, extra: dict | None = None) -> None:
    """Write ``bundle`` (and ``extra``: e.g. optimizer state, step) to ``path`` atomically."""
    model = bundle.model
    payload = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "lattice_norm": {
            "mean": list(model.lattice_norm.mean),
            "std": list(model.lattice_norm.std),
        },
        "library": bundle.library.to_dict(),
        "descriptor_keys": list(bundle.descriptor_keys),
        "meta": dict(bundle.meta),
        "extra": extra or {},
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_bundle(path: str | Path) -> tuple[GeneratorBundle, dict[str, Any]]:
    """The bundle in ``path`` and the ``extra`` dict saved with it."""
    payload = load_payload(path, "generator checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a {FORMAT} checkpoint")
    config = DiffusionConfig.from_dict(payload["config"])
    norm = LatticeNormalizer(
        tuple(payload["lattice_norm"]["mean"]), tuple(payload["lattice_norm"]["std"])
    )
    model = CrystalDiffusion(config, lattice_norm=norm)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    bundle = GeneratorBundle(
        model,
        TemplateLibrary.from_dict(payload["library"]),
        tuple(payload["descriptor_keys"]),
        dict(payload["meta"]),
    )
    return bundle, dict(payload["extra"])
