"""laws/priors.py: the public spelling ba.priors.* and make_prior (the CLI's --prior)."""

from __future__ import annotations

import numpy as np
import pytest

import biper_analysis as ba
from biper_analysis import laws
from biper_analysis.laws.priors import PRIOR_NAMES, Empirical, Gaussian, Laplace, StudentT, make_prior


def test_priors_are_the_registered_laws():
    assert (ba.priors.Laplace, ba.priors.Gaussian, ba.priors.StudentT, ba.priors.Empirical) == (
        laws.Laplace,
        laws.Gaussian,
        laws.StudentT,
        laws.Empirical,
    )
    for name in PRIOR_NAMES:
        assert laws.law_class(name) in (Laplace, Gaussian, StudentT)
    assert isinstance(Empirical([0.1]), laws.Law)


def test_make_prior_and_validation():
    assert make_prior("laplace", 0.05) == Laplace(0.05)
    assert make_prior("Gaussian", 0.05) == Gaussian(0.05) == make_prior("normal", 0.05)
    assert make_prior("student-t", 0.03, df=4) == StudentT(4, 0.03) == make_prior("t", 0.03, df=4)
    with pytest.raises(ValueError, match="df"):
        make_prior("student-t", 0.03)
    with pytest.raises(ValueError, match="laplace, gaussian, student-t"):
        make_prior("cauchy", 1.0)


@pytest.mark.parametrize(
    "p",
    [Laplace(0.05), Gaussian(0.07), StudentT(4.0, 0.03), StudentT(2.5, 1.0), Empirical(np.linspace(-0.1, 0.1, 101))],
    ids=repr,
)
def test_vectorised_float64(p):
    om = np.array([[1.0, 20.0], [100.0, 5.0]])
    for f in (p.expected_sin2, p.expected_abs_sin):
        out = f(om)
        assert out.shape == om.shape and out.dtype == np.float64
        assert np.allclose(out[0, 1], f(20.0), rtol=1e-14, atol=0)
    assert isinstance(p.expected_sin2(20.0), float)
