"""The validator checks of the end-of-run summary, against hand-computed cases."""

from __future__ import annotations

import pytest

from qaware.report.campaign_summary import validator_on_evaluated


def _row(pred_top: float, top: float, pred_low: float, low: float | None) -> dict[str, float]:
    row = {"pred_e_top": pred_top, "e_form_top": top, "pred_sigma_top": 1.0,
           "pred_e_low": pred_low}  # fmt: skip
    return row if low is None else row | {"e_form_low": low}


def test_ece_and_divergence_r2_on_the_evaluated_rows() -> None:
    # three exact top predictions and a 10σ miss: ECE = mean over p of |0.75 − p| = 5.75 / 19;
    # predicted D = 2 × true D on the rows with a low-level result, so R² = 1
    rows = [_row(0.0, 0.0, 1.0, 0.5), _row(1.0, 1.0, 1.0, 1.0), _row(2.0, 2.0, 3.0, 2.5)]
    rows.append(_row(3.0, 13.0, 2.0, None))  # no low-level call: left out of R², not of ECE
    check = validator_on_evaluated(rows)
    assert check["n"] == 4
    assert check["top_ece"] == pytest.approx(5.75 / 19)
    assert check["divergence_r2"] == pytest.approx(1.0)


def test_too_few_rows_say_none() -> None:
    check = validator_on_evaluated([_row(0.0, 0.0, 1.0, 0.5)])
    assert check == {"n": 1, "divergence_r2": None, "top_ece": None}
    assert validator_on_evaluated([]) == {"n": 0, "divergence_r2": None, "top_ece": None}
