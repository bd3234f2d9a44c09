"""Progress of the Track M build, read from a consistent copy of its stores (safe while it runs).

Per level and family: results under the *current* spec settings (older settings are ignored),
ok / gated / failed, wall time per call, and the reasons of what is not ok; for CCSD(T) the
T1/D1 values and the verdict under looser, literature thresholds (Jiang, DeYonker & Wilson,
JPCA 116, 870 (2012): T1 <= 0.05, D1 <= 0.15 for 3d-metal species).

    python data/track_m/progress.py [--list]
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from qaware.datasets.recipes.track_m import structures
from qaware.datasets.spec import load_dataset_spec
from qaware.oracles.factory import build_oracle
from qaware.store import RunDirectory
from qaware.structures import structure_hash

HERE = Path(__file__).parent


def _records(run_dir: Path) -> list:
    """Every call record of the store in ``run_dir``, from a backup copy."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("campaign.db*", "*.extxyz"))
        with (
            sqlite3.connect(run_dir / "campaign.db") as a,
            sqlite3.connect(copy / "campaign.db") as b,
        ):
            a.backup(b)
        with RunDirectory.open(copy).store() as store:
            return list(store.calls())


def summary(spec_file: Path, show: bool) -> None:
    spec = load_dataset_spec(spec_file)
    run_dir = (spec_file.parent / spec.output / "run").resolve()
    if not (run_dir / "campaign.db").exists():
        print(f"{spec_file.name}: no store yet")
        return
    current = {build_oracle(o).settings_hash(): o.level for o in spec.oracles}
    info = {structure_hash(a): a.info for a in structures()}  # the store keeps no info
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for rec in _records(run_dir):
        res = rec.result
        if res is not None and res.settings_hash in current:
            rec.atoms.info.update(info.get(rec.structure_hash, {}))
            groups[(res.level, str(rec.atoms.info.get("tag", "?")))].append((rec, res))
    print(f"== {spec_file.name} ({run_dir})")
    for (level, tag), items in sorted(groups.items()):
        walls = [r.wall_time_s for _, r in items]
        bad = Counter(r.reason.split(":")[0] for _, r in items if not r.ok)
        line = (f"  {level:18s} {tag:9s} n={len(items):3d} ok={sum(r.ok for _, r in items):3d} "
                f"not-ok={dict(bad)} wall s median {statistics.median(walls):6.1f} "
                f"mean {statistics.mean(walls):6.1f} max {max(walls):6.1f}")  # fmt: skip
        t1 = [(r.diagnostics.get("t1"), r.diagnostics.get("d1")) for _, r in items]
        t1 = [(a, b) for a, b in t1 if a is not None]
        if t1:
            loose = sum(a <= 0.05 and b <= 0.15 for a, b in t1)
            line += f"; T1/D1 pass at 0.05/0.15: {loose}/{len(t1)}"
        print(line)
        if show:
            for rec, r in items:
                d = r.diagnostics
                print(
                    f"      {rec.atoms.info.get('formula')}/{rec.atoms.info.get('scan')}/"
                    f"{rec.atoms.info.get('geometry_index')} ok={r.ok} {r.wall_time_s:.0f}s "
                    f"t1={d.get('t1')} d1={d.get('d1')} s2={d.get('s2')} {r.reason[:70]}"
                )


if __name__ == "__main__":
    for name in ("spec.yaml", "spec_tzvp.yaml"):
        summary(HERE / name, "--list" in sys.argv)
