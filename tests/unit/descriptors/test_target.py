"""descriptor_target: every JSON form, structure files through a proxy, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from qaware.descriptors.target import descriptor_target
from qaware.errors import ConfigError


class _Proxy:
    def predict(self, structures) -> np.ndarray:
        return np.array([[float(len(a)), a.get_volume() / len(a)] for a in structures])


@pytest.mark.parametrize(
    "content",
    [[1.0, 2.0], {"q": [1.0, 2.0]}, {"descriptors": [1.0, 2.0], "source": "GPAW"}],
)
def test_json_forms(tmp_path: Path, content) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps(content))
    np.testing.assert_array_equal(descriptor_target(path), [1.0, 2.0])


def test_the_oracle_descriptor_dict_is_concatenated_in_order(tmp_path: Path) -> None:
    q = {"dos": [0.0] * 100, "gap": 1.2, "elf": [0.05] * 20, "response": 3.0}
    path = tmp_path / "q.json"
    path.write_text(json.dumps(q))
    vec = descriptor_target(path)
    assert vec.shape == (122,) and vec[100] == 1.2 and vec[-1] == 3.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[1, ", "cannot read"),
        ('["a"]', "list of numbers"),
        ("[true, 1.0]", "list of numbers"),
        ('{"gap": 1}', "keys"),
        ("[1.0, NaN]", "non-finite"),
    ],
)
def test_bad_json_names_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"bad.json.*{match}"):
        descriptor_target(path)


def test_structures_are_described_by_the_proxy(tmp_path: Path) -> None:
    cells = [bulk("Cu", "fcc", a=3.6), bulk("NaCl", "rocksalt", a=5.64)]
    path = tmp_path / "like.extxyz"
    write(path, cells)
    np.testing.assert_allclose(
        descriptor_target(path, _Proxy()), _Proxy().predict(cells).mean(axis=0)
    )
    with pytest.raises(ConfigError, match=r"like.extxyz.*proxy"):
        descriptor_target(path)
