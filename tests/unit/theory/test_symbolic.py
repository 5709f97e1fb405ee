"""The sympy derivation: proves the paper's form, and its derived expressions agree with analytic.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from biper_analysis.theory import analytic, symbolic

X = np.geomspace(1e-2, 1e2, 41)  # moderate x: lambdified sympy (textbook forms) is accurate here


@pytest.fixture(scope="module")
def res():
    return symbolic.results()


def test_derivation_proves_printed_form():
    assert symbolic.proves_printed_form()
    last = symbolic.derivation_steps()[-1]
    assert "printed" in last.title and last.expr.rhs == 0


def test_steps_are_titled_expressions_in_order():
    steps = symbolic.derivation_steps()
    titles = [s.title for s in steps]
    assert titles[0].startswith("Laplace pdf") and len(steps) >= 15
    assert any("geometric series" in t for t in titles)
    assert all(isinstance(s.expr, sp.Basic) for s in steps)


def test_identities_simplify_to_zero(res):
    assert res["normalisation"] == 1
    assert res["coth_difference"] == 0
    assert res["identity_difference"] == 0
    x, g = symbolic.SYMBOLS["x"], symbolic.SYMBOLS["gamma"]
    assert sp.simplify(res["gamma_opt"] - res["e_abs_sin"]) == 0
    assert sp.simplify(res["official_l1"] - (1 - res["e_abs_sin"])) == 0
    assert sp.expand(res["qe_sign"] - (2 * symbolic.SYMBOLS["b"] ** 2 - 2 * g * symbolic.SYMBOLS["b"] + g**2)) == 0
    assert sp.simplify(res["e_sin2"] - 2 * x**2 / (1 + 4 * x**2)) == 0


def test_limits(res):
    g = symbolic.SYMBOLS["gamma"]
    lim0, liminf = res["limits_x0"], res["limits_xinf"]
    assert lim0["e_sin2"] == 0 and lim0["gamma_opt"] == 0 and lim0["qe_min_over_x2"] == 1
    assert sp.expand(lim0["qe"] - g**2) == 0
    assert liminf["e_sin2"] == sp.Rational(1, 2) and sp.simplify(liminf["gamma_opt"] - 2 / sp.pi) == 0
    assert sp.simplify(liminf["qe_min"] - (sp.Rational(1, 2) - 4 / sp.pi**2)) == 0
    assert sp.expand(liminf["qe"] - (g**2 - 4 * g / sp.pi + sp.Rational(1, 2))) == 0
    assert float(liminf["qe_min"]) == pytest.approx(analytic.QE_MIN_LIMIT_LARGE_X, rel=1e-15)


@pytest.mark.parametrize(
    "name, kernel, rtol",
    [
        ("e_sin2", analytic.e_sin2_of_x, 1e-12),
        ("e_abs_sin", analytic.e_abs_sin_of_x, 1e-12),
        ("e_abs_sin3", analytic.e_abs_sin3_of_x, 1e-12),
        ("e_sin4", analytic.e_sin4_of_x, 1e-12),
        ("qe_min", analytic.qe_min_of_x, 1e-12),
        ("gamma_opt", analytic.e_abs_sin_of_x, 1e-12),
        ("d_e_sin2_dx", analytic.d_e_sin2_dx, 1e-12),
        # the textbook derivative cancels O(1/x) terms at x = 100 (the kernel is checked to 1e-13 in test_analytic)
        ("d_e_abs_sin_dx", analytic.d_e_abs_sin_dx, 1e-10),
        ("official_l1", lambda x: 1 - analytic.e_abs_sin_of_x(x), 1e-12),
    ],
)
def test_derived_expressions_equal_numeric_kernels(name, kernel, rtol):
    f = symbolic.lambdified(name)
    np.testing.assert_allclose(f(X), kernel(X.copy()), rtol=rtol)


def test_derived_qe_and_derivative_equal_analytic():
    qe = symbolic.lambdified("qe")
    dqe = symbolic.lambdified("dqe_domega0")
    for g in (0.0, 0.4, 1.0):
        np.testing.assert_allclose(qe(X, g), analytic.qe(X, 1.0, g), rtol=1e-12)
        w = X / 0.05
        np.testing.assert_allclose(dqe(w, 0.05, g), analytic.dqe_domega0(w, 0.05, g), rtol=1e-9, atol=1e-14)
    # the printed form as sympy evaluates it
    symbols = (symbolic.SYMBOLS["omega0"], symbolic.SYMBOLS["b"], symbolic.SYMBOLS["gamma"])
    printed = sp.lambdify(symbols, symbolic.results()["printed_qe"])
    assert printed(20.0, 0.05, 0.6) == pytest.approx(analytic.qe(20.0, 0.05, 0.6), rel=1e-13)
    assert math.isfinite(printed(20.0, 0.05, 0.6))
