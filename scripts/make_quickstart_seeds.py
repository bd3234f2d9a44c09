"""Write src/qaware/data/quickstart_seeds.extxyz: every perov-5 cell (CDVAE val + test splits,
MIT licence) whose elements all lie in the quick start's element set — the known perovskites
that seed the quick start's hull and that its discoveries must differ from.

    python scripts/make_quickstart_seeds.py [--perov5 ../shared/data/perov_5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ase.io
import yaml

from qaware.structures.io import read_structures

DATA = Path(__file__).resolve().parents[1] / "src" / "qaware" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--perov5", type=Path, default=DATA.parents[2].parent / "shared/data/perov_5"
    )
    args = parser.parse_args()
    config = yaml.safe_load((DATA / "quickstart.yaml").read_text())
    allowed = set(config["generator"]["elements"])
    rows = [a for split in ("val", "test") for a in read_structures(args.perov5 / f"{split}.csv")]
    keep = [a for a in rows if set(a.get_chemical_symbols()) <= allowed]
    for atoms in keep:
        atoms.info = {k: v for k, v in atoms.info.items() if k in ("material_id", "formula")}
    ase.io.write(DATA / "quickstart_seeds.extxyz", keep, format="extxyz")
    print(f"{len(keep)} of {len(rows)} bundled structures -> {DATA / 'quickstart_seeds.extxyz'}")


if __name__ == "__main__":
    main()
