"""Data set specs: YAML errors name line and key, level names map to distinct extxyz keys,
structures come from files and recipes (validated, deduplicated), subsets select by source/tag."""

from __future__ import annotations

from pathlib import Path

import pytest
from ase import Atoms
from ase.build import bulk

from qaware.datasets import (
    DatasetSpec,
    collect_structures,
    level_key,
    load_dataset_spec,
    parse_dataset_spec,
    select_subset,
)
from qaware.errors import ConfigError, InvalidStructureError
from qaware.structures import write_structures

GOOD = """\
name: tiny
structures:
  - cu.extxyz
  - {recipe: "recipe.py:make", kwargs: {n: 3}, tag: made}
oracles:
  - {level: EMT, kind: ase, settings: {calculator: "ase.calculators.emt:EMT"}}
  - level: CCSD(T)
    kind: pyscf
    settings: {method: CCSD(T)}
    subset: {tags: [made], first: 2}
"""

RECIPE = """\
from ase.build import bulk

def make(n, seed=5):
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.01 * i + 0.001 * seed, cubic=True)
        if i == 0:
            atoms.info["tag"] = "first"
        out.append(atoms)
    out.append(out[-1].copy())  # a duplicate: dropped
    return out
"""


@pytest.mark.parametrize(
    ("level", "key"),
    [
        ("PBE", "PBE"),
        ("CCSD(T)", "CCSD_T"),
        ("CCSD(T)/def2-TZVP", "CCSD_T_def2_TZVP"),
        ("r2SCAN@SevenNet-MF-0", "r2SCAN_at_SevenNet_MF_0"),
        ("GGA+U(MP2020)@CHGNet", "GGA_plus_U_MP2020_at_CHGNet"),
    ],
)
def test_level_keys_are_extxyz_safe(level, key):
    assert level_key(level) == key


def test_a_good_spec_loads_with_defaults():
    spec = parse_dataset_spec(GOOD)
    assert spec.name == "tiny" and spec.seed is None and spec.execution.max_workers == 2
    assert [s.label for s in spec.structures] == ["cu.extxyz", "recipe.py:make"]
    assert spec.oracles[1].subset.tags == ["made"] and spec.oracles[0].subset is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("name: tiny", "nmae: tiny"), "spec.yaml:1 nmae: unknown key, did you mean 'name'?"),
        (("first: 2", "frist: 2"), "spec.yaml:10 oracles.1.subset.frist: unknown key"),
        (("kwargs: {n: 3}", "kwargs: {n: 3}, file: x.cif"), "spec.yaml:4 structures.1: "
         "give exactly one of 'file' and 'recipe'"),
        (("level: CCSD(T)", "level: EMT"), "both export as 'EMT'"),
        (("kind: pyscf", "kind: orca"), "spec.yaml:8 oracles.1.kind: Input should be"),
        (("name: tiny", "name: a/b"), "name: use letters"),
        (("recipe.py:make", "recipe.py"), "must read 'module:function'"),
    ],
)  # fmt: skip
def test_spec_errors_name_line_and_key(edit, message):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ConfigError) as err:
        parse_dataset_spec(text, source="spec.yaml")
    assert message in str(err.value)


