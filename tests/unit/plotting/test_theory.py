"""Theory figures: each returns a Figure with the expected content; the triangle wave matches sin's zeros."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.plotting import save_figure, theory
from biper_analysis.theory import analytic


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_binarizer_curves_come_from_the_training_binarizer():
    # sine: latent sin(ω0 w), autograd gradient ω0 cos(ω0 w); triangle: same zeros and sign, slope ±2ω0/π
    w = np.linspace(-1, 1, 20001)
    om = 20.0
    sine, tri = theory.binarizer_curves(om, w, "sine"), theory.binarizer_curves(om, w, "triangle")
    np.testing.assert_allclose(sine["latent"], np.sin(om * w), rtol=0, atol=1e-15)
    np.testing.assert_allclose(sine["gradient"], om * np.cos(om * w), rtol=0, atol=1e-13)
    s = np.sin(om * w)
    mask = np.abs(s) > 1e-9
    assert np.array_equal(np.sign(tri["latent"][mask]), np.sign(s[mask]))
    assert np.array_equal(sine["binary"][mask], np.sign(s[mask])) and np.array_equal(tri["binary"], sine["binary"])
    inner = np.abs(np.cos(om * w)) > 0.05
    np.testing.assert_allclose(np.abs(tri["gradient"][inner]), 2 * om / math.pi, rtol=1e-15)


def test_qe_vs_omega0_figure():
    fig = theory.fig_qe_vs_omega0(np.geomspace(1, 100, 20), bs=(0.01, 0.05), gamma=0.6)
    left, right = fig.axes
    y = left.lines[0].get_ydata()
    np.testing.assert_allclose(y, analytic.qe(np.geomspace(1, 100, 20), 0.01), rtol=1e-15)
    np.testing.assert_allclose(right.lines[1].get_ydata(), analytic.qe(np.geomspace(1, 100, 20), 0.05, 0.6), rtol=1e-15)


def test_qe_min_figure_marks_peak_and_limits():
    fig = theory.fig_qe_min(np.geomspace(1e-2, 1e2, 50))
    ax = fig.axes[0]
    x_peak, q_peak = analytic.qe_min_peak()
    peak_marks = [ln for ln in ax.lines if len(ln.get_xdata()) == 1]
    assert peak_marks and abs(peak_marks[0].get_ydata()[0] - q_peak) < 1e-15
    hlines = [ln.get_ydata()[0] for ln in ax.lines if len(set(ln.get_ydata())) == 1 and len(ln.get_ydata()) == 2]
    assert any(abs(h - analytic.QE_MIN_LIMIT_LARGE_X) < 1e-15 for h in hlines)
    assert fig.axes[1].get_ylabel() == "γ*"


def test_priors_equal_variance_figure():
    fig = theory.fig_priors_equal_variance(variance=0.005, df=4.0, omega0=np.geomspace(1, 100, 12))
    ax = fig.axes[0]
    assert len([ln for ln in ax.lines if len(ln.get_xdata()) == 12]) == 3
    with pytest.raises(ValueError, match="df > 2"):
        theory.fig_priors_equal_variance(df=2.0)


def test_inverse_map_figure_has_two_branches():
    fig = theory.fig_inverse_map(np.array([0.01, 0.05, 0.095, 0.1, 0.102]))
    ax = fig.axes[0]
    rising, falling = ax.lines[0], ax.lines[1]
    assert len(rising.get_xdata()) == 5 and len(falling.get_xdata()) == 3
    x_peak = analytic.qe_min_peak()[0]
    assert np.all(falling.get_ydata() > x_peak) and np.all(rising.get_ydata() < x_peak)


def test_binary_periodic_figure_and_save(tmp_path):
    fig = theory.fig_binary_periodic(20.0, np.linspace(-0.3, 0.3, 601))
    assert len(fig.axes) == 3
    sq = fig.axes[0].lines[1].get_ydata()
    assert set(np.unique(sq)) <= {-1.0, 0.0, 1.0}
    paths = save_figure(fig, tmp_path / "binary_periodic", formats=("png",))
    assert paths[0].exists() and paths[0].stat().st_size > 10_000
