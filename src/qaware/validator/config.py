"""The architecture of an MF-ENNP model as one frozen, serialisable object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from qaware.errors import ConfigError

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the shape of the network (weights and fitted buffers aside).

    levels:               fidelity names, lowest first (the ladder's order; the last is the top).
    species:              element symbols the model knows, in embedding order.
    cutoff:               Å, neighbour cutoff r_c.          n_basis / envelope_p: radial basis.
    l_max:                1 (default) or 2: highest rotation order of the features.
    channels:             multiplicity of each irrep of the hidden features.
    n_layers:             interaction blocks.               radial_hidden: radial MLP width.
    n_conditioned_blocks: the last k blocks whose self-interaction is FiLM-modulated by the
                          fidelity; blocks after the first conditioned one run once per level,
                          so k = 1 (default) conditions only node-wise operations and costs little.
    fidelity_dim:         size of the learned per-level embedding vector.
    readout_hidden:       width of the scalar readout (shared linear, then FiLM by the fidelity).
    n_heads:              K readout heads per level (ensemble for the uncertainty).
    head_hidden:          hidden width of each head's MLP.
    gradient_stopping:    levels below the top see detached fidelity-conditioning weights (the
                          FiLM generators), so lower-level losses move only the backbone and their
                          own embedding and heads, never anything the top level depends on beyond
                          the backbone (see :mod:`qaware.validator.model`).
    residual_levels:      Δ-learning (default): each level above the lowest predicts a
                          correction to the level below it (E_f = E_{f−1} + ΔE_f) instead of its
                          energy, so a sparsely labelled top level learns only the (small,
                          smooth) difference and uses what the lower levels learned; the
                          predicted divergence D is then what the upper heads learn
                          (``benchmarks/validator_sparse_top.py``, ``validator_track_m.py``).
                          False: independent heads per level. A checkpoint saved before the
                          option existed loads as False, which is what it was trained as.
    avg_num_neighbours:   message normalisation; set from the training data before training.
    seed:                 weight initialisation.
    """

    levels: tuple[str, ...]
    species: tuple[str, ...]
    cutoff: float = 5.0
    n_basis: int = 8
    envelope_p: int = 6
    l_max: int = 1
    channels: int = 32
    n_layers: int = 3
    radial_hidden: int = 64
    n_conditioned_blocks: int = 1
    fidelity_dim: int = 16
    readout_hidden: int = 32
    n_heads: int = 4
    head_hidden: int = 16
    gradient_stopping: bool = True
    residual_levels: bool = True
    avg_num_neighbours: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(str(x) for x in self.levels))
        object.__setattr__(self, "species", tuple(str(x) for x in self.species))
        if not self.levels or len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"validator.levels: need distinct level names, got {self.levels}")
        if not self.species or len(set(self.species)) != len(self.species):
            raise ConfigError(f"validator.species: need distinct elements, got {self.species}")
        checks = {
            "cutoff": self.cutoff > 0,
            "n_basis": self.n_basis >= 1,
            "envelope_p": self.envelope_p >= 2,
            "l_max": self.l_max in (0, 1, 2),
            "channels": self.channels >= 1,
            "n_layers": self.n_layers >= 1,
            "n_conditioned_blocks": 0 <= self.n_conditioned_blocks <= self.n_layers,
            "n_heads": self.n_heads >= 1,
            "avg_num_neighbours": self.avg_num_neighbours > 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"validator.{key}: invalid value {getattr(self, key)!r}")

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"], d["species"] = list(self.levels), list(self.species)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"validator: unknown keys {unknown}")
        values: dict[str, Any] = {
            k: (tuple(v) if k in ("levels", "species") else v) for k, v in d.items()
        }
        values.setdefault("residual_levels", False)  # saved before Δ-learning: independent heads
        return cls(**values)