def test_level_clash_from_the_sanitised_name():
    text = GOOD.replace("level: CCSD(T)", "level: CCSD-T")
    with pytest.raises(
        ConfigError, match=r"s.yaml:7 oracles.1.level: 'CCSD-T' clashes with 'CCSD_T'"
    ):
        parse_dataset_spec(text.replace("level: EMT", "level: CCSD_T"), source="s.yaml")


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_dataset_spec(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_dataset_spec(tmp_path / "bad.yaml")


@pytest.fixture
def folder(tmp_path) -> Path:
    cu = [bulk("Cu", "fcc", a=3.5), bulk("Cu", "bcc", a=2.9)]
    cu[1].info["tag"] = "bcc"
    write_structures(cu, tmp_path / "cu.extxyz")
    (tmp_path / "recipe.py").write_text(RECIPE)
    (tmp_path / "spec.yaml").write_text(GOOD)
    return tmp_path


def test_structures_from_files_and_recipes_in_order(folder):
    spec = load_dataset_spec(folder / "spec.yaml")
    structures, hashes, n_dup = collect_structures(spec, folder)
    assert len(structures) == 5 and n_dup == 1 and len(set(hashes)) == 5
    info = [(a.info["source"], a.info["index"], a.info.get("tag")) for a in structures]
    assert info == [
        ("cu.extxyz", 0, None), ("cu.extxyz", 1, "bcc"), ("recipe.py:make", 0, "first"),
        ("recipe.py:make", 1, "made"), ("recipe.py:make", 2, "made"),
    ]  # fmt: skip
    assert structures[2].cell[0, 0] == pytest.approx(3.605)  # the recipe's own default seed
    seeded = spec.model_copy(update={"seed": 7})
    assert collect_structures(seeded, folder)[0][2].cell[0, 0] == pytest.approx(3.607)
    chosen = select_subset(structures, spec.oracles[1].subset)
    assert chosen == [3, 4]
    assert select_subset(structures, None) == [0, 1, 2, 3, 4]
    from qaware.datasets import Subset

    assert select_subset(structures, Subset(sources=["cu.extxyz"], first=1)) == [0]


def test_recipe_errors_name_the_recipe(folder):
    spec = load_dataset_spec(folder / "spec.yaml")
    for recipe, message in [
        ("recipe.py:nothing", "recipe 'recipe.py:nothing': AttributeError"),
        ("missing.py:make", "missing.py is not a file"),
        ("no_such_module_xyz:make", "ModuleNotFoundError"),
    ]:
        spec.structures[1].recipe = recipe
        with pytest.raises(ConfigError, match=message):
            collect_structures(spec, folder)


def test_recipe_structures_are_validated(folder):
    (folder / "recipe.py").write_text(
        "from ase import Atoms\n"
        "def make(n):\n"
        "    return [Atoms('H2', positions=[[0, 0, 0], [0, 0, 0.1]])]\n"
    )
    spec = load_dataset_spec(folder / "spec.yaml")
    with pytest.raises(InvalidStructureError, match=r"recipe recipe.py:make, row 0"):
        collect_structures(spec, folder)


def test_resolved_paths_are_relative_to_the_spec(folder):
    spec = load_dataset_spec(folder / "spec.yaml").resolved(folder)
    assert spec.output == folder / "." and spec.structures[0].file == folder / "cu.extxyz"
    assert spec.structures[1].recipe == "recipe.py:make"


def test_a_spec_round_trips_through_its_json_dump():
    spec = parse_dataset_spec(GOOD)
    assert DatasetSpec.model_validate(spec.model_dump(mode="json")) == spec
    assert isinstance(Atoms(), Atoms)


def test_subset_by_info_flags_matches_values_and_keeps_bools_apart():
    from qaware.datasets import Subset

    structures = [bulk("Cu", "fcc", a=3.6 + 0.01 * i) for i in range(5)]
    for i, atoms in enumerate(structures):
        atoms.info["hse06"] = i % 2 == 0
        atoms.info["n"] = i
    structures[4].info.pop("hse06")  # no flag: never selected
    assert select_subset(structures, Subset(info={"hse06": [True]})) == [0, 2]
    assert select_subset(structures, Subset(info={"hse06": [True], "n": [2, 3]})) == [2]
    assert select_subset(structures, Subset(info={"n": [True]})) == []  # 1 is not True
    assert select_subset(structures, Subset(info={"n": [1]})) == [1]
    spec = parse_dataset_spec(
        "name: t\nstructures: [a.extxyz]\noracles:\n"
        "  - {level: EMT, kind: ase, subset: {info: {hse06: [true]}, first: 1}}\n"
    )
    subset = spec.oracles[0].subset
    assert subset is not None and subset.info == {"hse06": [True]}
    assert select_subset(structures, subset) == [0]


def test_subset_passed_applies_before_first_and_must_be_given():
    from qaware.datasets import Passed, Subset

    structures = [bulk("Cu", "fcc", a=3.6 + 0.01 * i) for i in range(5)]
    subset = Subset(passed=Passed(level="PBE"), first=2)
    assert select_subset(structures, subset, passed={1, 3, 4}) == [1, 3]
    with pytest.raises(ValueError, match="give 'passed'"):
        select_subset(structures, subset)
    spec = parse_dataset_spec(
        "name: t\nstructures: [a.extxyz]\noracles:\n"
        "  - {level: PBE, kind: ase}\n"
        "  - {level: HSE06, kind: ase, subset: {passed: {level: PBE, spec: ../b.yaml}}}\n"
    )
    resolved = spec.resolved("/data/x")  # kept as written: the README shows it so
    assert str(resolved.oracles[1].subset.passed.spec) == "../b.yaml"


def test_subset_stored_keeps_only_what_the_level_labelled_and_must_be_given():
    from qaware.datasets import Subset

    structures = [bulk("Cu", "fcc", a=3.6 + 0.01 * i) for i in range(5)]
    subset = Subset(stored=True, first=2)
    assert select_subset(structures, subset, stored={4, 2, 0}) == [0, 2]
    assert select_subset(structures, subset, stored=set()) == []
    with pytest.raises(ValueError, match="give 'stored'"):
        select_subset(structures, subset)


def test_passed_structures_counts_finished_results_not_submitted_rows(tmp_path):
    """Structure 0: prerequisite ok. 1: prerequisite failed, own call only submitted (an
    interrupted build): left out. 2: prerequisite failed but already labelled: kept. 3: nothing."""
    from ase import Atoms

    from qaware.datasets import passed_structures
    from qaware.oracles.factory import build_oracle
    from qaware.oracles.result import OracleResult
    from qaware.store import oracle_call_key
    from qaware.store.keys import CallRecord
    from qaware.store.states import CallStatus

    spec = parse_dataset_spec(
        "name: t\nstructures: [a.extxyz]\noracles:\n"
        "  - {level: A, kind: ase, settings: {calculator: 'ase.calculators.emt:EMT'}}\n"
        "  - {level: B, kind: ase, settings: {calculator: 'ase.calculators.emt:EMT',"
        " kwargs: {fixed_cutoff: false}}, subset: {passed: {level: A}}}\n"
    ).resolved(tmp_path)
    digest = {o.level: build_oracle(o, base_dir=tmp_path).settings_hash() for o in spec.oracles}
    hashes = [f"h{i}" for i in range(4)]

    def row(i: int, level: str, status: CallStatus, ok: bool | None) -> CallRecord:
        key = oracle_call_key(hashes[i], digest[level])
        energy, reason = (-1.0, "") if ok else (None, "timeout")
        result = None if ok is None else OracleResult(ok, level, energy, reason=reason)
        return CallRecord(i, key, level, status, 1, None, hashes[i], "", Atoms(), result)

    rows = [
        row(0, "A", CallStatus.DONE, True),
        row(1, "A", CallStatus.FAILED, False),
        row(1, "B", CallStatus.SUBMITTED, None),
        row(2, "A", CallStatus.FAILED, False),
        row(2, "B", CallStatus.DONE, True),
    ]
    calls = {r.oracle_key: r for r in rows}
    assert passed_structures(spec, tmp_path, spec.oracles[1], hashes, calls) == {0, 2}


def test_subset_by_tag_orders_by_the_tags_list_and_keeps_spec_order_within_a_tag():
    from qaware.datasets import Subset

    structures = [bulk("Cu", "fcc", a=3.6 + 0.01 * i) for i in range(6)]
    for atoms, tag in zip(structures, ("B", "A", "B", "C", "A", "B"), strict=True):
        atoms.info["tag"] = tag
    assert select_subset(structures, Subset(tags=["A", "B"])) == [0, 1, 2, 4, 5]  # spec order
    assert select_subset(structures, Subset(tags=["A", "B"], by_tag=True)) == [1, 4, 0, 2, 5]
    assert select_subset(structures, Subset(tags=["B", "A"], by_tag=True, first=4)) == [0, 2, 5, 1]
    assert select_subset(structures, Subset(by_tag=True)) == list(range(6))  # no tags: no order
