"""Elemental references μ_i of both stand-in levels for the perov_standin data set.

STAND-IN: the μ_i are SevenNet-MF-0 energies (modal PBE -> GGA+U@SevenNet-MF-0, modal R2SCAN ->
r2SCAN@SevenNet-MF-0) of the elemental reference crystals, computed with the same oracles that
labelled the data set (DESIGN.md §3), not DFT.

Run from the repository root:  OMP_NUM_THREADS=1 python data/perov_standin/references.py
Writes data/perov_standin/references.json: {level: ElementalReferences.to_dict()}, and its
sha256 in references.json.sha256.
Structures: qaware.thermo.references built-ins (kind="periodic") plus
qaware.datasets.recipes.perov5.reference_overrides() for Mn, Ga, In, Tl, Hg, Te, B, S, As, Sb, Bi.
"""

from __future__ import annotations

import json
from pathlib import Path

import ase.io

from qaware._canonical import file_sha256
from qaware.datasets.recipes.perov5 import reference_overrides
from qaware.oracles.pretrained import PretrainedOracle
from qaware.thermo.references import compute_references

HERE = Path(__file__).resolve().parent


def main() -> None:
    frames = ase.io.read(HERE / "perov_standin.extxyz.gz", index=":")
    elements = sorted({s for atoms in frames for s in atoms.get_chemical_symbols()})
    overrides = reference_overrides()
    out = {}
    for modal in ("PBE", "R2SCAN"):
        oracle = PretrainedOracle("SevenNet-MF-0", modal=modal, threads=1)
        refs = compute_references(oracle, elements, kind="periodic", overrides=overrides)
        out[refs.level] = refs.to_dict()
        print(refs.level, len(refs.elements), "elements")
    path = HERE / "references.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    digest = file_sha256(path)
    (HERE / "references.json.sha256").write_text(f"{digest}  references.json\n")
    print("wrote", path, digest)


if __name__ == "__main__":
    main()
