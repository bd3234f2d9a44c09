"""Electronic-structure descriptors q = [DOS, gap, ELF histogram, response] (DESIGN.md §4).

The generator is conditioned on q and the descriptor proxy learns to predict it, so q must mean
the same thing for a molecule (PySCF) and a crystal (GPAW):

========== ================= ============================================================
key        shape             meaning
========== ================= ============================================================
``dos``    (100,)            Gaussian-smeared DOS, states/eV/atom, 0.2 eV bins on [−10, 10] eV
                             around the reference (Fermi level or gap midpoint)
``gap``    (1,)              fundamental (Kohn–Sham) gap, eV; 0 for metals
``elf``    (20,)             density-weighted ELF histogram on [0, 1], sums to 1
``response`` (1,)            isotropic static polarisability per atom, Å^3
========== ================= ============================================================

:func:`descriptor_vector` concatenates them in the order DOS, gap, ELF, response;
:func:`descriptor_layout` gives each block's slice. Oracles store the dict (keys above) in
``OracleResult.descriptors``. Importing this package loads neither PySCF nor GPAW.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from qaware.descriptors.dos import (
    DEFAULT_DOS_BINS,
    DEFAULT_DOS_SIGMA_EV,
    band_edges,
    band_gap,
    dos_vector,
    is_metal,
    reference_energy,
)
from qaware.descriptors.elf import DEFAULT_ELF_BINS, elf_from_spin_densities, elf_histogram
from qaware.descriptors.from_gpaw import periodic_descriptors
from qaware.descriptors.from_pyscf import molecular_descriptors
from qaware.descriptors.response import (
    AU_POLARISABILITY_A3,
    clausius_mossotti_polarisability,
    finite_field_polarisability,
    isotropic_polarisability,
    lorentz_dielectric_constant,
    polarisability_from_dipoles,
)

_PROXY_NAMES: Final[tuple[str, ...]] = ("DescriptorProxy", "ProxyConfig", "r2_score")


def __getattr__(name: str) -> object:
    """The proxy network loads torch: import it on first use only."""
    if name in _PROXY_NAMES:
        from qaware.descriptors import proxy

        return getattr(proxy, name)
    raise AttributeError(f"module 'qaware.descriptors' has no attribute {name!r}")


__all__ = [
    "AU_POLARISABILITY_A3",
    "DEFAULT_DOS_BINS",
    "DEFAULT_DOS_SIGMA_EV",
    "DEFAULT_ELF_BINS",
    "DESCRIPTOR_KEYS",
    "DOS",
    "ELF",
    "GAP",
    "RESPONSE",
    "DescriptorProxy",
    "ProxyConfig",
    "band_edges",
    "band_gap",
    "clausius_mossotti_polarisability",
    "descriptor_layout",
    "descriptor_vector",
    "descriptor_vector_from_dict",
    "dos_vector",
    "elf_from_spin_densities",
    "elf_histogram",
    "finite_field_polarisability",
    "is_metal",
    "isotropic_polarisability",
    "lorentz_dielectric_constant",
    "molecular_descriptors",
    "periodic_descriptors",
    "polarisability_from_dipoles",
    "r2_score",
    "reference_energy",
]

DOS: Final[str] = "dos"  # (n_dos,) states/eV/atom
GAP: Final[str] = "gap"  # (1,) eV
ELF: Final[str] = "elf"  # (n_elf,) fractions summing to 1
RESPONSE: Final[str] = "response"  # (1,) Å^3 per atom
DESCRIPTOR_KEYS: Final[tuple[str, ...]] = (DOS, GAP, ELF, RESPONSE)
"""Keys in the order of the concatenated vector."""


def descriptor_layout(n_dos: int = 100, n_elf: int = DEFAULT_ELF_BINS) -> dict[str, slice]:
    """Slice of each block in :func:`descriptor_vector`'s output: dos, gap, elf, response."""
    return {
        DOS: slice(0, n_dos),
        GAP: slice(n_dos, n_dos + 1),
        ELF: slice(n_dos + 1, n_dos + 1 + n_elf),
        RESPONSE: slice(n_dos + 1 + n_elf, n_dos + 2 + n_elf),
    }


def descriptor_vector(
    dos: np.ndarray, gap: float, elf_hist: np.ndarray, response: float
) -> np.ndarray:
    """Concatenate q = [dos (n_dos,), gap (1,), elf_hist (n_elf,), response (1,)] -> 1-D float."""
    parts = [
        np.asarray(dos, dtype=float).ravel(),
        np.asarray([gap], dtype=float).ravel(),
        np.asarray(elf_hist, dtype=float).ravel(),
        np.asarray([response], dtype=float).ravel(),
    ]
    if parts[1].size != 1 or parts[3].size != 1:
        raise ValueError("gap and response must be scalars (one value each)")
    return np.concatenate(parts)


def descriptor_vector_from_dict(descriptors: Mapping[str, np.ndarray]) -> np.ndarray:
    """:func:`descriptor_vector` of an oracle's ``descriptors`` dict (:data:`DESCRIPTOR_KEYS`)."""
    missing = [k for k in DESCRIPTOR_KEYS if k not in descriptors]
    if missing:
        raise KeyError(f"descriptors: missing key(s) {missing}; have {sorted(descriptors)}")
    return descriptor_vector(
        descriptors[DOS],
        float(np.asarray(descriptors[GAP]).ravel()[0]),
        descriptors[ELF],
        float(np.asarray(descriptors[RESPONSE]).ravel()[0]),
    )
