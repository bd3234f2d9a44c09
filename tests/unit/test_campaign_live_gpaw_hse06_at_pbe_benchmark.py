"""benchmarks/campaign_live_gpaw_hse06_at_pbe.py: the live campaign with HSE06@PBE on top uses
the Track X build's HSE06@PBE oracle (same settings hash, so the build's calls are reused), its
own run directory, and every binary oxide of the pool's elements as a hull seed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qaware.config import OracleSpec
from qaware.datasets.spec import load_dataset_spec
from qaware.oracles.factory import build_oracle

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import campaign_live_gpaw as live  # noqa: E402
import campaign_live_gpaw_hse06_at_pbe as bench  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_campaign_live_gpaw_benchmark import _frame  # noqa: E402  (its frame maker)

SETTINGS = ("TOP", "WORK", "POOL_FILE", "SNAPSHOT", "SKIP_ELEMENTS", "SEED_FLAG", "MAX_SEED_ATOMS")


@pytest.fixture
def configured():
    """``bench.configure()`` for one test; the shared module's settings restored after it."""
    saved = {name: getattr(live, name) for name in SETTINGS}
    bench.configure()
    yield live
    for name, value in saved.items():
        setattr(live, name, value)


def test_oracles_are_the_builds_pbe_and_hse06_at_pbe(configured):
    spec = load_dataset_spec(REPO / "data" / "track_x" / "spec.yaml")
    built = {o.level: build_oracle(o).settings_hash() for o in spec.oracles}
    mine = {o["level"]: build_oracle(OracleSpec.model_validate(o)).settings_hash()
            for o in configured.oracle_specs()}  # fmt: skip
    assert mine == {lv: built[lv] for lv in ("PBE", "HSE06@PBE")}
    assert configured.WORK.name == bench.NAME and configured.WORK != configured.SNAPSHOT


def test_pool_lacks_the_top_label_and_every_oxide_seeds_the_hull(configured):
    frames = [
        _frame("O2", "ref:element", HSE06_at_PBE=True),
        _frame("La2", "ref:element", HSE06_at_PBE=True),
        _frame("Ti2", "ref:element", HSE06_at_PBE=True),
        _frame("LaTiO3", "X3=O3", PBE=False),  # pool: La is no longer left out
        _frame("LaTiO3", "X3=O3", PBE=True, HSE06_at_PBE=True),  # labelled already
        _frame("Ti4O6", "ref:oxide", HSE06_at_PBE=True),  # 10 atoms, no hse06 flag: a seed
        _frame("La4O6", "ref:oxide"),  # a seed the campaign labels
    ]
    pool, seeds = configured.choose(frames)
    assert pool == [3] and seeds == [5, 6]
    assert bench.DEFAULTS[bench.DEFAULTS.index("--output") + 1].endswith(f"{bench.NAME}.json")
