"""MF-ENNP: a multi-fidelity E(3)-equivariant interatomic potential with ensemble heads.

Parameters fall in three groups, and the gradient-stopping contract is stated in their terms:

* **backbone** — species embedding, every interaction block's convolution, self-connection and
  gate, the shared scalar readout linear: functions that never see the fidelity.
* **fidelity conditioning** — the FiLM generators (of the last ``n_conditioned_blocks`` blocks and
  of the readout): linear maps, shared by all levels, from a level's embedding vector to
  per-channel scale/shift. They let levels share what they have in common.
* **level-specific** — per level: its embedding vector and its K readout heads.

Energies of every level come out of one forward pass (the conditioned part runs once per level).
With ``gradient_stopping`` (default) the levels below the top use a *detached* copy of the
fidelity-conditioning weights, so: **the gradient of any loss built only from levels below the top
is exactly zero for every parameter the top level depends on except the backbone** (the FiLM
generators, the top embedding, the top heads). Lower levels therefore train the shared backbone
(transfer of abundant cheap data) but cannot bend the top level's conditioning or heads; the
FiLM generators are trained by the top level alone. ``tests/physics`` checks this both ways.

Per-atom energy of atom i at level f and head k:
``ε_ifk = s_f · (head_fk(h_if) − head_fk(h_f^iso(Z_i))) + μ_f(Z_i)``, where ``h^iso(Z)`` are the
features of an isolated atom of that element (computed in the same pass) and μ_f the per-level
per-element reference energies fitted by least squares before training. An isolated atom's
energy is therefore exactly μ_f(Z). E_f = Σ_i mean_k ε_ifk; its spread over k is the uncertainty.

With ``residual_levels`` (Δ-learning) the learned parts accumulate up the ladder:
``ε_ifk = Σ_{g≤f} s_g · (head_gk(h_ig) − head_gk(h_g^iso(Z_i))) + μ_f(Z_i)``, so level f's heads
learn only the correction to level f−1 (isolated atoms still give exactly μ_f). In training the
levels below enter level f as a function of the positions whose parameters are all constants
(a second, parameter-detached pass): level f's loss trains its own correction and what only it
uses, never the backbone, embeddings or heads through the levels below, so a sparse energy-only
top level cannot bend the low level's potential energy surface
(``benchmarks/validator_residual_relax.py``). The gradient-stopping contract above is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from e3nn import o3
from torch import nn

from qaware.validator.blocks import FiLM, InteractionBlock, hidden_irreps
from qaware.validator.config import ModelConfig
from qaware.validator.graph import AtomicGraph
from qaware.validator.radial import RadialEmbedding

__all__ = ["MFENNP", "EnsembleHead", "ModelOutput"]


@dataclass
class ModelOutput:
    """What the model returns for a batch of B structures on L levels with K heads.

    energy:       (B, L) eV, total energy, mean over heads.
    energy_heads: (B, L, K) eV, each head's total energy.
    energy_std:   (B, L) eV, calibrated spread: std over heads (ddof 1) times the level's
                  ``std_scale``, combined with its ``std_floor`` (see :class:`MFENNP`).
    embedding:    (B, d) invariant structure embedding (mean scalar features, fidelity-free).
    forces:       (N, 3) eV/Å at ``level`` when asked, else None.
    stress:       (B, 3, 3) eV/Å³ at ``level`` (ASE sign: (1/V) dE/dε), zero for open structures.
    level:        index of the level of forces and stress, or None.
    """

    energy: torch.Tensor
    energy_heads: torch.Tensor
    energy_std: torch.Tensor
    embedding: torch.Tensor
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    level: int | None = None


class EnsembleHead(nn.Module):
    """K independent two-layer MLPs evaluated together: (M, n_in) -> (M, K)."""

    def __init__(self, n_in: int, hidden: int, n_heads: int) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(n_heads, n_in, hidden) / math.sqrt(n_in))
        self.b1 = nn.Parameter(0.1 * torch.randn(n_heads, hidden))
        self.w2 = nn.Parameter(torch.randn(n_heads, hidden) / math.sqrt(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.nn.functional.silu(torch.einsum("mi,kih->mkh", x, self.w1) + self.b1)
        return torch.einsum("mkh,kh->mk", hidden, self.w2)


class MFENNP(nn.Module):
    """The multi-fidelity potential; see the module docstring for the architecture.

    Buffers: ``reference_energies`` (L, n_species) eV, ``energy_scale`` (L,) eV,
    ``std_scale`` (L,) calibration factor of the head spread, ``std_floor`` (L,) eV/atom floor:
    ``energy_std = sqrt((std_scale·spread)² + (std_floor·n_atoms)²)``; ``correction_factor``
    (L,) multiplies each level's learned part, 1 but where :mod:`.correction_shrinkage` shrank a
    Δ correction after training (training resets it to 1).
    """

    reference_energies: torch.Tensor
    energy_scale: torch.Tensor
    correction_factor: torch.Tensor
    std_scale: torch.Tensor
    std_floor: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        generator = torch.random.fork_rng()
        with generator:
            torch.manual_seed(config.seed)
            self._build(config)

    def _build(self, c: ModelConfig) -> None:
        n_levels, n_species = c.n_levels, len(c.species)
        hidden = hidden_irreps(c.channels, c.l_max)
        self.irreps_sh = o3.Irreps.spherical_harmonics(c.l_max)
        self.spherical_harmonics = o3.SphericalHarmonics(
            self.irreps_sh, normalize=True, normalization="component"
        )
        self.radial = RadialEmbedding(c.cutoff, c.n_basis, c.envelope_p)
        self.species_embedding = nn.Embedding(n_species, c.channels)
        first_conditioned = c.n_layers - c.n_conditioned_blocks
        blocks = []
        irreps_in = o3.Irreps(f"{c.channels}x0e")
        for t in range(c.n_layers):
            blocks.append(
                InteractionBlock(
                    irreps_in,
                    hidden,
                    self.irreps_sh,
                    n_basis=c.n_basis,
                    radial_hidden=c.radial_hidden,
                    avg_num_neighbours=c.avg_num_neighbours,
                    condition_dim=c.fidelity_dim if t >= first_conditioned else None,
                )
            )
            irreps_in = hidden
        self.blocks = nn.ModuleList(blocks)
        self.readout = o3.Linear(hidden, o3.Irreps(f"{c.readout_hidden}x0e"))
        self.readout_film = FiLM(o3.Irreps(f"{c.readout_hidden}x0e"), c.fidelity_dim)
        self.fidelity_embedding = nn.ParameterList(
            [nn.Parameter(torch.randn(c.fidelity_dim)) for _ in range(n_levels)]
        )
        self.heads = nn.ModuleList(
            [EnsembleHead(c.readout_hidden, c.head_hidden, c.n_heads) for _ in range(n_levels)]
        )
        if c.residual_levels:  # corrections start at zero: an upper level starts as the one below
            with torch.no_grad():
                for head in self.heads[1:]:
                    assert isinstance(head, EnsembleHead)
                    head.w2.zero_()
        self.register_buffer("reference_energies", torch.zeros(n_levels, n_species))
        self.register_buffer("energy_scale", torch.ones(n_levels))
        self.register_buffer("correction_factor", torch.ones(n_levels))
        self.register_buffer("std_scale", torch.ones(n_levels))
        self.register_buffer("std_floor", torch.zeros(n_levels))

    # ---- parameter groups (the gradient-stopping contract is stated in these terms) ----------
    def conditioning_parameters(self) -> list[nn.Parameter]:
        """FiLM generators shared by all levels (trained by the top level under stopping)."""
        films = [b.film for b in self._blocks() if b.film is not None] + [self.readout_film]
        return [p for film in films for p in film.parameters()]

    def _blocks(self) -> list[InteractionBlock]:
        return [b for b in self.blocks if isinstance(b, InteractionBlock)]

    def level_parameters(self, level: int) -> list[nn.Parameter]:
        """The embedding vector and the K heads of one level."""
        return [self.fidelity_embedding[level], *self.heads[level].parameters()]

    def backbone_parameters(self) -> list[nn.Parameter]:
        other = {id(p) for p in self.conditioning_parameters()}
        for level in range(self.config.n_levels):
            other |= {id(p) for p in self.level_parameters(level)}
        return [p for p in self.parameters() if id(p) not in other]

    @property
    def dtype(self) -> torch.dtype:
        return self.species_embedding.weight.dtype

    @property
    def device(self) -> torch.device:
        """Where the weights are (move them with ``.to(device)``); inputs are built there."""
        return self.species_embedding.weight.device

    # ---- forward --------------------------------------------------------------------------
    def _film(self, film: FiLM) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma, beta), each (L, n_channels); rows below the top detached under stopping."""
        condition = torch.stack(list(self.fidelity_embedding))  # (L, d)
        gamma, beta = film.coefficients(condition)
        if self.config.gradient_stopping and self.config.n_levels > 1:
            gamma_d, beta_d = film.coefficients(condition, detach=True)
            gamma = torch.cat([gamma_d[:-1], gamma[-1:]])
            beta = torch.cat([beta_d[:-1], beta[-1:]])
        return gamma, beta

    def forward(
        self,
        graph: AtomicGraph,
        positions: torch.Tensor | None = None,
        cell: torch.Tensor | None = None,
        *,
        parts_only: bool = False,
    ) -> ModelOutput:
        """Energies of every level (no derivatives); ``positions``/``cell`` override the graph's
        (strained copies for stress). parts_only: return each level's own learned per-atom part
        (L, N, K) instead (internal, for Δ-learning)."""
        n_levels = self.config.n_levels
        n_atoms, n_species = graph.species.shape[0], len(self.config.species)
        vectors = graph.edge_vectors(positions, cell)
        sh = self.spherical_harmonics(vectors)
        radial = self.radial(torch.linalg.norm(vectors, dim=-1))
        # real atoms, then one isolated atom per element (no edges): its features set the zero
        species = torch.cat([graph.species, torch.arange(n_species, device=graph.species.device)])
        h = self.species_embedding(species)
        n_nodes = h.shape[0]
        centre, neighbour = graph.centre, graph.neighbour
        per_level = False
        embedding_source = h[:n_atoms]
        for block in self._blocks():
            if not per_level:
                z = block.preactivation(h, sh, radial, centre, neighbour)
                if block.film is None:
                    h = block.activate(h, z)
                    embedding_source = z[:n_atoms, : block.n_scalars]
                    continue
                embedding_source = z[:n_atoms, : block.n_scalars]
                h = block.activate(h, z, self._film(block.film))  # (L, M, dim)
                per_level = True
                continue
            offsets = torch.arange(n_levels, device=h.device)[:, None] * n_nodes
            z = block.preactivation(
                h.reshape(n_levels * n_nodes, -1),
                sh.repeat(n_levels, 1),
                radial.repeat(n_levels, 1),
                (centre[None] + offsets).reshape(-1),
                (neighbour[None] + offsets).reshape(-1),
            ).reshape(n_levels, n_nodes, -1)
            assert block.film is not None
            h = block.activate(h, z, self._film(block.film))
        if not per_level:
            h = h.expand(n_levels, *h.shape)
        scalars = self.readout(h)  # (L, M, R)
        scalars = torch.nn.functional.silu(
            self.readout_film(scalars, *self._film(self.readout_film))
        )
        raw = torch.stack([head(scalars[f]) for f, head in enumerate(self.heads)])  # (L, M, K)
        learned = self._learned(raw, graph.species, n_atoms)
        if parts_only:
            return learned  # type: ignore[return-value]
        if self.config.residual_levels and n_levels > 1:
            # level f = the levels below (a function of the positions whose parameters are
            # constants here) + level f's own correction
            below = self._levels_below(graph, positions, cell, learned)
            learned = torch.cat([learned[:1], learned[1:] + below.cumsum(dim=0)])
        per_atom = learned + self.reference_energies[:, graph.species].unsqueeze(-1)
        n_structures = graph.n_structures
        energy_heads = torch.zeros(
            n_structures, n_levels, self.config.n_heads, dtype=h.dtype, device=h.device
        ).index_add(0, graph.batch, per_atom.permute(1, 0, 2))
        embedding = torch.zeros(
            n_structures, embedding_source.shape[1], dtype=h.dtype, device=h.device
        ).index_add(0, graph.batch, embedding_source)
        embedding = embedding / graph.n_atoms.to(h.dtype)[:, None]
        if self.config.n_heads > 1:
            std = energy_heads.std(dim=-1) * self.std_scale
        else:
            std = torch.zeros_like(energy_heads[..., 0])
        if bool((self.std_floor != 0).any()):  # no sqrt in the graph without a floor (∂√0 = ∞)
            floor = self.std_floor * graph.n_atoms.to(h.dtype)[:, None]  # (M, L) eV
            std = torch.sqrt(std**2 + floor**2)
        return ModelOutput(energy_heads.mean(-1), energy_heads, std, embedding)

    def _levels_below(
        self,
        graph: AtomicGraph,
        positions: torch.Tensor | None,
        cell: torch.Tensor | None,
        learned: torch.Tensor,
    ) -> torch.Tensor:
        """(L−1, N, K): the learned parts of every level but the top, as the upper levels add
        them. While training they are recomputed with every parameter detached, so an upper
        level's loss cannot move anything a lower level's prediction depends on; elsewhere no
        parameter gradient is taken and the same values are reused."""
        if not (self.training and torch.is_grad_enabled()):
            return learned[:-1]
        constants = {name: p.detach() for name, p in self.named_parameters()}
        parts = torch.func.functional_call(
            self, constants, (graph, positions, cell), {"parts_only": True}
        )
        return parts[:-1]

    def _learned(self, raw: torch.Tensor, species: torch.Tensor, n_atoms: int) -> torch.Tensor:
        """(L, N, K) eV: head outputs of the atoms minus those of their isolated atoms, times
        each level's scale and correction factor."""
        scale = self.energy_scale * self.correction_factor
        return (raw[:, :n_atoms] - raw[:, n_atoms + species]) * scale[:, None, None]

    def compute(
        self,
        graph: AtomicGraph,
        *,
        level: int | None = None,
        forces: bool = True,
        stress: bool = False,
        create_graph: bool | None = None,
    ) -> ModelOutput:
        """Energies of every level, plus forces (eV/Å) and stress (eV/Å³) at ``level``.

        level: index into ``config.levels``; None = the top level. Forces are −dE/dr and stress
        (1/V) dE/dε for a symmetric strain ε applied to positions and cell, both by autograd.
        create_graph: keep the derivative graph (needed to train on forces); default: training.
        """
        level = self.config.n_levels - 1 if level is None else int(level)
        if not (forces or stress):
            return self(graph)
        create = self.training if create_graph is None else create_graph
        with torch.enable_grad():
            out, pos, strain = self.strained_forward(graph)
            f, s = self.derivatives(out, graph, pos, strain, level, create_graph=create)
        out.level = level
        out.forces = f if forces else None
        out.stress = s if stress else None
        return out

    def strained_forward(
        self, graph: AtomicGraph
    ) -> tuple[ModelOutput, torch.Tensor, torch.Tensor]:
        """Forward pass on leaf positions (N, 3) and a zero strain (B, 3, 3) that both require
        gradients; returns (output, positions, strain) for :meth:`derivatives`."""
        pos = graph.positions.detach().requires_grad_(True)
        strain = torch.zeros(
            graph.n_structures, 3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True
        )
        sym = 0.5 * (strain + strain.transpose(1, 2))
        strained_pos = pos + torch.einsum("nc,ncd->nd", pos, sym[graph.batch])
        strained_cell = graph.cell + torch.bmm(graph.cell, sym)
        return self(graph, strained_pos, strained_cell), pos, strain

    @staticmethod
    def derivatives(
        out: ModelOutput,
        graph: AtomicGraph,
        positions: torch.Tensor,
        strain: torch.Tensor,
        level: int,
        *,
        create_graph: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(forces (N, 3) eV/Å, stress (B, 3, 3) eV/Å³) of ``level`` from a strained forward.

        The graph is retained, so several levels can be differentiated from one forward pass.
        Stress is zero for structures that are not periodic along all three axes.
        """
        grad_pos, grad_strain = torch.autograd.grad(
            out.energy[:, level].sum(),
            [positions, strain],
            create_graph=create_graph,
            retain_graph=True,
        )
        periodic = graph.pbc.all(dim=1)
        ones = torch.ones_like(periodic, dtype=positions.dtype)
        volume = torch.where(periodic, graph.volumes(), ones)
        stress = grad_strain / volume[:, None, None] * periodic[:, None, None]
        return -grad_pos, stress
