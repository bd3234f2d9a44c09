"""Device selection (``device:`` in configs, ``--device``): what resolves, and the errors a
machine without the asked-for GPU gives before any work starts. The GPU itself is exercised by
tests/physics/test_mfennp_cuda.py (skipped without one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

from qaware._device import resolve_device
from qaware.errors import ConfigError

NO_GPU = not torch.cuda.is_available()
needs_no_gpu = pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")


def _bundled_validator() -> Path:
    from qaware.campaign.components import BUNDLED_VALIDATOR, bundled_model

    return Path(bundled_model(BUNDLED_VALIDATOR))


def test_cpu_and_auto_resolve_here():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cpu" if NO_GPU else "cuda")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", ""])
def test_a_name_torch_does_not_know_is_refused_with_the_choices(name):
    with pytest.raises(ConfigError, match=r"not a torch device.*'auto'"):
        resolve_device(name)


def test_a_device_qaware_does_not_run_on_is_refused():
    with pytest.raises(ConfigError, match="only 'cpu' and 'cuda'"):
        resolve_device("meta")


@needs_no_gpu
def test_cuda_without_a_gpu_says_why_and_what_to_use():
    with pytest.raises(ConfigError, match=r"'cuda'.*sees no CUDA GPU.*'cpu' or 'auto'"):
        resolve_device("cuda")


@needs_no_gpu
def test_the_validator_the_campaign_and_score_refuse_a_missing_gpu(tmp_path, capsys):
    from qaware.campaign.components import load_validator
    from qaware.cli import EXIT_BAD_INPUT, main
    from qaware.commands.campaign import _quickstart_path
    from qaware.config_io import load_config
    from qaware.validator import MFValidator

    with pytest.raises(ConfigError, match="sees no CUDA GPU"):
        MFValidator.load(_bundled_validator(), device="cuda")
    config = load_config(_quickstart_path())
    assert config.validator.device == "cpu"  # the default: reproducible anywhere
    config.validator.device = "cuda:0"
    with pytest.raises(ConfigError, match=r"'cuda:0'.*sees no CUDA GPU"):
        load_validator(config, tmp_path)
    bulk("Cu", "fcc", a=3.61).write(tmp_path / "cu.extxyz")
    argv = ["score", str(tmp_path / "cu.extxyz"), "--model", str(_bundled_validator())]
    assert main([*argv, "--device", "cuda"]) == EXIT_BAD_INPUT
    assert "sees no CUDA GPU" in capsys.readouterr().err


def test_the_validator_lands_on_the_device_asked_for_and_predicts_from_there():
    from qaware.validator import MFValidator

    validator = MFValidator.load(_bundled_validator(), device="auto")
    assert validator.model is not None
    assert validator.model.device.type == ("cpu" if NO_GPU else "cuda")
    cell = bulk("Ti", "sc", a=3.905)
    prediction = validator.predict([cell])
    for values in prediction.e_form_per_atom.values():
        assert np.isfinite(values).all()


@needs_no_gpu
def test_the_generator_refuses_a_missing_gpu_before_any_work(tmp_path, capsys):
    from importlib.resources import files

    from qaware.cli import EXIT_BAD_INPUT, main
    from qaware.commands.campaign import _quickstart_path
    from qaware.config_io import load_config
    from qaware.generator.diffusion_generator import DiffusionGenerator
    from qaware.generator.train import TrainConfig, train

    path = Path(str(files("qaware.data") / "models" / "generator_quickstart.pt"))
    with pytest.raises(ConfigError, match="sees no CUDA GPU"):
        DiffusionGenerator.load(path, device="cuda")
    with pytest.raises(ConfigError, match="sees no CUDA GPU"):  # before reading a structure
        train([], tmp_path / "gen", config=TrainConfig(device="cuda"))
    assert not (tmp_path / "gen").exists()
    assert load_config(_quickstart_path()).generator.device == "cpu"
    argv = ["generate", "--model", "quickstart", "-n", "2", "-o", str(tmp_path / "s")]
    assert main([*argv, "--device", "cuda"]) == EXIT_BAD_INPUT
    assert "sees no CUDA GPU" in capsys.readouterr().err


def test_the_training_configs_carry_the_device_to_the_trainers():
    from qaware.generator.run_config import GeneratorTrainSettings
    from qaware.validator.run_config import TrainSection

    assert TrainSection().to_train_config(0.1).device == "cpu"
    assert TrainSection(device="cuda:1").to_train_config(0.1).device == "cuda:1"
    settings = GeneratorTrainSettings(data=[Path("x.csv")], device="auto")
    assert settings.train_config(progress=False).device == "auto"
    assert GeneratorTrainSettings(data=[Path("x.csv")]).train_config().device == "cpu"
