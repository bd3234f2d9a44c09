#!/usr/bin/env bash
# Commit-ready state of the Track X build while it runs (it may keep writing run/ meanwhile):
# snapshot/run/ (a consistent, gzipped copy of the store: SQLite backup API, events cut to whole lines;
# what a fresh checkout resumes from) and spec.yaml's export made from that copy (README.md,
# track_x.extxyz.gz). Computes nothing.   data/track_x/snapshot.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
D=data/track_x
mkdir -p "$D/snapshot"
python -m qaware.datasets.snapshot "$D/run" "$D/snapshot/run"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python -m qaware.datasets.snapshot --restore "$D/snapshot/run" "$tmp/run"
cp "$D/spec.yaml" "$tmp/spec.yaml"
python -m qaware build-dataset "$tmp/spec.yaml" --export-only > /dev/null
sed "s#qaware build-dataset $tmp/spec.yaml#data/track_x/build.sh   (its last step: qaware build-dataset $D/spec.yaml)#" \
  "$tmp/README.md" > "$D/README.md"
cp "$tmp/track_x.extxyz.gz" "$D/track_x.extxyz.gz"
rm -f "$D/track_x.extxyz"
