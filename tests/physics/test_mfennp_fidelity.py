"""The fidelity machinery does what it says: conditioning matters, gradient stopping holds."""

from __future__ import annotations

import pytest
import torch

from .conftest import cluster, graph_of, make_delta_model, make_model, skewed_cell


def test_levels_give_different_predictions(model):
    out = model.compute(graph_of(model, [skewed_cell(0), cluster(0)]), level=0)
    assert out.energy.shape == (2, 3)
    learned = out.energy - model(graph_of(model, [skewed_cell(0), cluster(0)])).energy
    assert torch.all(learned.abs() < 1e-12), "compute() and forward() energies agree"
    spread = out.energy - out.energy.mean(dim=1, keepdim=True)
    assert spread.abs().min() > 1e-4


def test_fidelity_embedding_reaches_the_features_not_only_the_heads():
    # give every level the same heads, scale and references: what still differs is the FiLM
    model = make_model(n_conditioned_blocks=2)
    with torch.no_grad():
        for head in model.heads[1:]:
            head.load_state_dict(model.heads[0].state_dict())
        model.energy_scale.fill_(1.0)
        model.reference_energies.copy_(model.reference_energies[:1].expand(3, -1))
    energy = model(graph_of(model, [skewed_cell(1)])).energy[0]
    assert (energy[1:] - energy[0]).abs().min() > 1e-4
    with torch.no_grad():
        for z in model.fidelity_embedding[1:]:
            z.copy_(model.fidelity_embedding[0])
    same = model(graph_of(model, [skewed_cell(1)])).energy[0]
    torch.testing.assert_close(same, same[0].expand(3), atol=1e-12, rtol=0)


def _low_level_loss(model, with_forces: bool) -> torch.Tensor:
    """A loss on levels 0 and 1 only (energies per head, and level-0 forces)."""
    graph = graph_of(model, [skewed_cell(2), cluster(2)])
    out = model.compute(graph, level=0, forces=with_forces, create_graph=True)
    loss = (out.energy_heads[:, :2] + 1.0).pow(2).mean()
    if with_forces:
        assert out.forces is not None
        loss = loss + out.forces.pow(2).mean()
    return loss


@pytest.mark.parametrize("with_forces", [False, True])
def test_gradient_stopping_protects_the_top_level(with_forces):
    model = make_model(n_conditioned_blocks=2, gradient_stopping=True).train()
    top = model.config.n_levels - 1
    protected = model.conditioning_parameters() + model.level_parameters(top)
    before = [p.detach().clone() for p in protected]
    backbone_before = [p.detach().clone() for p in model.backbone_parameters()]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    optimiser.zero_grad()
    _low_level_loss(model, with_forces).backward()
    for p in protected:
        assert p.grad is None or torch.all(p.grad == 0), "low-level loss reached the top level"
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in model.backbone_parameters())
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in model.level_parameters(0))
    optimiser.step()
    for p, old in zip(protected, before, strict=True):
        assert torch.equal(p.detach(), old), "a top-level parameter moved"
    moved = [
        not torch.equal(p.detach(), old)
        for p, old in zip(model.backbone_parameters(), backbone_before, strict=True)
    ]
    assert any(moved), "the shared backbone must still learn from the low level"


def test_without_gradient_stopping_the_low_level_moves_the_shared_conditioning():
    model = make_model(n_conditioned_blocks=2, gradient_stopping=False).train()
    _low_level_loss(model, with_forces=True).backward()
    grads = [p.grad for p in model.conditioning_parameters()]
    assert any(g is not None and g.abs().max() > 0 for g in grads)
    # the top level's own embedding and heads are never in a lower level's loss
    top = model.config.n_levels - 1
    for p in model.level_parameters(top):
        assert p.grad is None or torch.all(p.grad == 0)


def test_stopping_does_not_change_predictions():
    on = make_model(gradient_stopping=True)
    off = make_model(gradient_stopping=False)  # same seed, same weights
    graph = graph_of(on, [skewed_cell(3)])
    torch.testing.assert_close(on(graph).energy, off(graph).energy, atol=0, rtol=0)


