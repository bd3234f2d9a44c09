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
        "spec_hse06_refs",
        "spec_hse06_compounds",
        "spec_hse06",
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
def test_track_x_hse06_stages_cover_the_subset_references_first():
    """3a (Zn, Ti, Sc) and 3b (oxides, X3=O3, the element cells, the other families, in that
    order) are parts of spec.yaml's HSE06 subset, and 3c (the whole subset) adds nothing."""
    from qaware.datasets.build import collect_structures
    from qaware.datasets.subset import select_subset

    specs = {s: load_dataset_spec(DATA / "track_x" / f"{s}.yaml")
             for s in ("spec", "spec_hse06_refs", "spec_hse06_compounds")}  # fmt: skip
    cells = collect_structures(specs["spec"], DATA / "track_x")[0]
    hse06 = {s: next(o for o in spec.oracles if o.level == "HSE06") for s, spec in specs.items()}
    full, refs, compounds = (set(select_subset(cells, o.subset)) for o in hse06.values())
    assert {cells[i].info["element"] for i in refs} == {"Zn", "Ti", "Sc"}
    assert refs <= compounds == full
    order = [
        cells[i].info["tag"] for i in select_subset(cells, hse06["spec_hse06_compounds"].subset)
    ]
    assert order[:13] == ["ref:oxide"] * 13 and order[13:37] == ["X3=O3"] * 24
    assert set(order[37:70]) == {"ref:element"} and len(order) == 13 + 120 + 33
