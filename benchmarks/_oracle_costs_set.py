"""The fixed set of benchmarks/oracle_costs.py: its structures and their sources, its levels, and
the oracle that computes each (out of oracle_costs.py, so each file keeps to one concept)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ase import Atoms
from ase.build import bulk

from qaware.datasets.recipes.track_m import DIATOMIC_REFERENCES, MONOXIDE_BOND
from qaware.oracles.gates import GateSettings

METALS: Final = ("Fe", "Ni", "Cu", "Mn", "Ti", "V", "Cr", "Zn", "Mg")
DIATOMIC_R_E: Final = {f"{m}O": MONOXIDE_BOND[m] for m in METALS if m != "Mg"} | {
    "MgO": DIATOMIC_REFERENCES["MgO"]
}
"""Experimental r_e (Å): Huber & Herzberg (1979), Merer (1989), ZnO from its microwave spectrum
(the table of qaware.datasets.recipes.track_m, so these are Track M's r_e points)."""
TIO2_GEOMETRY: Final = (1.651, 111.57)
"""Ti–O (Å) and O–Ti–O (degrees) of TiO2, r0 from its rotational spectrum (Brünken et al.,
ApJ 676, 1367 (2008))."""
MG2O2_GEOMETRY: Final = (1.905, 99.7)
"""Mg–O (Å) and O–Mg–O (degrees) of the planar D2h Mg2O2 rhombus at its PBE/def2-SVP (singlet)
minimum, found here with ASE's BFGS on the PySCF oracle's forces (fmax < 0.001 eV/Å, from
1.87 Å / 96°; Mg···Mg 2.455 Å, O···O 2.913 Å). No experimental structure exists."""
LATTICE: Final = {"Si": 5.431, "MgO": 4.212, "NiO": 4.177, "SrTiO3": 3.905, "SrFeO3": 3.851}
"""Experimental room-temperature lattice constants (Å): Si, MgO, NiO (rocksalt, ignoring the
small rhombohedral distortion of AFM NiO), cubic SrTiO3, cubic SrFeO3 (MacChesney et al.,
J. Chem. Phys. 43, 1907 (1965))."""
MOLECULAR_LEVELS: Final = ("PBE", "r2SCAN", "HSE06", "CCSD(T)")
CRYSTAL_LEVELS: Final = ("PBE", "PBE+U", "HSE06")
BASIS: Final = "def2-SVP"


@dataclass(frozen=True)
class System:
    """One structure of the set; ``kind`` in atom, diatomic, molecule, cluster, crystal."""

    name: str
    kind: str
    build: Callable[[], Atoms]
    geometry: str

    @property
    def periodic(self) -> bool:
        return self.kind == "crystal"


def _diatomic(formula: str, r: float) -> Atoms:
    return Atoms(formula, positions=[[0, 0, 0], [0, 0, r]])


def _bent(metal: str, r: float, angle_deg: float) -> Atoms:
    """O–M–O with M–O = ``r`` Å and the angle at M, in the xy plane, M at the origin."""
    h = math.radians(angle_deg) / 2
    pos = [[0, 0, 0], [r * math.sin(h), r * math.cos(h), 0], [-r * math.sin(h), r * math.cos(h), 0]]
    return Atoms(f"{metal}O2", positions=pos)


def _rhombus(metal: str, r: float, o_m_o_deg: float) -> Atoms:
    """Planar M2O2 with M–O = ``r`` Å and the O–M–O angle at each metal (metals on x)."""
    h = math.radians(o_m_o_deg) / 2
    x, y = r * math.cos(h), r * math.sin(h)
    return Atoms(f"{metal}2O2", positions=[[x, 0, 0], [-x, 0, 0], [0, y, 0], [0, -y, 0]])


def _perovskite(a_site: str, b_site: str, a: float) -> Atoms:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms(f"{a_site}{b_site}O3", scaled_positions=frac, cell=np.eye(3) * a, pbc=True)


def systems() -> dict[str, System]:
    """Every structure of the benchmark by name (atoms named by their symbol)."""
    out: dict[str, System] = {}
    for el in (*METALS, "O"):
        out[el] = System(el, "atom", lambda el=el: Atoms(el), "isolated atom")
    for name, r in DIATOMIC_R_E.items():
        out[name] = System(name, "diatomic", lambda n=name, r=r: _diatomic(n, r),
                           f"experimental r_e {r} Å")  # fmt: skip
    out["TiO2"] = System("TiO2", "molecule", lambda: _bent("Ti", *TIO2_GEOMETRY),
                         "Ti-O {} Å, O-Ti-O {} deg (exp. r0)".format(*TIO2_GEOMETRY))  # fmt: skip
    out["Mg2O2"] = System(
        "Mg2O2",
        "cluster",
        lambda: _rhombus("Mg", *MG2O2_GEOMETRY),
        "D2h rhombus Mg-O {} Å, O-Mg-O {} deg".format(*MG2O2_GEOMETRY),
    )

    def crystal(name: str, build: Callable[[], Atoms], what: str) -> None:
        a = LATTICE[name.removesuffix("(s)")]
        out[name] = System(name, "crystal", build, f"{what}, a = {a} Å (exp.)")

    crystal("Si", lambda: bulk("Si", "diamond", a=LATTICE["Si"]), "diamond, 2-atom cell")
    for n in ("MgO", "NiO"):
        crystal(f"{n}(s)", lambda n=n: bulk(n, "rocksalt", a=LATTICE[n]), "rocksalt, 2-atom cell")
    for n in ("SrTiO3", "SrFeO3"):
        crystal(n, lambda n=n: _perovskite("Sr", n[2:4], LATTICE[n]), "cubic Pm-3m, 5 atoms")
    return out


def make_oracle(system: System, level: str) -> Any:
    """The oracle spec of ``level`` for ``system`` (PySCF for molecules, GPAW for crystals)."""
    if system.periodic:
        from qaware.oracles.gpaw_periodic import GPAWOracle

        return GPAWOracle(xc=level, threads=1)  # type: ignore[arg-type]
    from qaware.oracles.pyscf_molecular import PySCFOracle

    gates = GateSettings() if level == "CCSD(T)" else GateSettings(s2_tolerance=None)
    return PySCFOracle(method=level, basis=BASIS, level_name=f"{level}/{BASIS}", num_threads=1,  # type: ignore[arg-type]
                       max_memory_mb=6000 if level == "CCSD(T)" else 3000, gates=gates)  # fmt: skip
