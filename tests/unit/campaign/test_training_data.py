"""validator.training_data: labelled files replayed in every retraining (read, deduplicated,
errors naming the file)."""

from __future__ import annotations

import ase.io
import pytest
from ase.build import bulk

from qaware.campaign.training_data import load_training_data
from qaware.errors import ConfigError


def _labelled(tmp_path, name="train.extxyz"):
    cu, ni = bulk("Cu", cubic=True), bulk("Ni", cubic=True)
    cu.info.update(energy_PBE=-14.0, energy_HSE06=-15.5)
    ni.info.update(energy_PBE=-21.0)  # one level only: still replayed
    again = cu.copy()  # same structure, translated: one entry, the first frame's labels
    again.translate([0.3, 0.1, 0.2])
    again.info.update(energy_PBE=-99.0)
    unlabelled = bulk("Al", cubic=True)
    ase.io.write(tmp_path / name, [cu, ni, again, unlabelled], format="extxyz")
    return name


def test_labelled_frames_are_read_once_per_structure_with_their_levels(tmp_path):
    items = load_training_data([_labelled(tmp_path)], tmp_path, ["PBE", "HSE06"])
    assert [sorted(i.energies.items()) for i in items] == [
        [("HSE06", -15.5), ("PBE", -14.0)],
        [("PBE", -21.0)],
    ]
    assert len({i.structure_hash for i in items}) == 2
    assert all(not i.atoms.info for i in items)  # the structure alone


def test_levels_off_the_ladder_are_ignored(tmp_path):
    items = load_training_data([_labelled(tmp_path)], tmp_path, ["HSE06"])
    assert [i.energies for i in items] == [{"HSE06": -15.5}]


def test_a_missing_file_or_one_without_labels_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"validator.training_data: nope.extxyz"):
        load_training_data(["nope.extxyz"], tmp_path, ["PBE"])
    ase.io.write(tmp_path / "bare.extxyz", [bulk("Cu")], format="extxyz")
    with pytest.raises(ConfigError, match=r"bare.extxyz: none of its 1 structures has an energy"):
        load_training_data(["bare.extxyz"], tmp_path, ["PBE"])
    (tmp_path / "bad.extxyz").write_text("3\nnot a header\nCu 0 0\n")
    with pytest.raises(ConfigError, match=r"validator.training_data: bad.extxyz"):
        load_training_data(["bad.extxyz"], tmp_path, ["PBE"])
