"""How high can a k = 1 CSP match rate on perov-5 go? Counting its two-structure compositions.

    python benchmarks/csp_ceiling.py            # ~1 min on one core

Crystal structure prediction is asked a composition and scored on one structure. On perov-5 a
composition mostly has *two* different structures in the data set (Castelli's ABX3 set holds
both cation orders, and for mixed anions several anion orders), and the random CDVAE split puts
them on different sides or the same side at random (Martirossyan et al., arXiv:2509.12178). A
predictor that sees only the composition cannot tell which of the two the test split holds; at
k = 1 it is right half the time on those compositions at best.

This measures that from the two splits we have (train.csv is missing, ../shared/data/README.md):

* for every test crystal, is its composition in val, and does any val crystal of that
  composition match it (StructureMatcher, CSP tolerances ltol 0.3, stol 0.5, angle_tol 10)?
* the same within test (compositions occurring twice in test);
* φ, the share of compositions that have a second, different structure in the full data set:
  if a composition's other structure lands in a split in proportion to its size,
  P(other in val | crystal in test) = φ · n_val / (N − 1), so φ = that rate · (N − 1) / n_val
  (N = 18,928, the upstream README's count); the test-within-test rate gives a second estimate;
* the ceiling of a composition-only predictor at k = 1: (1 − φ) + φ / 2 = 1 − φ / 2 (each of the
  two structures equally likely to be the one scored; it is an upper bound: the structure must
  still be generated well enough to match).

Writes benchmarks/results/csp_ceiling.json with provenance.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder

PEROV = Path(__file__).resolve().parents[2] / "shared" / "data" / "perov_5"
N_TOTAL = 18928
"""perov-5's size (README.upstream.md: all 18,928 materials of the original database)."""


def load(path: Path) -> list:
    """pymatgen Structures of a CDVAE csv, in file order."""
    import pandas as pd
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(cif, fmt="cif") for cif in pd.read_csv(path)["cif"]]


def by_composition(structures: list) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for s in structures:
        out[s.composition.reduced_formula].append(s)
    return out


def pair_statistics(test: list, val: list) -> dict[str, Any]:
    """Counts of test crystals whose composition recurs in val / in test, and how many of those
    recurrences are the *same* structure."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sm = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10.0)

    def same(a, b) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(sm.fit(a, b))

    in_val, matched_val = 0, 0
    val_groups = by_composition(val)
    for s in test:
        partners = val_groups.get(s.composition.reduced_formula, [])
        if partners:
            in_val += 1
            matched_val += any(same(s, p) for p in partners)
    test_groups = by_composition(test)
    multiplicity: dict[int, int] = defaultdict(int)
    in_test, matched_test = 0, 0
    for group in test_groups.values():
        multiplicity[len(group)] += 1
        if len(group) > 1:
            in_test += len(group)
            matched_test += sum(same(a, b) for i, a in enumerate(group) for b in group[i + 1 :])
    return {
        "n_test": len(test),
        "n_val": len(val),
        "test_with_composition_in_val": in_val,
        "of_those_matching_a_val_crystal": matched_val,
        "test_with_composition_twice_in_test": in_test,
        "test_pairs_matching_each_other": matched_test,
        "test_compositions_by_multiplicity": dict(sorted(multiplicity.items())),
    }


def ceiling(stats: dict[str, Any], n_total: int = N_TOTAL) -> dict[str, Any]:
    """φ from both recurrence rates and the k = 1 ceiling 1 − φ/2 of each."""
    n_test, n_val = stats["n_test"], stats["n_val"]
    rate_val = stats["test_with_composition_in_val"] / n_test
    rate_test = stats["test_with_composition_twice_in_test"] / n_test
    phi_val = rate_val * (n_total - 1) / n_val
    phi_test = rate_test * (n_total - 1) / (n_test - 1)
    return {
        "rate_other_structure_in_val": rate_val,
        "rate_other_structure_in_test": rate_test,
        "phi_share_with_two_structures_from_val": phi_val,
        "phi_share_with_two_structures_from_test": phi_test,
        "k1_ceiling_composition_only_from_val": 1 - min(phi_val, 1.0) / 2,
        "k1_ceiling_composition_only_from_test": 1 - min(phi_test, 1.0) / 2,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=PEROV)
    parser.add_argument("--out", type=Path, default=RESULTS / "csp_ceiling.json")
    args = parser.parse_args(argv)
    val_csv, test_csv = args.data / "val.csv", args.data / "test.csv"
    rec = Recorder("csp_ceiling", seeds={}, data_files=[val_csv, test_csv])
    stats = pair_statistics(load(test_csv), load(val_csv))
    results = {
        "data": {"val": "../shared/data/perov_5/val.csv", "test": "../shared/data/perov_5/test.csv",
                 "n_total_upstream": N_TOTAL},
        "pairs": stats,
        "ceiling": ceiling(stats),
        "meaning": "a composition recurring in another crystal is a different structure (no "
        "recurrence matches); phi = share of compositions with two structures in the full set; "
        "a composition-only predictor at k = 1 matches at most 1 - phi/2 of test crystals",
    }  # fmt: skip
    print(results["pairs"], results["ceiling"])
    print("wrote", rec.write(args.out, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
