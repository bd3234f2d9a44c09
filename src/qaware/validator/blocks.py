"""Equivariant building blocks (NequIP family, e3nn 0.6, plain torch scatter via index_add_).

Node features are e3nn irreps ``c×0e + c×1o (+ c×2e)`` (parity (−1)^l, so O(3) including
reflections). One :class:`InteractionBlock` is: linear self-interaction → per-edge tensor product
of neighbour features with the edge's spherical harmonics, weighted by an MLP of the radial basis
→ sum over neighbours / sqrt(avg neighbours) → linear, plus a linear self-connection → optional
FiLM by the fidelity (:class:`FiLM`) → gate nonlinearity → residual sum when shapes allow.
"""

from __future__ import annotations

import math

import torch
from e3nn import nn as enn
from e3nn import o3
from torch import nn

__all__ = ["FiLM", "InteractionBlock", "hidden_irreps"]


def hidden_irreps(channels: int, l_max: int) -> o3.Irreps:
    """``channels`` copies of each l = 0..l_max with parity (−1)^l: 32x0e+32x1o for l_max 1."""
    if l_max not in (0, 1, 2, 3):
        raise ValueError(f"l_max must be 0..3, got {l_max}")
    return o3.Irreps([(channels, (ell, (-1) ** ell)) for ell in range(l_max + 1)])


class FiLM(nn.Module):
    """Feature-wise scale of every channel and shift of scalar channels, from a condition vector.

    ``x (..., irreps.dim)`` and per-condition ``gamma, beta (..., n_channels)`` give
    ``x * (1 + gamma[channel]) + beta[channel] * [channel is 0e]``. Scaling a whole irrep by an
    invariant keeps equivariance; only scalars may be shifted. The generator is a linear map of the
    condition (the fidelity embedding), shared by all conditions.
    """

    channel_of_component: torch.Tensor
    scalar_channel: torch.Tensor

    def __init__(self, irreps: o3.Irreps, condition_dim: int, init_scale: float = 0.1) -> None:
        super().__init__()
        irreps = o3.Irreps(irreps)
        channel_of_component, scalar = [], []
        channel = 0
        for mul, ir in irreps:
            for _ in range(mul):
                channel_of_component += [channel] * ir.dim
                scalar.append(ir.l == 0 and ir.p == 1)
                channel += 1
        self.n_channels = channel
        self.register_buffer("channel_of_component", torch.tensor(channel_of_component))
        self.register_buffer(
            "scalar_channel", torch.tensor(scalar, dtype=torch.get_default_dtype())
        )
        self.generator = nn.Linear(condition_dim, 2 * channel)
        nn.init.normal_(self.generator.weight, std=init_scale / math.sqrt(condition_dim))
        nn.init.zeros_(self.generator.bias)

    def coefficients(
        self, condition: torch.Tensor, *, detach: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma, beta), each (..., n_channels); ``detach`` cuts the generator from the graph."""
        weight: torch.Tensor = self.generator.weight
        bias: torch.Tensor = self.generator.bias
        if detach:
            weight, bias = weight.detach(), bias.detach()
        gamma, beta = torch.nn.functional.linear(condition, weight, bias).chunk(2, dim=-1)
        return gamma, beta * self.scalar_channel

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """x: (L, N, dim); gamma, beta: (L, n_channels), one row per condition."""
        idx = self.channel_of_component
        return x * (1.0 + gamma[:, None, idx]) + beta[:, None, idx]


class _Convolution(nn.Module):
    """Linear → uvu tensor product with edge harmonics and radial weights → scatter → linear."""

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_out: o3.Irreps,
        n_basis: int,
        radial_hidden: int,
        avg_num_neighbours: float,
    ) -> None:
        super().__init__()
        self.linear_in = o3.Linear(irreps_in, irreps_in)
        wanted = {ir for _, ir in irreps_out}
        mid: list[tuple[int, o3.Irrep]] = []
        instructions: list[tuple[int, int, int, str, bool]] = []
        for i, (mul, ir_in) in enumerate(irreps_in):
            for j, (_, ir_sh) in enumerate(irreps_sh):
                for ir in ir_in * ir_sh:
                    if ir in wanted:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir))
        irreps_mid, perm, _ = o3.Irreps(mid).sort()
        instructions = [(i, j, perm[k], mode, w) for i, j, k, mode, w in instructions]
        self.tp = o3.TensorProduct(
            irreps_in,
            irreps_sh,
            irreps_mid,
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.radial = enn.FullyConnectedNet(
            [n_basis, radial_hidden, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
        )
        self.linear_out = o3.Linear(irreps_mid, irreps_out)
        self.norm = 1.0 / math.sqrt(avg_num_neighbours)

    def forward(
        self,
        h: torch.Tensor,
        sh: torch.Tensor,
        radial: torch.Tensor,
        centre: torch.Tensor,
        neighbour: torch.Tensor,
    ) -> torch.Tensor:
        x = self.linear_in(h)
        messages = self.tp(x[neighbour], sh, self.radial(radial))
        summed = torch.zeros(h.shape[0], messages.shape[1], dtype=h.dtype, device=h.device)
        summed = summed.index_add(0, centre, messages)
        return self.linear_out(summed * self.norm)


class InteractionBlock(nn.Module):
    """One message-passing layer; ``conditioned`` blocks take FiLM coefficients per fidelity.

    forward(h (M, irreps_in.dim), sh (E, irreps_sh.dim), radial (E, n_basis), centre, neighbour
    (E,), film=None or (gamma, beta) each (L, n_channels)) -> (M, irreps_out.dim), or
    (L, M, irreps_out.dim) when FiLM is given: one copy of the features per fidelity.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        irreps_sh: o3.Irreps,
        *,
        n_basis: int,
        radial_hidden: int,
        avg_num_neighbours: float,
        condition_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        scalars = o3.Irreps([(mul, ir) for mul, ir in self.irreps_out if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in self.irreps_out if ir.l > 0])
        gates = o3.Irreps([(mul, "0e") for mul, _ in gated])
        silu, sigmoid = torch.nn.functional.silu, torch.sigmoid
        self.gate = enn.Gate(scalars, [silu] * len(scalars), gates, [sigmoid] * len(gates), gated)
        self.conv = _Convolution(
            self.irreps_in,
            irreps_sh,
            self.gate.irreps_in,
            n_basis,
            radial_hidden,
            avg_num_neighbours,
        )
        self.self_connection = o3.Linear(self.irreps_in, self.gate.irreps_in)
        self.film: FiLM | None = FiLM(self.gate.irreps_in, condition_dim) if condition_dim else None
        self.residual = self.irreps_in == self.irreps_out

    @property
    def n_scalars(self) -> int:
        """Number of leading 0e channels of the pre-activation that are features, not gates."""
        return int(self.gate.irreps_scalars.dim)

    def preactivation(
        self,
        h: torch.Tensor,
        sh: torch.Tensor,
        radial: torch.Tensor,
        centre: torch.Tensor,
        neighbour: torch.Tensor,
    ) -> torch.Tensor:
        """(M, gate.irreps_in.dim): convolution plus self-connection, before FiLM and gate."""
        return self.conv(h, sh, radial, centre, neighbour) + self.self_connection(h)

    def activate(
        self,
        h: torch.Tensor,
        z: torch.Tensor,
        film: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Gate (after FiLM when given) and residual sum; h, z: (M, ·) or (L, M, ·)."""
        if film is not None:
            if self.film is None:
                raise RuntimeError("this block was built without a fidelity condition")
            z = self.film(z if z.dim() == 3 else z.unsqueeze(0), *film)
        out = self.gate(z)
        return h + out if self.residual else out
