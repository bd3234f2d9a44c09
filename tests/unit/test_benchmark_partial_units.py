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


def test_code_stamp_follows_code_not_results(load_benchmark, tmp_path):
    """A changed benchmark or package file is a new stamp; a results file (committed or not)
    is not: committing an intermediate result must not throw the cached units away."""
    import subprocess

    bench = load_benchmark("_partial")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    for path, text in (("src/m.py", "x = 1\n"), ("benchmarks/b.py", "y = 1\n"),
                       ("benchmarks/results/r.json", "{}\n")):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    first = bench._code_stamp(tmp_path)
    (tmp_path / "benchmarks/results/r.json").write_text('{"a": 1}\n')
    assert bench._code_stamp(tmp_path) == first  # uncommitted result
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "result")
    assert bench._code_stamp(tmp_path) == first  # committed result
    (tmp_path / "benchmarks/b.py").write_text("y = 2\n")
    assert bench._code_stamp(tmp_path) != first
