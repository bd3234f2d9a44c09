"""The fidelity ladder: order, weights, stand-in naming rule."""

from __future__ import annotations

import pytest

from qaware.errors import ConfigError
from qaware.fidelity import DEFAULT_LADDER, Fidelity, FidelityLadder


def test_default_ladder_order_and_weights():
    assert DEFAULT_LADDER.low.name == "PBE" and DEFAULT_LADDER.top.name == "CCSD(T)"
    assert DEFAULT_LADDER.weights() == (0.1, 0.3, 0.5, 1.0)
    assert [DEFAULT_LADDER.rank(n) for n in DEFAULT_LADDER.names] == [0, 1, 2, 3]
    assert DEFAULT_LADDER["HSE06"].weight == 0.5
    assert "r2SCAN" in DEFAULT_LADDER and "SCAN" not in DEFAULT_LADDER


def test_user_ladder():
    ladder = FidelityLadder(
        (Fidelity("GFN2-xTB", kind="empirical"), Fidelity("PBE"), Fidelity("HSE06"))
    )
    assert ladder.names == ("GFN2-xTB", "PBE", "HSE06")
    assert ladder[1].name == "PBE" and len(ladder) == 3


def test_stand_in_must_name_its_code():
    with pytest.raises(ConfigError, match="SevenNet"):
        Fidelity("r2SCAN", kind="stand-in")
    level = Fidelity("r2SCAN@SevenNet-MF-0", kind="stand-in")
    assert (level.theory, level.code) == ("r2SCAN", "SevenNet-MF-0")
    assert Fidelity("CCSD(T)").code is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": ""}, "non-empty"),
        ({"name": "PBE", "weight": 0}, "weight"),
        ({"name": "PBE", "cost": -1}, "cost"),
    ],
)
def test_bad_levels(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Fidelity(**kwargs)


def test_duplicate_or_unknown_levels():
    with pytest.raises(ConfigError, match="duplicate"):
        FidelityLadder((Fidelity("PBE"), Fidelity("PBE")))
    with pytest.raises(ConfigError, match="not on the ladder"):
        DEFAULT_LADDER.rank("MP2")
    with pytest.raises(ConfigError, match="at least one"):
        FidelityLadder(())
