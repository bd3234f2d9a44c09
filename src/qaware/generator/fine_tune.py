"""Fine-tune a trained generator on a few structures (a campaign's confirmed hits).

A bounded number of Adam steps (and optionally seconds) on the structures' templates with the
training loss; seeded, so the same weights, structures and seed give identical weights. The
structures' templates can be added to the template library (one count each), so that de novo
sampling also draws the hits' Wyckoff patterns. Descriptors q, when the model is conditioned,
come from ``descriptors`` (n, d) or from the ``atoms.info`` keys the model was trained on;
without them the condition is dropped (only the unconditional branch learns).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from ase import Atoms

from qaware.errors import ConfigError
from qaware.generator.batch import collate_templates
from qaware.generator.checkpoint import GeneratorBundle
from qaware.generator.templates import TemplateLibrary
from qaware.generator.train import TrainingSet, descriptor_matrix, train_step
from qaware.generator.wyckoff import DEFAULT_SYMPREC, template_from_structure

__all__ = ["fine_tune", "fixed_noise_loss"]

log = logging.getLogger(__name__)


def fixed_noise_loss(
    bundle: GeneratorBundle, data: TrainingSet, *, draws: int = 8, max_structures: int = 256
) -> float:
    """Mean training loss of (the first ``max_structures`` of) ``data`` over ``draws`` fixed
    noise draws (seeds 0..draws-1): comparable before and after training."""
    model = bundle.model
    index = list(range(min(len(data.templates), max_structures)))
    batch = collate_templates([data.templates[i] for i in index], dtype=model.dtype)
    xyz0, k0 = data.anchors_and_lattice(index, batch.orbit_mask.shape[1])
    cond = None if data.cond is None else data.cond[index]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        losses = [
            model.loss(batch, xyz0, k0, cond, generator=torch.Generator().manual_seed(s)).total
            for s in range(draws)
        ]
    model.train(was_training)
    return float(torch.stack(losses).mean())


def _conditions(
    bundle: GeneratorBundle, structures: Sequence[Atoms], descriptors: Any
) -> torch.Tensor | None:
    dim = bundle.model.config.denoiser.cond_dim
    if descriptors is None:
        keys = bundle.descriptor_keys
        if dim == 0 or not keys or not any(k in a.info for a in structures for k in keys):
            return None
        cond = descriptor_matrix(structures, keys)
    else:
        cond = torch.as_tensor(np.asarray(descriptors, dtype=float), dtype=torch.float32)
    if cond.shape[1] != dim:
        raise ConfigError(f"descriptors: the model takes {dim} values, got {cond.shape[1]}")
    return cond


def _refit_scale(bundle: GeneratorBundle, cond: torch.Tensor) -> None:
    """Set the model's descriptor standardisation from ``cond`` (NaN rows ignored)."""
    model = bundle.model
    counts = (~torch.isnan(cond)).sum(0)
    mean = torch.nan_to_num(torch.nanmean(cond, 0))
    var = (torch.nan_to_num(cond - mean) ** 2).sum(0) / counts.clamp(min=1)
    spread = (counts > 1) & (var > 1e-12)  # constant or unseen components: scale 1
    std = torch.where(spread, torch.sqrt(var), torch.ones_like(var))
    model.cond_mean.copy_(mean.to(model.cond_mean))
    model.cond_std.copy_(std.to(model.cond_std))


def fine_tune(
    bundle: GeneratorBundle,
    structures: Sequence[Atoms],
    *,
    steps: int,
    seed: int,
    max_seconds: float | None = None,
    lr: float = 1e-4,
    batch_size: int = 16,
    grad_clip: float = 1.0,
    descriptors: Any = None,
    refit_descriptor_scale: bool = False,
    add_templates: bool = True,
    template_count: int = 1,
    symprec: float = DEFAULT_SYMPREC,
) -> dict[str, Any]:
    """Fine-tune ``bundle`` in place on ``structures`` for ``steps`` Adam steps (fewer if
    ``max_seconds`` of wall time pass first).

    descriptors: (n, cond_dim) q of the structures (NaN rows: no condition), or None to read
        the bundle's ``descriptor_keys`` from ``atoms.info``.
    refit_descriptor_scale: re-standardise q on these structures (for a model whose condition
        was never fitted, e.g. the quick-start checkpoint before a proxy existed).
    add_templates: add each structure's template to the library, ``template_count`` times
        (the library draws templates by count: a larger count samples the hits' Wyckoff
        patterns more often).

    Returns ``{"steps", "seconds", "n_structures", "n_skipped", "loss_before",
    "loss_after"}``; the losses are :func:`fixed_noise_loss` on these structures.
    Raises ConfigError when no structure has a Wyckoff template or ``steps`` < 0.
    """
    if steps < 0:
        raise ConfigError(f"fine_tune: steps must be >= 0, got {steps}")
    model = bundle.model
    templates, kept_index = [], []
    for i, atoms in enumerate(structures):
        try:
            templates.append(template_from_structure(atoms, symprec=symprec))
            kept_index.append(i)
        except Exception as exc:
            log.warning("fine_tune: structure %d skipped (%s)", i, exc)
    if not templates:
        raise ConfigError("fine_tune: no structure has a Wyckoff template")
    kept = [structures[i] for i in kept_index]
    if descriptors is not None:
        descriptors = np.asarray(descriptors, dtype=float)
        if descriptors.ndim != 2 or len(descriptors) != len(structures):
            raise ConfigError(
                f"descriptors: expected ({len(structures)}, d) values, got {descriptors.shape}"
            )
        descriptors = descriptors[kept_index]
    data = TrainingSet(templates, _conditions(bundle, kept, descriptors))
    if data.cond is not None and refit_descriptor_scale:
        _refit_scale(bundle, data.cond)
    if data.cond is not None and not bool(torch.isnan(data.cond).any(-1).all()):
        bundle.meta["descriptor_condition_untrained"] = False  # it learns from here on

    before = fixed_noise_loss(bundle, data)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(data.templates)
    start = time.monotonic()
    done = 0
    model.train()
    while done < steps:
        index = torch.randint(n, (min(batch_size, n),), generator=gen).tolist()
        train_step(model, optimizer, data, index, gen, grad_clip)
        done += 1
        if max_seconds is not None and time.monotonic() - start > max_seconds:
            log.info("fine_tune stopped after %d of %d steps (max_seconds)", done, steps)
            break
    model.eval()
    seconds = time.monotonic() - start
    after = fixed_noise_loss(bundle, data)
    if add_templates:
        lib = bundle.library
        expanded = [t for t, c in zip(lib.templates, lib.counts, strict=True) for _ in range(c)]
        extra = [t for t in data.templates for _ in range(max(1, template_count))]
        bundle.library = TemplateLibrary.from_templates(expanded + extra)
    history = bundle.meta.setdefault("fine_tune", [])
    record = {
        "steps": done,
        "seconds": round(seconds, 3),
        "n_structures": n,
        "n_skipped": len(structures) - n,
        "loss_before": before,
        "loss_after": after,
    }
    history.append({**record, "seed": seed, "lr": lr})
    return record
