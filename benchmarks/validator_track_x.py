"""MF-ENNP on the live Track X crystals (GPAW PBE -> HSE06@PBE): the Track M benchmark's models,
split and scores (``benchmarks/validator_track_m.py``) on ``data/track_x``.

    OMP_NUM_THREADS=1 python benchmarks/validator_track_x.py

Families are the perovskites' anion sets (``X3=O3``, ``X3=O2N``, ...; the binary oxides are one
more family); the element cells are the formation-energy references and are not trained on
(``validator_reference_cells.json``). Only structures whose elements have an element cell at
every level of the ladder take part, and a held-out structure with an element no training family
holds is left out of that fold (the JSON counts them). The ladder is every level with
``--min-labels`` labels or more: until enough HSE06@PBE perovskites are built the run stops
with that message. Writes ``benchmarks/results/validator_track_x.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validator_track_m import TRACK_X, main

if __name__ == "__main__":
    sys.exit(main(data=TRACK_X))
