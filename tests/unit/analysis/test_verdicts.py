"""analysis/verdicts.py: every verdict rule, its pass and its fail path."""

from __future__ import annotations

import math

import pytest

from biper_analysis.analysis.verdicts import (
    CREST_Z,
    crest_density_ratio,
    crest_excess_z,
    laplace_verdict,
    rel_err,
    row_warnings,
    within_tolerance,
)


def test_laplace_verdict_each_reason():
    assert laplace_verdict(0.01, 0.02, 0.1005, 0.100, 0.001) == ("ok", [])
    verdict, reasons = laplace_verdict(0.03, 0.02, 0.1005, 0.100, 0.001)  # KS only
    assert verdict == "misfit" and len(reasons) == 1 and reasons[0].startswith("KS distance 0.030 > 0.020")
    verdict, reasons = laplace_verdict(0.01, 0.02, 0.115, 0.100, 0.001)  # QE off by 15 % > max(3 SE, 5 %)
    assert verdict == "misfit" and len(reasons) == 1 and "rel_err +0.150" in reasons[0]
    assert laplace_verdict(0.01, 0.02, 0.1072, 0.100, 0.001)[0] == "misfit"  # +7.2 % and 7 SE: flagged now
    assert laplace_verdict(0.01, 0.02, 0.1072, 0.100, 0.003)[0] == "ok"  # within 3 SE
    assert laplace_verdict(0.01, 0.02, 0.115, 0.100, 0.006)[0] == "ok"  # 3 SE = 0.018 covers it
    assert len(laplace_verdict(0.05, 0.02, 0.2, 0.1, 0.001)[1]) == 2


def test_within_tolerance_and_rel_err():
    assert within_tolerance(0.105, 0.100, 0.0) and not within_tolerance(0.1051, 0.100, 0.0)
    assert within_tolerance(0.109, 0.100, 0.005) and not within_tolerance(0.111, 0.100, 0.005)
    assert rel_err(0.11, 0.1) == pytest.approx(0.1) and math.isnan(rel_err(1.0, 0.0))
    assert math.isnan(rel_err(1.0, math.nan))


def test_crest_rules():
    uniform = {"n": 10000, "near_zero_frac": 0.25, "near_crest_frac": 0.25, "n_nonfinite": 0, "name": "u"}
    assert crest_density_ratio(uniform) == 1.0 and crest_excess_z(uniform) < 0
    piled = {**uniform, "near_zero_frac": 0.05, "near_crest_frac": 0.9, "name": "c"}
    assert crest_density_ratio(piled) > 3 and crest_excess_z(piled) > CREST_Z
    assert crest_density_ratio({"near_zero_frac": 0.5, "near_crest_frac": 0.5}) == math.inf
    assert math.isnan(crest_density_ratio({"near_zero_frac": 1.0, "near_crest_frac": 0.0}))
    assert math.isnan(crest_excess_z({"n": 0, "near_zero_frac": 0.5, "near_crest_frac": 0.5}))
    assert row_warnings(uniform) == []
    (warning,) = row_warnings(piled)
    assert warning.startswith("layer c: 90% of the weights sit near crests")
    few = {**piled, "n": 20}  # 18 < CREST_MIN_COUNT weights
    assert row_warnings(few) == []


def test_row_warnings_for_nonfinite_and_misfit_layers():
    row = {"name": "l", "n": 0, "n_nonfinite": 5, "near_zero_frac": math.nan, "near_crest_frac": math.nan}
    assert row_warnings(row) == ["layer l: all 5 weights are NaN/inf (layer not analysed)"]
    row = {
        "name": "l",
        "n": 95,
        "n_nonfinite": 5,
        "laplace_verdict": "misfit",
        "laplace_reasons": ["a", "b"],
        "near_zero_frac": 0.25,
        "near_crest_frac": 0.25,
    }
    assert row_warnings(row) == [
        "layer l: 5 of 100 weights are NaN/inf (left out; the rest analysed)",
        "layer l: Laplace(0, b) misfit: a; b",
    ]
