"""Descriptor proxy: a small invariant graph network that predicts q from a structure (DESIGN §4).

The campaign describes candidates and targets by q = [DOS, gap, ELF, response] (122 values,
:func:`qaware.descriptors.descriptor_vector`); computing q takes a DFT run, so a proxy trained on
oracle-computed q predicts it in about a millisecond per crystal.

Model (pure PyTorch): atoms are nodes with a learned embedding of the atomic number plus, by
default, a linear map of the element's tabulated properties (:mod:`qaware.element_properties`,
standardised over Z = 1-100: with a few hundred labelled crystals over ~50 elements a learned
embedding alone cannot tell how an element it saw twice behaves, the table can); edges are
every neighbour within ``cutoff`` over periodic images (ASE neighbour list), with a Gaussian
radial basis of the distance times a smooth cosine cutoff; ``layers`` rounds of
continuous-filter convolution (SchNet-like) with residual updates; the per-atom states are
averaged and an MLP gives the standardised q. Only distances and species enter, so the output is
invariant to rotation, translation, permutation and the choice of unit cell (a supercell gives
the same q: every block of q is intensive, per atom or a normalised histogram).

Targets are standardised per component on the training set (constant components get scale 1).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from ase import Atoms
from torch import nn

from qaware.errors import ConfigError

__all__ = ["FORMAT", "DescriptorProxy", "ProxyConfig", "r2_score"]

FORMAT: Final[str] = "qaware-descriptor-proxy/1"
_MAX_Z: Final[int] = 100


@dataclass(frozen=True)
class ProxyConfig:
    """Network size and training settings (saved with the weights)."""

    hidden: int = 64
    layers: int = 3
    n_rbf: int = 32
    cutoff: float = 5.0
    epochs: int = 400
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-5
    element_features: bool = True


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination pooled over all components: 1 − Σ(y−ŷ)² / Σ(y−ȳ)², with ȳ
    the per-component mean of ``y_true``; y: (n, d). Components with no variance add nothing
    to the denominator (a constant that is predicted wrongly still costs)."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    ss_res = float(((y - p) ** 2).sum())
    ss_tot = float(((y - y.mean(0)) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


@dataclass
class _Graph:
    """A batch of structures: z (A,), src/dst (E,), dist (E,) Å, owner (A,), n (B,)."""

    z: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    dist: torch.Tensor
    owner: torch.Tensor
    n: int


def _neighbours(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, d): every pair i ← j (j over periodic images, not i itself) closer than
    ``cutoff`` Å; all images within the cutoff are enumerated (vectorised, small cells)."""
    pos = atoms.get_positions()
    cell = np.asarray(atoms.get_cell(), dtype=float)
    pbc = atoms.get_pbc()
    reps = np.zeros(3, dtype=int)
    if pbc.any():
        # images needed along a: cutoff / (spacing of the planes of b and c) + 1
        recip = np.linalg.pinv(cell).T
        reps = np.where(pbc, np.ceil(cutoff * np.linalg.norm(recip, axis=1)).astype(int) + 1, 0)
    ranges = [np.arange(-r, r + 1) for r in reps]
    shifts = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3) @ cell  # (S, 3)
    diff = pos[None, :, None, :] + shifts[None, None, :, :] - pos[:, None, None, :]
    dist = np.linalg.norm(diff, axis=-1)  # (i, j, S)
    mask = (dist < cutoff) & (dist > 1e-8)
    i, j, s = np.nonzero(mask)
    return i, j, dist[i, j, s]


