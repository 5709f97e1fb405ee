"""omega0_for_qe: all roots, on both branches of QE_min or at a fixed γ; unreachable targets name the range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biper_analysis as ba
from biper_analysis.laws.priors import Gaussian
from biper_analysis.theory import analytic
from biper_analysis.theory.inverse import attainable_range, omega0_for_qe

X_PEAK, Q_PEAK = analytic.qe_min_peak()
LIMIT = analytic.QE_MIN_LIMIT_LARGE_X


def reproduces(roots, target, b, gamma=None, tol=1e-10):
    for w in roots:
        assert abs(ba.qe(float(w), b, gamma) - target) <= tol * target, (w, target)


def test_roots_at_b1_for_005_and_010():
    """At b = 1: 0.05 lies below the large-x limit of QE_min (≈ 0.0947), so only the rising branch reaches it (one
    root); 0.10 lies between that limit and the peak (≈ 0.1028), so both branches do (two roots, either side of the
    peak). The roots are pinned to 1e-7 as regression values, and each reproduces its target to 1e-10."""
    r05 = omega0_for_qe(0.05, b=1.0)
    r10 = omega0_for_qe(0.10, b=1.0)
    assert r05.shape == (1,) and r10.shape == (2,)
    np.testing.assert_allclose(r05, [0.27185876], rtol=1e-7)
    np.testing.assert_allclose(r10, [0.69224965, 1.61030948], rtol=1e-7)
    assert r10[0] < X_PEAK < r10[1]
    reproduces(r05, 0.05, 1.0)
    reproduces(r10, 0.10, 1.0)


def test_roots_scale_as_one_over_b():
    np.testing.assert_allclose(omega0_for_qe(0.1, b=0.037), omega0_for_qe(0.1, b=1.0) / 0.037, rtol=1e-13)


def test_peak_limit_and_root_counts():
    assert len(omega0_for_qe(Q_PEAK, b=1.0)) == 1
    assert abs(omega0_for_qe(Q_PEAK, b=1.0)[0] - X_PEAK) < 1e-12
    assert len(omega0_for_qe(LIMIT, b=1.0)) == 1  # the falling branch only reaches it at ∞
    assert len(omega0_for_qe(0.5 * LIMIT, b=1.0)) == 1
    near = omega0_for_qe(LIMIT + 1e-9, b=1.0)
    assert len(near) == 2 and near[1] > 1e3  # QE_min − limit ~ 0.019/x²
    reproduces(near, LIMIT + 1e-9, 1.0, tol=1e-12)


@pytest.mark.parametrize("target", [0.0, -0.1, Q_PEAK * (1 + 1e-9), 0.2])
def test_unreachable_optimal_gamma_names_the_range(target):
    with pytest.raises(ValueError) as exc:
        omega0_for_qe(target, b=1.0)
    assert "0.1028346" in str(exc.value) or "target must be > 0" in str(exc.value)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(1e-6, 1.0 - 1e-9), logb=st.floats(-3, 1))
def test_every_root_reproduces_target_property(u, logb):
    target = u * Q_PEAK
    b = 10.0**logb
    roots = omega0_for_qe(target, b=b)
    assert len(roots) == (2 if target > LIMIT else 1)
    assert np.all(np.diff(roots) > 0)
    reproduces(roots, target, b)


@pytest.mark.parametrize(
    "gamma,target,n", [(1.0, 0.5, 1), (1.0, 0.2268, 1), (0.3, 0.05, 2), (0.3, 0.1, 1), (0.6, 0.1, 1), (0.6, 0.2, 1)]
)
def test_fixed_gamma_roots(gamma, target, n):
    roots = omega0_for_qe(target, b=0.037, gamma=gamma)
    assert len(roots) == n
    reproduces(roots, target, 0.037, gamma)


def test_fixed_gamma_unreachable_and_range():
    lo, hi = attainable_range(1.0)
    assert hi == 1.0 and abs(lo - (1 - 4 / math.pi + 0.5)) < 1e-6  # γ = 1 falls monotonically to its limit
    with pytest.raises(ValueError, match=r"γ = 1.0.*0\.2267"):
        omega0_for_qe(0.1, b=0.037, gamma=1.0)
    lo, hi = attainable_range(None)
    assert lo == 0.0 and abs(hi - 0.1028346090) < 1e-9


def test_gamma_one_is_monotone():
    """QE at γ = 1 falls monotonically (so one root for every attainable target)."""
    x = np.geomspace(1e-4, 1e4, 2001)
    q = ba.qe(x, 1.0, 1.0)
    assert np.all(np.diff(q) < 0)


def test_other_prior():
    p = Gaussian(0.05)
    for target, n in ((0.09, 1), (0.096, 2)):  # the Gaussian QE_min also peaks, then falls to 1/2 − 4/π²
        roots = omega0_for_qe(target, prior=p)
        assert len(roots) == n
        for w in roots:
            assert abs(ba.qe(float(w), prior=p) - target) < 1e-10 * target
    with pytest.raises(ValueError, match="not attainable"):
        omega0_for_qe(0.1, prior=p)  # the Gaussian QE_min peaks lower (≈0.0970)


def test_argument_errors():
    with pytest.raises(ValueError, match="b must be > 0"):
        omega0_for_qe(0.05, b=-1.0)
    with pytest.raises(ValueError, match="required"):
        omega0_for_qe(0.05)
    with pytest.raises(ValueError, match="single"):
        omega0_for_qe([0.05, 0.06], b=1.0)
    assert ba.omega0_for_qe is omega0_for_qe
