"""Masked multi-fidelity loss: energies per atom always, forces and stress where labelled.

``loss = Σ_f w_f [λ_E·mean_{b,k}((E_bfk − E_bf)/N_b)² + λ_F·mean_i |F_if − F̂_if|²/3
+ λ_S·mean_b |σ_bf − σ̂_bf|²/9]`` over what is labelled at level f, with w_f the ladder's loss
weights. The energy term fits every ensemble head on its own (optionally with bootstrap weights
per structure and head), so the spread of the heads means something; forces and stress use the
heads' mean. Levels without any label in the batch contribute nothing, not a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from qaware.validator.data import LabelBatch
from qaware.validator.graph import AtomicGraph
from qaware.validator.model import MFENNP, ModelOutput

__all__ = ["LossTerms", "LossWeights", "multi_fidelity_loss"]


@dataclass(frozen=True)
class LossWeights:
    """λ_E per (eV/atom)², λ_F per (eV/Å)², λ_S per (eV/Å³)².

    λ_E = 10 because formation energies per atom are what the validator is for (with 1, a short
    run spends itself on forces and energies lag); λ_S = 100 ≈ (volume per atom in Å³)² puts
    stress errors on the scale of per-atom energies.
    """

    energy: float = 10.0
    forces: float = 1.0
    stress: float = 100.0


@dataclass
class LossTerms:
    """The total (a scalar tensor with a graph) and detached per-level terms for logging."""

    total: torch.Tensor
    energy: dict[int, float] = field(default_factory=dict)
    forces: dict[int, float] = field(default_factory=dict)
    stress: dict[int, float] = field(default_factory=dict)
    output: ModelOutput | None = None
    predicted_forces: dict[int, torch.Tensor] = field(default_factory=dict)
    """level -> (N, 3) eV/Å, detached, for the levels whose forces entered the loss."""


def multi_fidelity_loss(
    model: MFENNP,
    graph: AtomicGraph,
    labels: LabelBatch,
    level_weights: Sequence[float],
    weights: LossWeights = LossWeights(),
    *,
    head_weights: torch.Tensor | None = None,
    create_graph: bool = True,
) -> LossTerms:
    """The weighted loss of one batch.

    head_weights: (B, K) non-negative bootstrap weights of each structure for each head (None:
    all ones). create_graph: keep the force graph (True to train, False to evaluate).
    """
    want_forces = weights.forces > 0 and bool(labels.force_mask.any())
    want_stress = weights.stress > 0 and bool(labels.stress_mask.any())
    if want_forces or want_stress:
        out, pos, strain = model.strained_forward(graph)
    else:
        out, pos, strain = model(graph), None, None
    n_atoms = graph.n_atoms.to(out.energy.dtype)
    total = out.energy.new_zeros(())
    terms = LossTerms(total)
    for f, w in enumerate(level_weights):
        mask = labels.energy_mask[:, f]
        if mask.any():
            err = (out.energy_heads[mask, f] - labels.energy[mask, f, None]) / n_atoms[mask, None]
            if head_weights is not None:
                hw = head_weights[mask]
                e_term = (hw * err.pow(2)).sum() / hw.sum().clamp_min(1e-12)
            else:
                e_term = err.pow(2).mean()
            total = total + w * weights.energy * e_term
            terms.energy[f] = float(e_term.detach())
        atoms_f = labels.force_mask[:, f] if want_forces else None
        structures_f = labels.stress_mask[:, f] if want_stress else None
        has_f = atoms_f is not None and bool(atoms_f.any())
        has_s = structures_f is not None and bool(structures_f.any())
        if not (has_f or has_s):
            continue
        assert pos is not None and strain is not None
        forces, stress = model.derivatives(out, graph, pos, strain, f, create_graph=create_graph)
        if has_f:
            assert atoms_f is not None
            f_term = (forces[atoms_f] - labels.forces[atoms_f, f]).pow(2).mean()
            total = total + w * weights.forces * f_term
            terms.forces[f] = float(f_term.detach())
            terms.predicted_forces[f] = forces.detach()
        if has_s:
            assert structures_f is not None
            s_term = (stress[structures_f] - labels.stress[structures_f, f]).pow(2).mean()
            total = total + w * weights.stress * s_term
            terms.stress[f] = float(s_term.detach())
    terms.total = total
    terms.output = out
    return terms
