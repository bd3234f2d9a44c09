"""Predictor-corrector sampling on the templates' symmetric manifolds, with guidance.

Each of ``n_steps`` steps from t = 1 to 0 runs ``corrector_steps`` Langevin corrector moves on
the anchors (step ``step_lr·(σ_t/σ_min)²``, as DiffCSP) and one predictor: the reverse VE step
for the anchors, the ancestral DDPM step for the lattice coefficients and, when species are
generated, for the species vectors (clean estimate = softmax of the logits restricted to the
allowed elements). Only anchors and free coefficients move, so every iterate is a structure of
the template's space group; fixed species never change. With descriptors and a guidance weight
λ ∉ {0, 1} each evaluation is ``out_uncond + λ·(out_cond − out_uncond)`` (one double-size
batch); network evaluations per structure = n_steps·(1 + corrector_steps)·(2 if guided else 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from ase import Atoms
from torch.nn import functional as nnf

from qaware.generator.batch import TemplateBatch, collate_templates, expand
from qaware.generator.ddpm import ddpm_step, predict_x0
from qaware.generator.diffusion import CrystalDiffusion, OrbitPrediction
from qaware.generator.wyckoff import WyckoffTemplate

__all__ = ["SamplerConfig", "SamplingResult", "guided", "sample"]


@dataclass(frozen=True)
class SamplerConfig:
    """n_steps·(1 + corrector_steps) = 200 network evaluations per structure by default."""

    n_steps: int = 100
    corrector_steps: int = 1
    step_lr: float = 1e-5
    clip_lattice: float = 5.0
    """Bound on the clean estimate of the standardised lattice coefficients (DDPM x₀ clipping)."""

    def evaluations(self, guided: bool) -> int:
        """Network evaluations per structure."""
        return self.n_steps * (1 + self.corrector_steps) * (2 if guided else 1)


@dataclass
class SamplingResult:
    """structures: primitive cells (``info``: space_group, template source, nfe);
    nfe: network evaluations per structure."""

    structures: list[Atoms]
    nfe: int


def guided(
    model: CrystalDiffusion,
    lam: float,
    batch: TemplateBatch,
    state: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    t: torch.Tensor,
    t_types: torch.Tensor,
    cond: torch.Tensor | None,
) -> OrbitPrediction:
    """Classifier-free guided prediction: uncond + λ·(cond − uncond), all outputs alike."""
    B = len(batch)
    if cond is None or lam == 0.0:
        return model(batch, *state, t, t_types)
    ones = torch.ones(B, dtype=torch.bool, device=t.device)
    if lam == 1.0:
        return model(batch, *state, t, t_types, cond, ones)
    two = _double(batch)
    keep = torch.cat([ones, torch.zeros_like(ones)])
    doubled = [torch.cat([s, s]) for s in state]
    out = model(
        two,
        *doubled,
        torch.cat([t, t]),
        torch.cat([t_types, t_types]),
        torch.cat([cond, cond]),
        keep,
    )
    return OrbitPrediction(*(u[B:] + lam * (u[:B] - u[B:]) for u in out))


def _double(batch: TemplateBatch) -> TemplateBatch:
    return TemplateBatch(**{k: torch.cat([v, v]) for k, v in vars(batch).items()})


@torch.no_grad()
def sample(
    model: CrystalDiffusion,
    templates: Sequence[WyckoffTemplate],
    *,
    seed: int,
    config: SamplerConfig | None = None,
    generate_species: bool = False,
    allowed_species: Sequence[int] | None = None,
    cond: torch.Tensor | None = None,
    lam: float = 0.0,
) -> SamplingResult:
    """Sample one structure per template (one batch).

    generate_species: False keeps each template's species (crystal structure prediction,
        exact composition); True generates one element per orbit, restricted to
        ``allowed_species`` (atomic numbers) when given.
    cond: (B, cond_dim) or (cond_dim,) target descriptors; lam: guidance weight λ.
    """
    cfg = config or SamplerConfig()
    model.eval()
    dtype, dev = model.dtype, model.device
    gen = torch.Generator().manual_seed(int(seed))

    def draw(values: torch.Tensor) -> torch.Tensor:  # drawn on the CPU: same noise anywhere
        return values.to(dev)

    host = collate_templates(templates, dtype=dtype)
    batch = host.to(dev)
    B, n_orbits = batch.orbit_mask.shape
    if not generate_species and bool(((batch.species == 0) & batch.orbit_mask).any()):
        raise ValueError("a template has orbits without species; pass generate_species=True")
    if cond is not None:
        cond = torch.as_tensor(cond, dtype=dtype, device=dev)
        cond = cond.reshape(-1, cond.shape[-1]).expand(B, -1)
    n_species = model.config.denoiser.n_species
    allowed = torch.zeros(n_species, dtype=torch.bool, device=dev)
    allowed[[z - 1 for z in allowed_species] if allowed_species else slice(None)] = True

    free = (batch.orbit_free & batch.orbit_mask.unsqueeze(-1)).to(dtype)
    lmask = batch.lattice_mask.to(dtype)
    xyz = draw(torch.rand(B, n_orbits, 3, generator=gen, dtype=dtype)) * free
    z = draw(torch.randn(B, 6, generator=gen, dtype=dtype)) * lmask
    if generate_species:
        species = draw(torch.randn(B, n_orbits, n_species, generator=gen, dtype=dtype))
    else:
        species = nnf.one_hot((batch.species - 1).clamp(min=0), n_species).to(dtype)

    times = torch.linspace(1.0, 0.0, cfg.n_steps + 1, dtype=dtype, device=dev)
    sigma_min = model.config.sigma_min
    logits = torch.zeros(B, n_orbits, n_species, dtype=dtype, device=dev)
    for n in range(cfg.n_steps):
        t_val, s_val = times[n], times[n + 1]
        t = t_val.expand(B)
        t_types = t if generate_species else torch.zeros_like(t)
        sigma_t = model.sigmas(t_val)
        last = n + 1 == cfg.n_steps
        sigma_s = torch.zeros((), dtype=dtype, device=dev) if last else model.sigmas(s_val)
        scale = model.score_scale(sigma_t)
        for _ in range(cfg.corrector_steps):
            pred = guided(model, lam, batch, (xyz, z, species), t, t_types, cond)
            step = cfg.step_lr * (sigma_t / sigma_min) ** 2
            noise = draw(torch.randn(xyz.shape, generator=gen, dtype=dtype))
            xyz = xyz + (step * scale * pred.score + torch.sqrt(2 * step) * noise) * free
            xyz = torch.remainder(xyz, 1.0)
        pred = guided(model, lam, batch, (xyz, z, species), t, t_types, cond)
        var_drop = sigma_t**2 - sigma_s**2
        std = torch.sqrt(sigma_s**2 * var_drop / sigma_t**2)
        noise = draw(torch.randn(xyz.shape, generator=gen, dtype=dtype))
        xyz = torch.remainder(xyz + (var_drop * scale * pred.score + std * noise) * free, 1.0)
        a_t, a_s = model.alphas.alpha_bar(t_val), model.alphas.alpha_bar(s_val)
        z0 = predict_x0(z, pred.lattice_eps, a_t).clamp(-cfg.clip_lattice, cfg.clip_lattice)
        z = ddpm_step(z, z0, a_t, a_s, draw(torch.randn(z.shape, generator=gen, dtype=dtype)))
        z = z * lmask
        logits = pred.logits.masked_fill(~allowed, float("-inf"))
        if generate_species:
            x0 = torch.softmax(logits, dim=-1)
            noise = draw(torch.randn(species.shape, generator=gen, dtype=dtype))
            species = ddpm_step(species, x0, a_t, a_s, noise)

    numbers = (logits.argmax(-1) + 1).cpu() if generate_species else host.species
    nfe = cfg.evaluations(guided=cond is not None and lam not in (0.0, 1.0))
    frac = expand(batch, xyz).double().cpu().numpy()
    lattices = model.decode_lattice(batch, z).double().cpu().numpy()
    structures = []
    for b, template in enumerate(templates):
        n = int(host.n_atoms[b])
        atom_numbers = numbers[b, host.atom_orbit[b, :n]].numpy()
        atoms = Atoms(
            numbers=atom_numbers, scaled_positions=frac[b, :n], cell=lattices[b], pbc=True
        )
        atoms.info.update(space_group=template.space_group, template=template.source, nfe=nfe)
        structures.append(atoms)
    return SamplingResult(structures, nfe)
