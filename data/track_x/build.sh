#!/usr/bin/env bash
# Build or resume the Track X data set (data/track_x/). Safe to re-run at any time, also after
# kill -9: every result is stored in data/track_x/run/ as it arrives and is never recomputed.
# Stages (same store run/, same oracle settings; each a subset of spec.yaml, exporting nothing):
# spec_refs (both stand-ins for all, PBE on the small element cells and the oxides),
# spec_pbe_hse06set (PBE on the 120 perovskites of the HSE06 subset, so PBE-HSE06 pairs come
# first), spec_hse06_at_pbe (HSE06@PBE on that subset, references first), spec_hse06_at_pbe_all
# (HSE06@PBE on every other cell with PBE ok), spec_pbe (PBE on the other perovskites),
# spec_big (PBE on S8, alpha-B, alpha-Mn), then spec.yaml (HSE06@PBE on what spec_pbe added)
# finds every pair stored and exports the data set (README.md, track_x.extxyz.gz).
#
#   BUILD_NICE=19 setsid nohup data/track_x/build.sh >> data/track_x/build.log 2>&1 &
#   data/track_x/snapshot.sh      # commit-ready export + store copy while the build runs
#   data/track_x/build.sh --reuse runs/campaign_live_gpaw/run   # copy a campaign's GPAW calls
# A fresh checkout has no run/ (not committed): it starts from snapshot/run/ when that exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# BUILD_NICE=19: yield the CPU to everything else. Plain `nice` does not when the build runs in
# a session of its own (setsid, a nohup'd terminal): the kernel's autogroup scheduler shares the
# CPU between sessions first, so the session's own autogroup nice is set (it covers the session).
if [[ -n "${BUILD_NICE:-}" && -w /proc/self/autogroup ]]; then
  echo "$BUILD_NICE" > /proc/self/autogroup || true
fi
D=data/track_x
if [[ ! -e "$D/run" && -d "$D/snapshot/run" ]]; then
  python -m qaware.datasets.snapshot --restore "$D/snapshot/run" "$D/run"
  echo "track_x build: restored $D/run from $D/snapshot/run" >&2
fi
for stage in spec_refs spec_pbe_hse06set spec_hse06_at_pbe spec_hse06_at_pbe_all spec_pbe spec_big spec; do
  python -m qaware build-dataset "$D/$stage.yaml" "$@"
done
