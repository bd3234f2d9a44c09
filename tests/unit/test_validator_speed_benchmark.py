"""benchmarks/validator_speed.py: the timed cells and architectures are the ones it names."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.campaign.components import BUNDLED_VALIDATOR, bundled_model
from qaware.validator import MFValidator, ModelConfig


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("validator_speed")


@pytest.fixture(scope="module")
def quickstart() -> MFValidator:
    return MFValidator.load(bundled_model(BUNDLED_VALIDATOR))


def test_cells_are_64_atom_mgo_and_cubic_5_atom_srtio3(bench):
    import _validator_speed as speed

    cells = speed.speed_cells()
    assert cells["MgO_64"].get_chemical_formula() == "Mg32O32"
    srtio3 = cells["SrTiO3_5"]
    assert srtio3.get_chemical_formula() == "O3SrTi"
    np.testing.assert_allclose(srtio3.cell.lengths(), [3.905] * 3)
    assert srtio3.get_all_distances(mic=True)[1, 2:].min() == pytest.approx(3.905 / 2)  # Ti–O


def test_default_architectures_are_the_package_defaults(bench, quickstart):
    models = bench.architectures(quickstart)
    default = ModelConfig(levels=quickstart.ladder.names, species=("O",))
    for name, l_max in (("default_l_max_1", 1), ("default_l_max_2", 2)):
        config = models[name].model.config
        assert (config.channels, config.n_layers, config.l_max) == (
            default.channels, default.n_layers, l_max,
        )  # fmt: skip
        assert config.residual_levels and config.species == quickstart.model.config.species
    assert models["quickstart_checkpoint"] is quickstart


def test_timings_record_the_architecture_and_are_positive(bench, quickstart):
    import _validator_speed as speed

    row = speed.validator_timings(quickstart, quickstart.ladder.names[-1], repeats=1)
    assert row["architecture"]["channels"] == quickstart.model.config.channels
    assert row["architecture"]["n_parameters"] > 0
    assert row["MgO_64"]["n_atoms"] == 64 and row["MgO_64"]["mfennp_ms"] > 0
    assert row["predict_5_atom_structures_per_s"] > 0
