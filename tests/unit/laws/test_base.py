"""laws/base.py: the law protocol's shared parts, parameter checks and the registry (register, look up, undo)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from biper_analysis import laws
from biper_analysis.laws import Comb, Gaussian, GenNorm, Laplace, Law, Penalised, StudentT
from biper_analysis.laws.base import FRACTION, POSITIVE, check_param, closed_form_info, register


def test_registry_lists_every_law_in_order():
    assert (
        laws.law_names(fittable=True)
        == (
            "laplace",
            "gaussian",
            "gennorm",
            "penalised",
            "penalised2",
            "penalised-alpha",
            "comb",
            "harmonic",
            "maxent",
        )
        == laws.MODELS
    )
    assert laws.law_names(fittable=False) == ("student-t", "empirical")
    assert laws.law_names() == laws.law_names(fittable=True) + laws.law_names(fittable=False)
    assert laws.law_versions(fittable=True) == [[n, "1"] for n in laws.MODELS]


def test_law_info_is_derived_from_the_class():
    info = laws.law_info("Penalised2")  # case-insensitive
    assert (info.name, info.n_params, info.needs_omega0, info.fittable, info.closed_form) == (
        "penalised2",
        4,
        True,
        True,
        False,
    )
    lap = laws.law_info("laplace")
    assert (lap.n_params, lap.needs_omega0, lap.closed_form, lap.style) == (1, False, True, ("C0", "-"))
    assert laws.law_info("student-t").fittable is False and laws.law_class("gennorm") is GenNorm
    styles = [laws.law_style(n) for n in laws.MODELS]
    assert len(set(styles)) == len(styles)  # one look per law in every figure
    assert laws.law_style("no-such-law") == ("C7", "-")


@pytest.mark.parametrize(
    "name, fittable, needle",
    [
        ("zeta", False, "unknown law 'zeta'"),
        ("student-t", True, "law that cannot be fitted"),
        ("all", False, "unknown law"),
    ],
)
def test_law_class_refuses_with_the_choices(name, fittable, needle):
    with pytest.raises(ValueError) as e:
        laws.law_class(name, fittable=fittable)
    assert needle in str(e.value) and "laplace, gaussian" in str(e.value)


@dataclass(frozen=True)
class _Half(Law):
    """A trivial law for the registry tests: Laplace written with c = 2b."""

    c: float
    name = "half-test"
    order = 999
    omega0 = None
    PARAMS = {"c": POSITIVE}


def test_registered_is_undone_and_names_are_checked():
    before = laws.law_names()
    with laws.registered(_Half):
        assert laws.law_names()[-1] == "half-test" and laws.law_class("half-test") is _Half
        with pytest.raises(ValueError, match="already registered"):
            register(type("Other", (_Half,), {"__module__": __name__}))
    assert laws.law_names() == before
    with pytest.raises(ValueError, match="already registered"):
        with laws.registered(Laplace):
            pass
    assert laws.law_class("laplace") is Laplace  # a refused registration leaves the registry as it was
    for bad in ("", "All", "all", "a,b", "f:g"):
        with pytest.raises(ValueError, match="law name"):
            register(type("Bad", (_Half,), {"name": bad, "__module__": __name__}))
    with pytest.raises(TypeError, match="neither fit_stats nor fit_sample"):
        register(type("NoFit", (_Half,), {"name": "nofit", "fittable": True, "__module__": __name__}))
    with pytest.raises(TypeError, match="not a Law"):
        register(int)
    assert laws.law_names() == before


def test_derived_parts_of_the_protocol():
    law = _Half(0.1)
    assert (
        law.params == {"c": 0.1}
        and law.n_params == 1
        and law.to_dict() == {"name": "half-test", "params": {"c": 0.1}, "omega0": None}
    )
    assert not _Half.needs_omega0() and Penalised.needs_omega0() and Comb.needs_omega0()
    assert not _Half.closed_form() and Laplace.closed_form() and Gaussian.closed_form()
    assert law.fit_info == {} and law == _Half(0.1)
    law.fit_info["n_fit"] = 3  # not a parameter: equality ignores it
    assert law == _Half(0.1) and _Half(0.1).fit_info == {}
    for missing in (law.logpdf, law.cdf, law.expected_sin2):
        with pytest.raises(NotImplementedError):
            missing(0.1)
    with pytest.raises(NotImplementedError):
        _Half.fit_sample(np.ones(3), None, lambda name: None)
    assert law.loglik_of_stats(None) is None and law._qe_se_closed_form(20.0, None, 10) is None
    assert closed_form_info(5, "x") == {"n_fit": 5, "converged": True, "iterations": 0, "method": "x"}


def test_default_characteristic_function_from_the_moments():
    """1 − φ(t) = 2 E sin²(t w/2) for every law; the default (GenNorm's) agrees with the exact Laplace one at β = 1."""
    t = np.array([0.0, 1e-8, 0.5, 20.0, 300.0])
    np.testing.assert_allclose(
        GenNorm(0.05, 1.0).one_minus_cf(t), Laplace(0.05).one_minus_cf(t), rtol=1e-12, atol=1e-300
    )
    assert GenNorm(0.05, 1.0).characteristic_function(0.0) == 1.0


def test_moments_validate_omega_and_keep_shape():
    law = StudentT(4.0, 0.03)
    e2, e1 = law.moments(np.array([[1.0, 20.0]]))
    assert e2.shape == e1.shape == (1, 2) and isinstance(law.moments(20.0)[0], float)
    for bad in (0.0, -1.0, math.nan, "x"):
        with pytest.raises(ValueError, match="omega"):
            law.moments(bad)


@pytest.mark.parametrize(
    "value, bounds, needle",
    [
        (-1.0, POSITIVE, "b must be > 0, got -1.0"),
        (1.5, FRACTION, "b must be in [0, 1), got 1.5"),
        (math.nan, POSITIVE, "b must be > 0"),
        ([1.0, 2.0], POSITIVE, "single number"),
        ("x", POSITIVE, "real number"),
    ],
)
def test_check_param_names_the_range(value, bounds, needle):
    with pytest.raises(ValueError) as e:
        check_param("b", value, bounds)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert check_param("b", np.float32(0.5), FRACTION) == 0.5 and check_param("b", 0, FRACTION) == 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: GenNorm(-1.0, 1.0),
        lambda: Penalised(0.1, 1.0, -1.0, 20.0),
        lambda: Comb(0.1, 0.01, 0.01, 1.5, 0.1, 20.0),
        lambda: Penalised(0.1, float("nan"), 1.0, 20.0),
        lambda: Penalised(0.1, 1.0, 1.0, 0.0),
        lambda: Laplace(-1.0),
        lambda: Gaussian([1.0, 2.0]),
        lambda: StudentT(0.0, 1.0),
    ],
)
def test_bad_parameters_raise(make):
    with pytest.raises(ValueError):
        make()
