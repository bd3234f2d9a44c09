"""Train the crystal diffusion model on a CDVAE CSV (``cif`` column) or an extxyz file.

Each training structure becomes its Wyckoff template (anchors + conventional lattice); the
loss is :meth:`CrystalDiffusion.loss` on random minibatches. Descriptor conditions, when
``descriptor_keys`` name ``atoms.info`` entries (scalars or arrays, concatenated in order), are
standardised and dropped with the model's ``cond_dropout``. Checkpoints (``last.pt``, with the
optimizer state, resumable) are written every ``checkpoint_every`` steps and ``model.pt`` at the
end; ``history.jsonl`` holds the losses.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from qaware._device import resolve_device
from qaware.errors import ConfigError
from qaware.generator.batch import collate_templates
from qaware.generator.checkpoint import GeneratorBundle, load_bundle, save_bundle
from qaware.generator.denoiser import DenoiserConfig
from qaware.generator.diffusion import CrystalDiffusion, DiffusionConfig, LossParts
from qaware.generator.lattice import LatticeNormalizer, lattice_to_coefficients
from qaware.generator.templates import TemplateLibrary
from qaware.generator.wyckoff import DEFAULT_SYMPREC, WyckoffTemplate, template_from_structure

__all__ = [
    "TrainConfig",
    "TrainingSet",
    "descriptor_matrix",
    "initial_model",
    "prepare_training_set",
    "train",
    "train_step",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam, gradient clipping, constant learning rate)."""

    steps: int = 20_000
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 1_000
    symprec: float = DEFAULT_SYMPREC
    descriptor_keys: tuple[str, ...] = ()
    progress: bool = True
    max_seconds: float | None = None
    """Stop (and checkpoint) after this much wall time even if ``steps`` is not reached."""
    device: str = "cpu"
    """Where to train: cpu, cuda, cuda:N or auto. Random draws stay on the CPU (seeded), so a
    GPU run sees the same noise as a CPU run; checkpoints are saved from the CPU."""


