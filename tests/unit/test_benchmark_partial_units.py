"""benchmarks/_partial.py: a finished unit is written before it is returned and never computed
again, also by a new process reading the same file (a resumed benchmark)."""

from __future__ import annotations

import json


def test_units_are_computed_once_and_survive_a_restart(load_benchmark, tmp_path):
    bench = load_benchmark("_partial")
    calls: list[tuple[int, int]] = []

    def compute(a: int, b: int) -> dict:
        calls.append((a, b))
        return {"sum": a + b}

    output = tmp_path / "results" / "x.json"
    units = bench.PartialUnits(output)
    assert units.get("k1", compute, 1, 2, note="first")["sum"] == 3
    key = f"k1|inputs:{units.stamp}"
    assert units.get("k1", compute, 1, 2)["key"] == key and calls == [(1, 2)]
    lines = (tmp_path / "results" / "x.partial.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"sum": 3, "key": key}]
    again = bench.PartialUnits(output)  # what a rerun after a kill sees
    assert again.get("k1", compute, 9, 9)["sum"] == 3 and calls == [(1, 2)]
    assert again.get("k2", compute, 2, 2)["sum"] == 4 and calls == [(1, 2), (2, 2)]


def test_a_changed_input_file_is_never_served_a_stale_unit(load_benchmark, tmp_path):
    bench = load_benchmark("_partial")
    data = tmp_path / "data.extxyz"
    data.write_text("first version of the data set\n")
    output = tmp_path / "x.json"
    calls: list[int] = []

    def compute(n: int) -> dict:
        calls.append(n)
        return {"n": n}

    assert bench.PartialUnits(output, inputs=[data]).get("fold", compute, 1)["n"] == 1
    assert bench.PartialUnits(output, inputs=[data]).get("fold", compute, 2)["n"] == 1  # resumed
    data.write_text("the data set grew\n")
    assert bench.PartialUnits(output, inputs=[data]).get("fold", compute, 3)["n"] == 3
    assert calls == [1, 3]
    assert bench.inputs_stamp([data]) != bench.inputs_stamp([])
