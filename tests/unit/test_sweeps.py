"""sweeps.qe_sweep: grid order, columns equal to the closed form, CSV round trip with provenance, errors."""
from __future__ import annotations

import numpy as np
import pytest

from biper_analysis import analytic as A
from biper_analysis import sweeps
from biper_analysis.provenance import provenance


def test_sweep_columns_and_round_trip(tmp_path):
    om = np.geomspace(1.0, 500.0, 17)
    t = sweeps.qe_sweep(om, [0.01, 0.05], gamma=None)
    assert len(t["qe"]) == 34 and list(t) == list(sweeps.COLUMNS)
    np.testing.assert_array_equal(t["omega0"][:17], om)  # scale-major order
    np.testing.assert_allclose(t["qe"][17:], A.qe_min(om, 0.05), rtol=1e-15)
    np.testing.assert_allclose(t["gamma"], t["gamma_opt"], rtol=0)
    np.testing.assert_allclose(t["official_l1"], 1 - t["e_abs_sin"], rtol=1e-15)
    t6 = sweeps.qe_sweep(om, [0.05], gamma=0.6)
    np.testing.assert_allclose(t6["qe"], A.qe(om, 0.05, 0.6), rtol=1e-15)
    path = sweeps.write_csv(t, tmp_path / "s.csv", provenance({"a": 1}, seed=None))
    back, prov = sweeps.read_csv(path)
    assert prov["config"] == {"a": 1}
    for c in sweeps.COLUMNS:
        if c in ("prior", "gamma_is_optimal"):
            assert list(back[c]) == list(t[c])
        elif c != "df":
            np.testing.assert_array_equal(back[c], t[c])  # repr floats round-trip exactly


def test_other_priors_if_available():
    priors = pytest.importorskip("biper_analysis.priors")
    t = sweeps.qe_sweep([20.0], [0.04], gamma=0.6, prior="gaussian")
    p = priors.Gaussian(0.04)
    assert t["qe"][0] == pytest.approx(A._qe_from_moments(p.expected_sin2(20.0), p.expected_abs_sin(20.0), 0.6),
                                       rel=1e-15)
    t = sweeps.qe_sweep([20.0], [0.04], prior="student-t", df=4.0)
    assert t["qe"][0] > 0 and t["df"][0] == 4.0


@pytest.mark.parametrize("kwargs, needle", [
    ({"omega0": [0.0, 1.0], "scales": [0.05]}, "omega0"),
    ({"omega0": [1.0], "scales": [-0.05]}, "scale"),
    ({"omega0": [1.0], "scales": [0.05], "gamma": -1.0}, "gamma"),
    ({"omega0": [1.0], "scales": [0.05], "prior": "cauchy"}, "prior"),
    ({"omega0": [1.0], "scales": [0.05], "prior": "student-t"}, "df"),
    ({"omega0": [1.0], "scales": [0.05], "df": 3.0}, "df"),
])
def test_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        sweeps.qe_sweep(**kwargs)
