"""generator.descriptors: a q vector from JSON, or 'more like these' through the proxy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from qaware.campaign.components import generation_conditions, load_proxy, target_descriptors
from qaware.config import GeneratorSettings
from qaware.errors import ConfigError


class _Proxy:
    def predict(self, structures) -> np.ndarray:
        return np.array([[float(len(a)), a.get_volume() / len(a)] for a in structures])


def test_a_json_vector_or_mapping_is_the_target(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text(json.dumps([1.0, 2.0]))
    (tmp_path / "qd.json").write_text(json.dumps({"descriptors": [3.0, 4.0], "note": "x"}))
    for name, want in (("q.json", [1.0, 2.0]), ("qd.json", [3.0, 4.0])):
        settings = GeneratorSettings(descriptors=name, lam=0.5)
        np.testing.assert_array_equal(target_descriptors(settings, tmp_path, None), want)
    cond = generation_conditions(GeneratorSettings(descriptors="q.json", lam=0.5), tmp_path)
    assert cond["lam"] == 0.5 and list(cond["descriptors"]) == [1.0, 2.0]


def test_a_structure_file_is_described_by_the_proxy(tmp_path: Path) -> None:
    cells = [bulk("Cu", "fcc", a=3.6), bulk("Si", "diamond", a=5.43)]
    write(tmp_path / "like.extxyz", cells)
    settings = GeneratorSettings(descriptors="like.extxyz", lam=1.0)
    got = target_descriptors(settings, tmp_path, _Proxy())
    np.testing.assert_allclose(got, _Proxy().predict(cells).mean(axis=0))
    with pytest.raises(ConfigError, match=r"generator\.proxy"):
        target_descriptors(settings, tmp_path, None)


def test_broken_inputs_say_which_setting(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1.0, ")
    with pytest.raises(ConfigError, match=r"generator\.descriptors"):
        target_descriptors(GeneratorSettings(descriptors="bad.json"), tmp_path, None)
    with pytest.raises(ConfigError, match="no such file"):
        load_proxy(GeneratorSettings(proxy="missing.pt"), tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"not a proxy")
    with pytest.raises(ConfigError, match=r"junk\.pt"):
        load_proxy(GeneratorSettings(proxy="junk.pt"), tmp_path)
    assert load_proxy(GeneratorSettings(), tmp_path) is None
