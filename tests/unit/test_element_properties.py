"""The element table shared by the composition validator and the descriptor proxy."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.element_properties import ELEMENT_PROPERTIES, element_properties


def _row(symbol: str) -> dict[str, float]:
    return dict(zip(ELEMENT_PROPERTIES, element_properties(symbol), strict=True))


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        (
            "Fe",
            {"Z": 26, "group": 8, "row": 4, "n_s_valence": 2, "n_d_valence": 6, "n_p_valence": 0},
        ),
        ("O", {"Z": 8, "group": 16, "row": 2, "n_s_valence": 2, "n_p_valence": 4}),
        ("La", {"Z": 57, "row": 6, "n_s_valence": 2, "n_d_valence": 1, "n_f_valence": 0}),
    ],
)
def test_known_rows(symbol: str, expected: dict[str, float]) -> None:
    row = _row(symbol)
    for key, value in expected.items():
        assert row[key] == value, (symbol, key, row[key])


def test_electronegativity_orders_and_noble_gas_has_zero() -> None:
    assert _row("F")["X"] > _row("O")["X"] > _row("Fe")["X"] > _row("Cs")["X"] > 0
    assert _row("Ar")["X"] == 0.0  # no Pauling value: 0, not NaN
    assert np.all(np.isfinite(element_properties("Fm")))  # Z = 100, the last the proxy uses
