"""Config: validation errors name file, line and key path; the template round-trips."""

from __future__ import annotations

import pytest
import yaml

from qaware.config import QawareConfig, config_hash
from qaware.config_io import config_template, dump_config, load_config, parse_config
from qaware.errors import ConfigError


def test_defaults_are_valid_and_ladder_is_the_default_one():
    cfg = QawareConfig()
    assert cfg.ladder().names == ("PBE", "r2SCAN", "HSE06", "CCSD(T)")
    assert cfg.acquisition.weight_divergence == 0.7 and cfg.acquisition.weight_uncertainty == 0.3
    assert cfg.campaign.patience == 3 and cfg.campaign.retrain_generator_every == 5


def test_template_parses_back_to_the_defaults(tmp_path):
    text = config_template()
    assert "# Master seed" in text  # comments carry the descriptions
    path = tmp_path / "qaware.yaml"
    path.write_text(text)
    assert load_config(path) == QawareConfig()


def test_dump_load_round_trip_and_hash(tmp_path):
    cfg = parse_config("campaign: {budget: 12}\nrun: {seed: 7}\n")
    path = tmp_path / "c.yaml"
    dump_config(cfg, path)
    again = load_config(path)
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    assert config_hash(cfg) != config_hash(QawareConfig())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "campaign:\n  budgte: 10\n",
            "c.yaml:2 campaign.budgte: unknown key, did you mean 'budget'?",
        ),
        ("campain:\n  budget: 10\n", "c.yaml:1 campain: unknown key, did you mean 'campaign'?"),
        (
            "fidelities:\n  - name: PBE\n    wieght: 0.1\n",
            "c.yaml:3 fidelities.0.wieght: unknown key, did you mean 'weight'?",
        ),
        (
            "oracles:\n  - level: PBE\n    kind: pyscf\n    levle: PBE\n",
            "oracles.0.levle: unknown key, did you mean 'level'?",
        ),
        ("campaign:\n  budget: ten\n", "c.yaml:2 campaign.budget: Input should be a valid integer"),
        (
            "campaign:\n  budget: -5\n",
            "campaign.budget: Input should be greater than or equal to 1",
        ),
        ("execution:\n  backend: kubernetes\n", "execution.backend: Input should be"),
        ("acquisition:\n  strategy: greedy\n", "acquisition.strategy"),
        (
            "fidelities:\n  - {name: r2SCAN, kind: stand-in}\n",
            "its name must say which code produced it",
        ),
        (
            "oracles:\n  - {level: MP2, kind: pyscf}\n",
            "'MP2' is not a fidelity",
        ),
        ("campaign: [1, 2]\n", "campaign: Input should be a valid dictionary"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("campaign:\n  budget: [unclosed\n", "c.yaml:3: invalid YAML"),
        ("store:\n  url: mysql://x\n", "store.url"),
        ("acquisition: {weight_divergence: 0, weight_uncertainty: 0}\n", "must be > 0"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, expected):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value), str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("campaign:\n  budgte: 1\n  patience: zero\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "2 problem(s)" in message and "budgte" in message and "patience" in message


def test_user_ladder_and_stand_in_names():
    cfg = parse_config(
        yaml.safe_dump(
            {
                "fidelities": [
                    {"name": "PBE@SevenNet-MF-0", "kind": "stand-in", "weight": 0.2},
                    {"name": "r2SCAN@SevenNet-MF-0", "kind": "stand-in", "weight": 1.0},
                ],
                "oracles": [{"level": "r2SCAN@SevenNet-MF-0", "kind": "pretrained"}],
            }
        )
    )
    ladder = cfg.ladder()
    assert ladder.top.name == "r2SCAN@SevenNet-MF-0"
    assert ladder.top.theory == "r2SCAN" and ladder.top.code == "SevenNet-MF-0"


def test_config_hash_matches_the_run_directory_hash():
    """ingest/resume compare a config with the run directory's record: one hash for both."""
    from qaware.store.run_directory import config_hash as run_dir_hash

    cfg = parse_config("campaign: {budget: 12}\n")
    assert config_hash(cfg) == run_dir_hash(cfg.model_dump(mode="json"))
