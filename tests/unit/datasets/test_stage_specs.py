"""The build stages of the shipped data sets label with exactly the data set's own oracles.

A stage (``data/track_x/spec_pbe.yaml``...) shares the data set's store: its results count for
the data set only if its oracle kind and settings (what the settings hash is made of) and its
structures are those of ``spec.yaml``. A stage that drifts would compute a second set of labels.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.datasets.spec import load_dataset_spec

DATA = Path(__file__).resolve().parents[3] / "data"
STAGES = {
    "track_x": [
        "spec_refs",
        "spec_pbe_hse06set",
        "spec_hse06_at_pbe",
        "spec_hse06_at_pbe_all",
        "spec_pbe",
        "spec_big",
    ],
    "track_m": ["spec_light", "spec_ccsdt_dioxide", "spec_dioxide_dft", "spec_cluster_first"],
}


@pytest.mark.parametrize(
    ("name", "stage"), [(n, s) for n, stages in STAGES.items() for s in stages]
)
def test_a_stage_uses_the_data_sets_oracles_and_structures(name: str, stage: str):
    full = load_dataset_spec(DATA / name / "spec.yaml")
    part = load_dataset_spec(DATA / name / f"{stage}.yaml")
    oracles = {o.level: o for o in full.oracles}
    assert part.oracles, "a stage labels something"
    for o in part.oracles:
        assert o.level in oracles, f"{stage}: level {o.level} is not in spec.yaml"
        assert (o.kind, o.settings) == (oracles[o.level].kind, oracles[o.level].settings)
    if name == "track_x":  # Track M's light stage picks families through the recipe's kwargs
        assert part.structures == full.structures
    assert part.export is False or name == "track_m"


@pytest.mark.slow(seconds=10)
def test_track_x_hse06_at_pbe_stages_take_the_subset_first_references_first():
    """3a labels the HSE06 subset (oxides, then element cells, then X3=O3 ...) and 3b every
    other cell, both only where PBE is ok (as spec.yaml); self-consistent HSE06 is closed."""
    from qaware.datasets.build import collect_structures
    from qaware.datasets.subset import select_subset

    names = ("spec", "spec_hse06_at_pbe", "spec_hse06_at_pbe_all")
    specs = {s: load_dataset_spec(DATA / "track_x" / f"{s}.yaml") for s in names}
    cells = collect_structures(specs["spec"], DATA / "track_x")[0]
    nsc = {s: next(o for o in spec.oracles if o.level == "HSE06@PBE") for s, spec in specs.items()}
    every = set(range(len(cells)))
    full, subset, rest = (set(select_subset(cells, o.subset, passed=every)) for o in nsc.values())
    assert subset < rest == full == every  # with PBE ok everywhere: the stages cover it all
    assert all(cells[i].info["hse06"] for i in subset) and len(subset) == 13 + 33 + 120
    order = [cells[i].info["tag"] for i in select_subset(cells, nsc["spec_hse06_at_pbe"].subset,
                                                         passed=every)]  # fmt: skip
    assert order[:13] == ["ref:oxide"] * 13 and set(order[13:46]) == {"ref:element"}
    assert order[46:70] == ["X3=O3"] * 24
    for o in nsc.values():
        assert o.subset.passed.level == "PBE"
    sc = next(o for o in specs["spec"].oracles if o.level == "HSE06")
    assert sc.subset.stored and sc.subset.info == {"hse06": [True]}