# ---- Δ-learning (residual_levels): each level is the one below plus its own correction ----------
# (the symmetry, force, stress, batching and isolated-atom tests run on Δ heads too: the shared
# ``model`` fixture is parametrised over both head kinds)


def test_residual_levels_add_the_upper_heads_correction():
    independent = make_model(residual_levels=False)
    residual = make_model(residual_levels=True)
    residual.load_state_dict(independent.state_dict())  # its upper heads start at zero
    graph = graph_of(residual, [skewed_cell(4), cluster(4)])
    e_ind = independent(graph).energy
    e_res = residual(graph).energy
    mu_sum = torch.zeros(2, 3, dtype=torch.float64).index_add(
        0, graph.batch, residual.reference_energies[:, graph.species].T
    )
    learned_ind, learned_res = e_ind - mu_sum, e_res - mu_sum
    # the learned part of level f is the sum of the independent model's learned parts up to f
    torch.testing.assert_close(learned_res, learned_ind.cumsum(dim=1), atol=1e-12, rtol=0)


def test_residual_top_level_starts_as_the_level_below():
    model = make_model(residual_levels=True)  # corrections are zero-initialised
    graph = graph_of(model, [skewed_cell(5)])
    energy = model(graph).energy[0]
    shift = (model.reference_energies[2] - model.reference_energies[1])[graph.species].sum()
    torch.testing.assert_close(energy[2] - energy[1], shift, atol=1e-12, rtol=0)


def test_residual_gradient_stopping_still_protects_the_top_level():
    model = make_delta_model(n_conditioned_blocks=2, gradient_stopping=True)
    model.train()
    top = model.config.n_levels - 1
    _low_level_loss(model, with_forces=True).backward()
    for p in model.conditioning_parameters() + model.level_parameters(top):
        assert p.grad is None or torch.all(p.grad == 0), "low-level loss reached the top level"
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in model.level_parameters(0))


@pytest.mark.parametrize("with_forces", [False, True])
def test_residual_upper_loss_never_moves_the_heads_below(with_forces):
    """Δ-learning proper: level 1's loss trains its own correction, not level 0's heads (which
    level 1 adds as constants), so a sparse energy-only upper level cannot bend level 0."""
    model = make_delta_model(n_conditioned_blocks=2)
    model.train()
    graph = graph_of(model, [skewed_cell(7), cluster(7)])
    out = model.compute(graph, level=1, forces=with_forces, create_graph=True)
    loss = (out.energy_heads[:, 1] + 1.0).pow(2).mean()
    if with_forces:
        assert out.forces is not None
        loss = loss + out.forces.pow(2).mean()
    loss.backward()
    for p in model.heads[0].parameters():
        assert p.grad is None or torch.all(p.grad == 0), "level 1's loss moved level 0's heads"
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in model.heads[1].parameters())
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in model.backbone_parameters())


def test_residual_upper_gradient_is_that_of_its_own_correction_alone():
    """In training, level 1's energy gradient equals the gradient of (its own learned part +
    the level-0 part as a number): nothing reaches level 0's prediction through level 1."""
    model = make_delta_model(n_conditioned_blocks=2)
    model.train()
    graph = graph_of(model, [skewed_cell(8), cluster(8)])
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(loss):
        return [
            torch.zeros_like(p) if g is None else g
            for p, g in zip(
                params, torch.autograd.grad(loss, params, allow_unused=True), strict=True
            )
        ]

    energy = model(graph).energy[:, 1]
    parts = model(graph, parts_only=True)  # (L, N, K): each level's own learned part
    mu = model.reference_energies[1, graph.species]
    own = (parts[1] + parts[0].detach()).mean(dim=-1) + mu
    reference = torch.zeros(2, dtype=own.dtype).index_add(0, graph.batch, own)
    torch.testing.assert_close(energy, reference, atol=1e-12, rtol=0)
    for got, want in zip(grads(energy.pow(2).sum()), grads(reference.pow(2).sum()), strict=True):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
