"""Checks every weight law must pass (the protocol of biper_analysis.laws.base), shared by the per-law test modules,
and the frozen mpmath reference of the exponential-power laws.

Tolerances and why:
* moments and normaliser vs tests/reference/laws_reference.json (mpmath, 30 digits): 1e-10 relative (measured
  worst 2.7e-14; see biper_analysis/laws/_quadrature.py);
* pdf integrates to 1 and the CDF is its integral: 1e-10 / 1e-9 (adaptive quadrature of the pdf, 1e-12 asked);
* statistical checks are seeded (repeatable); each states its significance level or k·SE.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy import integrate, stats

from biper_analysis.laws import law_from_dict, n_params

REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "laws_reference.json").read_text())
W0 = 20.0
SPACING = math.pi / W0


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


def omega_ratio(text: str) -> float:
    """A row's ω/ω0 ("1", "3/2" or a decimal)."""
    return float(Fraction(text)) if ("/" in text or text == "1") else float(text)


def reference_rows(kind: str) -> list[dict[str, Any]]:
    """The reference rows of one law: "gennorm" (κ = 0), "penalised" (one κ), "penalised2" (with κ0) or
    "penalised-alpha" (with α)."""
    rows = REF["rows"]
    if kind == "gennorm":
        return [r for r in rows if float(r["kappa"]) == 0 and "kappa0" not in r]
    if kind == "penalised":
        return [r for r in rows if "kappa0" not in r]
    if kind == "penalised2":
        return [r for r in rows if "kappa0" in r and "alpha" not in r]
    return [r for r in rows if "alpha" in r]


def assert_reference(
    rows: Iterable[dict[str, Any]], make: Callable[[dict[str, Any]], Any], tol: float = 1e-10, normaliser: bool = True
) -> None:
    """Every row's normaliser (2·I_one, when ``normaliser``), E sin² and E|sin| at ω = a·ratio against the law
    ``make(row)`` (scale s = 1, ω0 = a): the worst relative error over all rows and quantities, named, < ``tol``."""
    errors = []
    for r in rows:
        law = make(r)
        omega = float(r["a"]) * omega_ratio(r["omega_over_omega0"])
        e2, e1 = law.moments(omega)
        errors.append((rel(e2, float(r["e_sin2"])), "e_sin2", r))
        errors.append((rel(e1, float(r["e_abs_sin"])), "e_abs_sin", r))
        if normaliser:
            errors.append((rel(law.normaliser(), 2.0 * float(r["I_one"])), "normaliser", r))
    assert errors
    worst, what, row = max(errors, key=lambda e: e[0])
    label = {k: row[k] for k in ("beta", "kappa", "kappa0", "alpha", "a", "omega_over_omega0") if k in row}
    assert worst < tol, f"worst relative error {worst:.2e} ({what}) of {len(errors)} at row {label}"


# ------------------------------------------------------------------------------------------------- the protocol
def _edges(law: Any, lo: float, hi: float) -> np.ndarray:
    pts = np.arange(math.floor(lo / SPACING), math.ceil(hi / SPACING) + 1) * SPACING
    return np.unique(np.concatenate([[lo, 0.0, hi], pts[(pts > lo) & (pts < hi)]]))


def check_pdf_and_cdf(law: Any, hi: float) -> None:
    """The pdf integrates to 1 over [−hi, hi] (pieces split at 0 and the zeros kπ/ω0), the CDF is its integral,
    F(0) = ½, and logpdf = log pdf."""
    e = _edges(law, -hi, hi)
    pieces = [
        integrate.quad(lambda x: float(law.pdf(x)), lo, up, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
        for lo, up in zip(e[:-1], e[1:])
    ]
    assert abs(sum(pieces) - 1.0) < 1e-10
    F = law.cdf(e)
    np.testing.assert_allclose(np.diff(F), pieces, rtol=1e-9, atol=1e-13)
    assert abs(F[0]) < 1e-10 and abs(F[-1] - 1.0) < 1e-10
    assert abs(float(law.cdf(0.0)) - 0.5) < 1e-15
    x = e[1:-1][law.pdf(e[1:-1]) > 1e-300]
    np.testing.assert_allclose(law.logpdf(x), np.log(law.pdf(x)), rtol=1e-12)


def check_cdf_monotone_and_symmetric(law: Any) -> None:
    x = np.concatenate([np.linspace(-1.0, 1.0, 200001), np.geomspace(1e-12, 1.0, 2001)])
    x.sort()
    F = law.cdf(x)
    assert np.all(np.diff(F) >= 0)
    np.testing.assert_allclose(F + law.cdf(-x), 1.0, atol=2e-16)


def check_sampler(law: Any) -> None:
    """KS test of 20000 seeded draws against the law's own CDF at significance 1e-3 (fails 1 in 1000 seeds), and
    |mean w² − Var| < 5 SE."""
    x = law.sample(np.random.default_rng(12345), 20000)
    assert x.shape == (20000,) and x.dtype == np.float64
    assert stats.kstest(x, law.cdf).pvalue > 1e-3
    se = math.sqrt(np.var(x * x) / x.size)
    assert abs(np.mean(x * x) - law.variance()) < 5 * se


def check_interface_and_round_trip(law: Any) -> None:
    """The protocol's attributes, vectorised float64 moments (moments = (expected_sin2, expected_abs_sin)), a
    stable 1 − φ, and an exact JSON round trip through the law file's serialiser."""
    for attr in ("name", "n_params", "params", "scale", "omega0", "is_symmetric", "style", "version", "order"):
        assert hasattr(law, attr)
    assert law.is_symmetric is True and n_params(law) == law.n_params == len(law.params)
    d = law.to_dict()
    again = law_from_dict(json.loads(json.dumps(d)))
    assert again == law and again.to_dict() == d and type(again) is type(law)
    assert isinstance(law.expected_sin2(20.0), float)
    assert law.moments(20.0) == (law.expected_sin2(20.0), law.expected_abs_sin(20.0))
    assert law.expected_abs_sin(np.array([10.0, 20.0])).shape == (2,)
    assert law.omega0 is None or law.omega0 == W0
    assert isinstance(repr(law), str)
    t = np.array([0.0, 1e-6, 3.0, 40.0])
    np.testing.assert_allclose(law.characteristic_function(t), 1 - law.one_minus_cf(t), atol=1e-15)


def predicted_qe_within_4se(law: Any) -> None:
    """QE_min = E sin² − (E|sin|)² of the law vs the QE measured on 400k of its own seeded draws, within 4 SE."""
    from biper_analysis.theory import analytic

    x = law.sample(np.random.default_rng(11), 400_000)
    s = np.sin(W0 * x)
    a, q = np.abs(s), s * s
    m1, m2 = a.mean(), q.mean()
    var = np.var(q) - 4 * m1 * np.mean((q - m2) * (a - m1)) + 4 * m1 * m1 * np.var(a)
    se = math.sqrt(var / x.size)
    pred = float(analytic.qe_from_moments(*law.moments(W0), None))
    assert abs(pred - (m2 - m1 * m1)) < 4 * se
