"""The trained diffusion model behind the StructureGenerator protocol.

``conditions`` (see :mod:`qaware.generator.conditions`): with ``composition`` the model does
crystal structure prediction on training templates that fit it (else on pyxtal random
templates of the training set's space groups); without, it generates species per orbit from
the allowed ``elements`` (default: the training set's elements) on templates drawn by
frequency. ``descriptors`` and ``lam`` switch on classifier-free guidance; with a guidance
weight other than 0 and 1 the default step count halves so that a structure still costs at most
``nfe_budget`` network evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from tqdm.auto import tqdm

from qaware._device import resolve_device
from qaware.errors import ConfigError
from qaware.execution.progress import progress_enabled
from qaware.generator.checkpoint import GeneratorBundle, load_bundle, save_bundle
from qaware.generator.conditions import GenerationConditions, parse_conditions
from qaware.generator.random_symmetric import random_symmetric_crystal
from qaware.generator.sampler import SamplerConfig, sample
from qaware.generator.templates import TemplateLibrary, assign_composition
from qaware.generator.wyckoff import WyckoffTemplate

__all__ = ["UNTRAINED_KEY", "DiffusionGenerator"]

UNTRAINED_KEY = "descriptor_condition_untrained"
"""``bundle.meta`` flag: True when no training row had descriptors (guidance is meaningless)."""


class DiffusionGenerator:
    """StructureGenerator: symmetry-constrained diffusion (see the module docstring).

    sampler: fixed sampler settings; None derives the steps from ``nfe_budget``.
    lam: default guidance weight when ``conditions`` has descriptors but no ``lam``.
    device: where the model samples and fine-tunes (cpu, cuda, cuda:N, auto; None: where the
        bundle's model is, the CPU for a loaded one). The same seed samples the same noise on
        every device; structures come back as ``ase.Atoms`` whatever the device.
    progress: show a progress bar (structures sampled) on stderr while sampling, when stderr is
        a terminal and ``QAWARE_NO_PROGRESS`` is unset (as every qaware bar).
    """

    def __init__(
        self,
        bundle: GeneratorBundle,
        *,
        sampler: SamplerConfig | None = None,
        nfe_budget: int = 200,
        batch_size: int = 256,
        lam: float = 1.0,
        device: str | None = None,
        progress: bool = False,
    ) -> None:
        self.progress = progress
        if device is not None:
            bundle.model.to(resolve_device(device))
        self.bundle = bundle
        self.sampler = sampler
        self.nfe_budget = nfe_budget
        self.batch_size = batch_size
        self.lam = lam
        self._index_library()

    def _index_library(self) -> None:
        """Species-free copy of the library (de novo draws) and the training elements."""
        library = self.bundle.library
        blank = [t.with_species([0] * len(t.orbits)) for t in library.templates]
        self._blank = TemplateLibrary.from_templates(
            [t for t, c in zip(blank, library.counts, strict=True) for _ in range(c)]
        )
        seen = {o.species for t in library.templates for o in t.orbits}
        self.training_elements = tuple(sorted(z for z in seen if z > 0))

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> DiffusionGenerator:
        """A generator from a checkpoint written by :func:`qaware.generator.train.train`."""
        bundle, _ = load_bundle(path)
        return cls(bundle, **kwargs)

    def save(self, path: str | Path) -> None:
        """Write the (possibly fine-tuned) model to ``path`` (:func:`save_bundle`)."""
        save_bundle(self.bundle, path)

    def fine_tune(
        self,
        structures: Sequence[Atoms],
        *,
        steps: int,
        seed: int,
        max_seconds: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Fine-tune in place on ``structures`` (e.g. confirmed hits); see
        :func:`qaware.generator.fine_tune.fine_tune` for ``kwargs`` and the returned record
        (steps, seconds, loss_before, loss_after). Their templates join the library."""
        from qaware.generator.fine_tune import fine_tune

        record = fine_tune(
            self.bundle, structures, steps=steps, seed=seed, max_seconds=max_seconds, **kwargs
        )
        self._index_library()
        return record

    @property
    def descriptor_conditioned(self) -> bool:
        """True when the model has a descriptor input that was trained (guidance means
        something); False for an unconditional model or an untrained condition layer."""
        dim = self.bundle.model.config.denoiser.cond_dim
        return dim > 0 and self.bundle.meta.get(UNTRAINED_KEY) is not True

    def sampler_config(self, guided: bool) -> SamplerConfig:
        """The sampler settings used (steps from the budget unless fixed)."""
        if self.sampler is not None:
            return self.sampler
        per_step = 2 * (2 if guided else 1)
        return SamplerConfig(n_steps=max(1, self.nfe_budget // per_step), corrector_steps=1)

    def _templates(
        self, n: int, cond: GenerationConditions, rng: np.random.Generator
    ) -> list[WyckoffTemplate]:
        if cond.templates:
            chosen = [cond.templates[i % len(cond.templates)] for i in range(n)]
            if cond.composition:
                fitted = [assign_composition(t, cond.composition) for t in chosen]
                if any(f is None for f in fitted):
                    raise ConfigError(
                        "conditions.templates: a template does not fit the composition"
                    )
                chosen = [f for f in fitted if f is not None]
            return chosen
        library = self.bundle.library if cond.composition else self._blank
        try:
            return library.sample(
                n,
                rng,
                composition=cond.composition,
                space_group=cond.space_group,
                max_atoms=cond.max_atoms,
            )
        except ValueError:
            if not cond.composition:
                raise
        groups = (
            [cond.space_group]
            if cond.space_group
            else sorted({t.space_group for t in library.templates})
        )
        return [random_symmetric_crystal(cond.composition, groups, rng)[1] for _ in range(n)]

    def predict(
        self, compositions: Sequence[Mapping[int, int]], *, seed: int, k: int = 1
    ) -> list[list[Atoms]]:
        """Crystal structure prediction in batches: ``k`` candidates per composition
        (``result[j][i]``: candidate j of composition i), each on its own drawn template."""
        rng = np.random.default_rng(seed)
        templates: list[WyckoffTemplate] = []
        for _ in range(k):
            for comp in compositions:
                templates += self._templates(1, GenerationConditions(composition=dict(comp)), rng)
        flat = self.sample(len(templates), seed=seed, conditions={"templates": templates})
        n = len(compositions)
        return [flat[j * n : (j + 1) * n] for j in range(k)]

    def sample(
        self, n: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> list[Atoms]:
        """``n`` primitive cells; the same ``seed`` and conditions give the same structures."""
        cond = parse_conditions(conditions)
        rng = np.random.default_rng(seed)
        templates = self._templates(n, cond, rng)
        generate = cond.composition is None and not (
            cond.templates
            and all(o.species for t in cond.templates for o in t.orbits)
            and not cond.elements
        )
        q = None
        lam = 0.0
        if cond.descriptors is not None:
            dim = self.bundle.model.config.denoiser.cond_dim
            if dim == 0:
                raise ConfigError(
                    "conditions.descriptors: this model was trained without descriptors"
                )
            if cond.descriptors.size != dim:
                raise ConfigError(
                    f"conditions.descriptors: expected {dim} values, got {cond.descriptors.size}"
                )
            q = torch.as_tensor(cond.descriptors)
            lam = self.lam if cond.lam is None else cond.lam
            if lam != 0.0 and self.bundle.meta.get(UNTRAINED_KEY) is True:
                raise ConfigError(
                    "conditions.lam: this model's descriptor condition was never trained "
                    "(every training q was missing; see its card): use lam=0, or fine-tune "
                    "it with descriptors first"
                )
        config = self.sampler_config(guided=q is not None and lam not in (0.0, 1.0))
        allowed = cond.elements or self.training_elements
        chunks = self._chunks(templates)
        seeds = np.random.SeedSequence(seed).spawn(max(1, len(chunks)))
        out: list[Atoms | None] = [None] * n
        shown = self.progress and progress_enabled()  # a terminal, QAWARE_NO_PROGRESS unset
        bar = tqdm(total=n, desc="sample", unit="structure", disable=not shown)
        for chunk, child in zip(chunks, seeds, strict=False):
            result = sample(
                self.bundle.model,
                [templates[i] for i in chunk],
                seed=int(child.generate_state(1)[0]),
                config=config,
                generate_species=generate,
                allowed_species=allowed if generate else None,
                cond=q,
                lam=lam,
            )
            for i, atoms in zip(chunk, result.structures, strict=True):
                atoms.info.update(generator="diffusion", lam=lam)
                out[i] = atoms
            bar.update(len(chunk))
        bar.close()
        return [a for a in out if a is not None]

    def _chunks(self, templates: Sequence[WyckoffTemplate]) -> list[list[int]]:
        """Indices of ``templates`` in batches of at most ``batch_size`` with one atom count
        each: the denoiser's tensors are padded to the largest cell of a batch, (B, N, N, H),
        so a C24 template in a batch of C6 ones would make every row cost 16 times more.
        Templates of one size keep their order (a one-size request batches as before)."""
        order = sorted(range(len(templates)), key=lambda i: templates[i].n_atoms)
        chunks: list[list[int]] = []
        for _, group in groupby(order, key=lambda i: templates[i].n_atoms):
            same = list(group)
            chunks += [same[j : j + self.batch_size] for j in range(0, len(same), self.batch_size)]
        return chunks