def _graph(structures: Sequence[Atoms], cutoff: float) -> _Graph:
    zs, srcs, dsts, dists, owners = [], [], [], [], []
    offset = 0
    for b, atoms in enumerate(structures):
        z = atoms.get_atomic_numbers()
        if len(z) == 0 or z.max() > _MAX_Z:
            raise ConfigError(f"structure {b}: empty or element beyond Z={_MAX_Z}")
        i, j, d = _neighbours(atoms, cutoff)
        zs.append(z)
        srcs.append(j + offset)
        dsts.append(i + offset)
        dists.append(d)
        owners.append(np.full(len(z), b))
        offset += len(z)
    return _Graph(
        torch.from_numpy(np.concatenate(zs)).long(),
        torch.from_numpy(np.concatenate(srcs)).long(),
        torch.from_numpy(np.concatenate(dsts)).long(),
        torch.from_numpy(np.concatenate(dists)).float(),
        torch.from_numpy(np.concatenate(owners)).long(),
        len(structures),
    )


def _element_table() -> torch.Tensor:
    """(_MAX_Z + 1, n_properties) element properties, each column standardised over Z = 1-100
    (row 0 unused). A buffer, so a saved proxy keeps the table it was trained with."""
    from ase.data import chemical_symbols

    from qaware.element_properties import element_properties

    rows = np.stack([element_properties(chemical_symbols[z]) for z in range(1, _MAX_Z + 1)])
    rows = (rows - rows.mean(0)) / np.where(rows.std(0) > 0, rows.std(0), 1.0)
    return torch.from_numpy(np.vstack([np.zeros(rows.shape[1]), rows])).float()


