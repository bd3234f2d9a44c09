"""A run recorded by an older qaware (its config.yaml lacks fields added since) is still the
same configuration; a real change is refused."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from qaware.config_io import differs_from_recorded, load_config
from qaware.errors import RunDirectoryError
from qaware.ingest import open_run_directory
from qaware.store.run_directory import config_hash


def _config(tmp_path: Path):
    cfg = load_config(Path(str(resources.files("qaware.data").joinpath("quickstart.yaml"))))
    cfg.run.directory = str(tmp_path / "run")
    return cfg


def _as_an_older_qaware_wrote_it(run: Path) -> None:
    """Drop two fields this qaware added later, and record the hash an older one would have."""
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    del recorded["campaign"]["min_calibration_structures"]
    del recorded["validator"]["training_data"]
    (run / "config.yaml").write_text(yaml.safe_dump(recorded, sort_keys=False))
    (run / "config.sha256").write_text(config_hash(recorded) + "\n")


def test_a_run_recorded_before_a_new_config_field_reopens(tmp_path):
    cfg = _config(tmp_path)
    open_run_directory(cfg)
    _as_an_older_qaware_wrote_it(tmp_path / "run")
    assert not differs_from_recorded(cfg, tmp_path / "run")
    assert open_run_directory(cfg).path == tmp_path / "run"


def test_a_changed_config_is_still_refused(tmp_path):
    cfg = _config(tmp_path)
    open_run_directory(cfg)
    _as_an_older_qaware_wrote_it(tmp_path / "run")
    cfg.campaign.batch_size += 1
    assert differs_from_recorded(cfg, tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="another configuration"):
        open_run_directory(cfg)
