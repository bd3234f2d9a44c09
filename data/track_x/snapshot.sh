#!/usr/bin/env bash
# Commit-ready state of the Track X build while it runs (it may keep writing run/ meanwhile):
# snapshot/run/ (a consistent copy of the store: SQLite backup API, events cut to whole lines;
# what a fresh checkout resumes from) and spec.yaml's export made from that copy (README.md,
# track_x.extxyz.gz). Computes nothing.   data/track_x/snapshot.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
D=data/track_x
mkdir -p "$D/snapshot"
python - "$D/run" "$D/snapshot/run" <<'PY'
import shutil, sqlite3, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
tmp = dst.with_name(dst.name + ".tmp")
shutil.rmtree(tmp, ignore_errors=True)
shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("campaign.db*", "*.tmp", "jobs"))
with sqlite3.connect(src / "campaign.db") as a, sqlite3.connect(tmp / "campaign.db") as b:
    a.backup(b)
with sqlite3.connect(tmp / "campaign.db") as b:
    b.execute("VACUUM")
events = tmp / "events.jsonl"
if events.exists():
    text = events.read_text()
    events.write_text(text[: text.rfind("\n") + 1])
shutil.rmtree(dst, ignore_errors=True)
tmp.rename(dst)
PY
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$D/snapshot/run" "$tmp/run"
mkdir -p "$tmp/run/models" "$tmp/run/cycles"
cp "$D/spec.yaml" "$tmp/spec.yaml"
python -m qaware build-dataset "$tmp/spec.yaml" --export-only > /dev/null
sed "s#qaware build-dataset $tmp/spec.yaml#data/track_x/build.sh   (its last step: qaware build-dataset $D/spec.yaml)#" \
  "$tmp/README.md" > "$D/README.md"
cp "$tmp/track_x.extxyz.gz" "$D/track_x.extxyz.gz"
rm -f "$D/track_x.extxyz"