class _Interaction(nn.Module):
    def __init__(self, hidden: int, n_rbf: int) -> None:
        super().__init__()
        self.filter = nn.Sequential(nn.Linear(n_rbf, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, g: _Graph, rbf: torch.Tensor) -> torch.Tensor:
        messages = self.inp(h)[g.src] * self.filter(rbf)
        agg = torch.zeros_like(h).index_add_(0, g.dst, messages)
        return h + self.out(agg)


class DescriptorProxy(nn.Module):
    """Predicts q (``out_dim`` values) from a crystal; see the module docstring."""

    def __init__(self, out_dim: int, config: ProxyConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ProxyConfig()
        self.out_dim = out_dim
        self.embed = nn.Embedding(_MAX_Z + 1, cfg.hidden)
        self.element_table: torch.Tensor
        if cfg.element_features:
            self.register_buffer("element_table", _element_table())
            self.element_in = nn.Linear(self.element_table.shape[1], cfg.hidden)
        self.interactions = nn.ModuleList(
            _Interaction(cfg.hidden, cfg.n_rbf) for _ in range(cfg.layers)
        )
        self.head = nn.Sequential(
            nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, out_dim)
        )
        self.register_buffer("centres", torch.linspace(0.0, cfg.cutoff, cfg.n_rbf))
        self.register_buffer("q_mean", torch.zeros(out_dim))
        self.register_buffer("q_std", torch.ones(out_dim))
        self.centres: torch.Tensor
        self.q_mean: torch.Tensor
        self.q_std: torch.Tensor
        self.meta: dict[str, Any] = {}

    def _forward(self, g: _Graph) -> torch.Tensor:
        """Standardised q, (B, out_dim)."""
        cfg = self.config
        width = cfg.cutoff / cfg.n_rbf
        envelope = 0.5 * (torch.cos(math.pi * g.dist / cfg.cutoff) + 1.0)
        rbf = torch.exp(-(((g.dist[:, None] - self.centres) / width) ** 2)) * envelope[:, None]
        h = self.embed(g.z)
        if cfg.element_features:
            h = h + self.element_in(self.element_table[g.z])
        for layer in self.interactions:
            h = layer(h, g, rbf)
        pooled = torch.zeros(g.n, h.shape[1]).index_add_(0, g.owner, h)
        counts = torch.bincount(g.owner, minlength=g.n).clamp(min=1).unsqueeze(-1)
        return self.head(pooled / counts)

    def predict(self, structures: Sequence[Atoms], *, batch_size: int = 256) -> np.ndarray:
        """q of each structure, (n, out_dim), in the units of the training targets."""
        self.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(structures), batch_size):
                g = _graph(structures[start : start + batch_size], self.config.cutoff)
                out.append(self._forward(g) * self.q_std + self.q_mean)
        if not out:
            return np.zeros((0, self.out_dim))
        return torch.cat(out).double().numpy()

    @classmethod
    def fit(
        cls,
        structures: Sequence[Atoms],
        q: np.ndarray,
        *,
        config: ProxyConfig | None = None,
        seed: int = 0,
        progress: bool = False,
        weights: np.ndarray | None = None,
    ) -> DescriptorProxy:
        """Train a proxy on ``structures`` with targets ``q`` (n, d); seeded (Adam, MSE on the
        standardised targets, cosine learning-rate decay over ``config.epochs``).

        weights: (d,) non-negative loss weight per component (default: all 1). q's blocks differ
                 in size (DOS 100 values, gap 1), so equal weights spend the network on the DOS;
                 ``1 / block size`` gives every block the same say.
        """
        cfg = config or ProxyConfig()
        y = np.asarray(q, dtype=float)
        if y.ndim != 2 or len(y) != len(structures) or len(y) == 0:
            raise ConfigError(f"q: expected shape ({len(structures)}, d), got {y.shape}")
        if not np.all(np.isfinite(y)):
            bad = int(np.argwhere(~np.isfinite(y))[0, 0])
            raise ConfigError(f"q: row {bad} has a non-finite value")
        w = np.ones(y.shape[1]) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (y.shape[1],) or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() == 0:
            raise ConfigError(f"weights: expected {y.shape[1]} finite values >= 0, not all 0")
        w_t = torch.tensor(w / w.mean(), dtype=torch.float32)
        torch.manual_seed(seed)
        model = cls(y.shape[1], cfg)
        target = torch.tensor(y, dtype=torch.float32)
        model.q_mean.copy_(target.mean(0))
        std = target.std(0, unbiased=False)
        model.q_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        target = (target - model.q_mean) / model.q_std
        graphs = [
            _graph(structures[i : i + cfg.batch_size], cfg.cutoff)
            for i in range(0, len(structures), cfg.batch_size)
        ]
        # one graph per fixed chunk: cheap epochs; the order of the chunks is shuffled
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, cfg.epochs))
        gen = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        model.train()
        for epoch in range(cfg.epochs):
            total = 0.0
            for c in torch.randperm(len(graphs), generator=gen).tolist():
                part = target[c * cfg.batch_size : (c + 1) * cfg.batch_size]
                loss = (w_t * (model._forward(graphs[c]) - part) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(part)
            schedule.step()
            if progress and (epoch % 50 == 0 or epoch == cfg.epochs - 1):
                print(f"epoch {epoch}: loss {total / len(y):.4f}", flush=True)
        model.eval()
        model.meta = {"n_train": len(y), "seed": seed, "fit_seconds": time.perf_counter() - t0}
        return model

    def save(self, path: str | Path) -> str:
        """Write weights + config + target scale to ``path``; returns its sha256."""
        from qaware._canonical import file_sha256

        payload = {
            "format": FORMAT,
            "out_dim": self.out_dim,
            "config": asdict(self.config),
            "state_dict": self.state_dict(),
            "meta": json.dumps(self.meta),
        }
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)
        return file_sha256(path)

    @classmethod
    def load(cls, path: str | Path, *, sha256: str | None = None) -> DescriptorProxy:
        """Read a proxy written by :meth:`save`; with ``sha256`` the file must match it."""
        from qaware._canonical import file_sha256
        from qaware._torch_io import load_payload

        path = Path(path)
        try:
            if sha256 is not None and file_sha256(path) != sha256:
                raise ConfigError(f"{path}: sha256 differs from the expected {sha256}")
            payload = load_payload(path, "descriptor proxy")
        except OSError as exc:  # the sha256 check reads the file first
            raise ConfigError(f"{path}: cannot read descriptor proxy ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ConfigError(f"{path}: not a {FORMAT} file")
        config = {"element_features": False, **payload["config"]}  # saved before the option
        model = cls(int(payload["out_dim"]), ProxyConfig(**config))
        model.load_state_dict(payload["state_dict"])
        model.meta = json.loads(payload["meta"])
        model.eval()
        return model
