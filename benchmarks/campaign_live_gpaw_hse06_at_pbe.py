"""Track X live, HSE06@PBE on top: ``campaign_live_gpaw.py``'s campaign with GPAW PBE -> HSE06
evaluated once on the PBE orbitals (the Track X data set's top level, data/track_x/DECISIONS.md).

    OMP_NUM_THREADS=1 python benchmarks/campaign_live_gpaw_hse06_at_pbe.py   # ~40 min, resumable

The same script with the top level swapped (its functions read these module settings), and
what the cheaper top level changes:

* **Pool**: the ``X3=O3`` perovskites without an HSE06@PBE label of their own, whose elements all
  have HSE06@PBE element cells. HSE06@PBE labels every cell whose PBE is ok, so these are the
  cells the build has not reached at PBE yet: the campaign pays for both levels of every pick
  (PBE with descriptors, then HSE06@PBE on its orbitals). La is not left out (its hybrid
  reference takes seconds here).
* **Hull**: every binary oxide of the pool's elements in the data set (up to 10 atoms, Ti2O3
  and friends included), labelled at HSE06@PBE by the build or, if not, before cycle 1.
* **Validator**: trained as there, now with the build's few hundred HSE06@PBE labels
  (perovskites included) instead of seven oxides.
* Run directory ``runs/campaign_live_gpaw_hse06_at_pbe``, pool record
  ``benchmarks/configs/campaign_live_gpaw_hse06_at_pbe_pool.json``, snapshot
  ``benchmarks/snapshots/campaign_live_gpaw_hse06_at_pbe``, result
  ``benchmarks/results/campaign_live_gpaw_hse06_at_pbe.json``. Its PBE calls have the build's
  settings: ``data/track_x/build.sh --reuse runs/campaign_live_gpaw_hse06_at_pbe/run`` adds
  them to the data set.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import campaign_live_gpaw as live
from _provenance import REPO, RESULTS

NAME = "campaign_live_gpaw_hse06_at_pbe"
DEFAULTS = ["--budget", "9", "--batch", "3", "--cycles", "3",
            "--output", str(RESULTS / f"{NAME}.json")]  # fmt: skip


def configure() -> None:
    """Point ``campaign_live_gpaw``'s module settings at the HSE06@PBE campaign."""
    live.TOP = "HSE06@PBE"
    live.WORK = REPO / "runs" / NAME
    live.POOL_FILE = REPO / "benchmarks" / "configs" / f"{NAME}_pool.json"
    live.SNAPSHOT = REPO / "benchmarks" / "snapshots" / NAME
    live.SKIP_ELEMENTS = frozenset()
    live.SEED_FLAG = None
    live.MAX_SEED_ATOMS = 10


if __name__ == "__main__":
    configure()
    live.main(DEFAULTS + sys.argv[1:])  # the caller's flags come last and win
