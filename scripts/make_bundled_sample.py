"""Rebuild src/qaware/data/perov5_3d_oxides.csv from the perov-5 validation split.

Usage: python scripts/make_bundled_sample.py [--source ../shared/data/perov_5/val.csv] [--rows 240]
Keeps the first N rows (file order) whose formula contains a 3d transition metal and oxygen.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

THREE_D = {"Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn"}
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared/data/perov_5/val.csv")
    parser.add_argument("--rows", type=int, default=240)
    parser.add_argument("--out", type=Path, default=ROOT / "src/qaware/data/perov5_3d_oxides.csv")
    args = parser.parse_args()
    with args.source.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    col = header.index("formula")
    keep = []
    for row in body:
        elements = set(re.findall(r"[A-Z][a-z]?", row[col]))
        if elements & THREE_D and "O" in elements:
            keep.append(row)
    with args.out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(keep[: args.rows])
    print(f"wrote {min(len(keep), args.rows)} of {len(keep)} matching rows to {args.out}")


if __name__ == "__main__":
    main()
