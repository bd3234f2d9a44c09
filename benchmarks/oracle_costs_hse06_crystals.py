"""The four HSE06 crystal rows of benchmarks/oracle_costs.py (Si, MgO, SrTiO3, NiO) on their own.

oracle_costs.py runs its plan in priority order and SrFeO3 HSE06 (which times out after hours)
comes before these rows; this runs only them, on the same resumable store, then
``python benchmarks/oracle_costs.py --export-only`` merges every row into oracle_costs.json.

    OMP_NUM_THREADS=1 python benchmarks/oracle_costs_hse06_crystals.py   (about 40 min, 1 core)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_costs as oc

ROWS = [("Si", "HSE06"), ("MgO(s)", "HSE06"), ("SrTiO3", "HSE06"), ("NiO(s)", "HSE06")]


def plan(quick: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    return [("crystals HSE06 (remaining)", ROWS)]


if __name__ == "__main__":
    oc.plan = plan
    out = Path(__file__).resolve().parent / "results" / "oracle_costs_hse06_crystals.json"
    args = ["--only", "crystals", "--levels", "HSE06", "--timeout", "1800", "--retries", "0"]
    args += ["--output", str(out)]
    sys.exit(oc.main(args))
