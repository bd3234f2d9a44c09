"""``QawareCalculator``: an MF-ENNP model as an ASE calculator at one fidelity.

Besides the standard ``energy``, ``free_energy`` (the same number: the model has no electronic
entropy), ``forces`` and ``stress`` (fully periodic structures only; Voigt order xx, yy, zz, yz,
xz, xy, eV/Å³), it reports ``energy_std`` (eV, calibrated head spread of the total energy at the
chosen level), ``energies_by_fidelity`` ({level: eV}) and, when elemental references are given,
``divergence``: ``D_signed = e_form(low) − e_form(top)`` in eV/atom (DESIGN.md §3; positive where
the top level finds the structure more stable than the low one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from qaware.errors import ConfigError
from qaware.thermo.formation import formation_energy_per_atom
from qaware.thermo.references import ElementalReferences
from qaware.validator.graph import batch_graph
from qaware.validator.model import MFENNP

__all__ = ["QawareCalculator"]


class QawareCalculator(Calculator):
    """ASE calculator of ``model`` at level ``fidelity`` (default: the top level).

    references: level -> ElementalReferences of the same level, needed for ``divergence``.
    low:        the low level of the divergence (default: the lowest level).
    """

    implemented_properties = [  # noqa: RUF012  (ASE declares it as a plain class attribute)
        "energy",
        "free_energy",
        "forces",
        "stress",
        "energy_std",
        "energies_by_fidelity",
        "divergence",
    ]

    def __init__(
        self,
        model: MFENNP,
        fidelity: str | None = None,
        *,
        references: Mapping[str, ElementalReferences] | None = None,
        low: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model.eval()
        levels = model.config.levels
        self.fidelity = levels[-1] if fidelity is None else fidelity
        self.low = levels[0] if low is None else low
        for name, value in (("fidelity", self.fidelity), ("low", self.low)):
            if value not in levels:
                raise ConfigError(f"QawareCalculator {name}={value!r}: not a level of {levels}")
        self.references = dict(references or {})

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | tuple[str, ...] = ("energy",),
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        assert atoms is not None
        model, levels = self.model, self.model.config.levels
        level = levels.index(self.fidelity)
        periodic = bool(np.all(atoms.pbc))
        graph = batch_graph(
            [atoms], model.config.cutoff, model.config.species, model.dtype, model.device
        )
        out = model.compute(graph, level=level, forces=True, stress=periodic, create_graph=False)
        energies = out.energy[0].detach().double().cpu().numpy()
        assert out.forces is not None
        self.results = {
            "energy": float(energies[level]),
            "free_energy": float(energies[level]),
            "forces": out.forces.detach().double().cpu().numpy(),
            "energy_std": float(out.energy_std[0, level].detach()),
            "energies_by_fidelity": {
                name: float(e) for name, e in zip(levels, energies, strict=True)
            },
        }
        if periodic and out.stress is not None:
            s = out.stress[0].detach().double().cpu().numpy()
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
        if self.low in self.references and levels[-1] in self.references:
            counts: dict[str, int] = {}
            for symbol in atoms.get_chemical_symbols():
                counts[symbol] = counts.get(symbol, 0) + 1
            e_form = {
                name: formation_energy_per_atom(
                    float(energies[levels.index(name)]), counts, self.references[name], level=name
                )
                for name in (self.low, levels[-1])
            }
            self.results["divergence"] = e_form[self.low] - e_form[levels[-1]]