@dataclass
class TrainingSet:
    """templates: one per structure; cond: (n, d) descriptors (NaN rows: none) or None."""

    templates: list[WyckoffTemplate]
    cond: torch.Tensor | None = None

    def anchors_and_lattice(
        self, index: Sequence[int], n_orbits: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean anchors (b, n_orbits, 3) and coefficients (b, 6) of the chosen structures."""
        xyz = torch.zeros(len(index), n_orbits, 3, dtype=torch.float64)
        lattices = np.array([self.templates[i].lattice for i in index], dtype=float)
        for row, i in enumerate(index):
            orbits = self.templates[i].orbits
            xyz[row, : len(orbits)] = torch.tensor([o.xyz for o in orbits], dtype=torch.float64)
        return xyz, lattice_to_coefficients(torch.from_numpy(lattices))


def descriptor_matrix(structures: Sequence[Atoms], keys: Sequence[str]) -> torch.Tensor:
    """(n, d) concatenation of ``atoms.info[key]`` over ``keys``; a missing key gives NaNs.

    Raises ConfigError when no structure has a key (its width is then unknown).
    """
    widths = {}
    for key in keys:
        found = next((a.info[key] for a in structures if key in a.info), None)
        if found is None:
            raise ConfigError(f"descriptor key {key!r} is in no structure's info")
        widths[key] = np.asarray(found, dtype=float).size
    rows = []
    for atoms in structures:
        parts = [
            np.asarray(atoms.info[k], dtype=float).ravel()
            if k in atoms.info
            else np.full(widths[k], np.nan)
            for k in keys
        ]
        rows.append(np.concatenate(parts))
    return torch.tensor(np.array(rows), dtype=torch.float32)


def prepare_training_set(
    structures: Sequence[Atoms],
    *,
    symprec: float = DEFAULT_SYMPREC,
    descriptor_keys: Sequence[str] = (),
) -> TrainingSet:
    """Templates (and descriptors) of the structures; those without a template are skipped
    with a logged warning naming them."""
    kept, templates = [], []
    for atoms in structures:
        try:
            templates.append(template_from_structure(atoms, symprec=symprec))
            kept.append(atoms)
        except Exception as exc:
            log.warning("skipped: %s", exc)
    cond = descriptor_matrix(kept, descriptor_keys) if descriptor_keys else None
    return TrainingSet(templates, cond)


def initial_model(data: TrainingSet, config: DiffusionConfig) -> CrystalDiffusion:
    """A fresh model for ``data``: lattice normaliser and descriptor standardisation fitted
    on it, ``cond_dim`` set from its descriptors (on the CPU; move it with ``.to``)."""
    batch = collate_templates(data.templates, dtype=torch.float64)
    _, k = data.anchors_and_lattice(range(len(data.templates)), batch.orbit_mask.shape[1])
    norm = LatticeNormalizer.fit(k, batch.lattice_mask)
    cond_dim = 0 if data.cond is None else data.cond.shape[1]
    config = replace(config, denoiser=replace(config.denoiser, cond_dim=cond_dim))
    mean = std = None
    if data.cond is not None:
        mean = torch.nan_to_num(torch.nanmean(data.cond, 0))
        centred = torch.nan_to_num(data.cond - mean)
        counts = (~torch.isnan(data.cond)).sum(0)
        std = torch.sqrt((centred**2).sum(0) / counts.clamp(min=1)).clamp(min=1e-6)
        std = torch.where(counts > 0, std, torch.ones_like(std))  # never seen: identity scale
    return CrystalDiffusion(config, lattice_norm=norm, cond_mean=mean, cond_std=std)


def train_step(
    model: CrystalDiffusion,
    optimizer: torch.optim.Optimizer,
    data: TrainingSet,
    index: Sequence[int],
    generator: torch.Generator,
    grad_clip: float,
) -> LossParts:
    """One Adam step on the structures ``index`` of ``data``; returns the (detached) loss parts."""
    batch = collate_templates([data.templates[i] for i in index], dtype=model.dtype)
    xyz0, k0 = data.anchors_and_lattice(index, batch.orbit_mask.shape[1])
    cond = None if data.cond is None else data.cond[list(index)]
    parts = model.loss(batch, xyz0, k0, cond, generator=generator)
    optimizer.zero_grad()
    parts.total.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return parts._replace(total=parts.total.detach())


def train(
    structures: Sequence[Atoms] | str | Path,
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    model_config: DiffusionConfig | None = None,
    resume: bool = False,
) -> tuple[GeneratorBundle, list[dict[str, float]]]:
    """Train a generator; returns it (also saved as ``out_dir/model.pt``) and the loss history.

    ``structures``: a list of crystals or a path read by :func:`qaware.structures.read_structures`
    (bad rows skipped with a warning). ``resume`` continues from ``out_dir/last.pt``.
    """
    from tqdm.auto import tqdm

    from qaware.structures import read_structures

    cfg = config or TrainConfig()
    device = resolve_device(cfg.device)  # a missing GPU fails before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(structures, (str, Path)):
        read = read_structures(structures, on_error="skip")
        for problem in read.skipped:
            log.warning("skipped: %s", problem)
        structures = list(read)
    torch.manual_seed(cfg.seed)
    data = prepare_training_set(
        structures, symprec=cfg.symprec, descriptor_keys=cfg.descriptor_keys
    )
    if not data.templates:
        raise ConfigError("no training structure has a Wyckoff template")
    library = TemplateLibrary.from_templates(data.templates)
    model = initial_model(data, model_config or DiffusionConfig(denoiser=DenoiserConfig()))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, history = 0, []
    if resume and (out / "last.pt").exists():
        bundle, extra = load_bundle(out / "last.pt")
        model = bundle.model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        optimizer.load_state_dict(extra["optimizer"])
        step = int(extra["step"])
    meta: dict = {"n_train": len(data.templates)}
    if data.cond is not None:
        # every row missing: the condition is always dropped and never learns (sampling with
        # lam != 0 then refuses, see DiffusionGenerator)
        meta["descriptor_condition_untrained"] = bool(torch.isnan(data.cond).any(-1).all())
    bundle = GeneratorBundle(model, library, tuple(cfg.descriptor_keys), meta)
    gen = torch.Generator().manual_seed(cfg.seed + step)
    n = len(data.templates)
    model.train()
    start = time.monotonic()
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc="train generator")
    with (out / "history.jsonl").open("a") as hist:
        while step < cfg.steps:
            index = torch.randint(n, (min(cfg.batch_size, n),), generator=gen).tolist()
            parts = train_step(model, optimizer, data, index, gen, cfg.grad_clip)
            step += 1
            record = {"step": step, **{k: float(v) for k, v in parts._asdict().items()}}
            history.append(record)
            hist.write(json.dumps(record) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{record['total']:.3f}")
            late = cfg.max_seconds is not None and time.monotonic() - start > cfg.max_seconds
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or late:
                extra = {"optimizer": optimizer.state_dict(), "step": step}
                save_bundle(bundle, out / "last.pt", extra=extra)
            if late:
                log.warning("stopped after %d steps: max_seconds=%s reached", step, cfg.max_seconds)
                break
    bar.close()
    model.eval()
    save_bundle(bundle, out / "model.pt")
    return bundle, history
