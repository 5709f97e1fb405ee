"""sweeps: the QE table against independent witnesses (quadrature, finite differences), CSV round trip, errors."""
from __future__ import annotations

import numpy as np
import pytest

from biper_analysis._io.provenance import provenance
from biper_analysis.analysis import qe_grid as sweeps
from biper_analysis.laws.priors import Gaussian, Laplace, StudentT
from biper_analysis.theory import analytic, quadrature


def test_laplace_columns_against_quadrature_and_finite_differences():
    """Every column of a Laplace sweep against scipy quadrature period by period (1e-10) and dQE/dω0 against a
    central difference of the quadrature QE (1e-5)."""
    om = np.array([1.0, 7.0, 20.0, 150.0])
    t = sweeps.qe_sweep(om, [0.01, 0.05], gamma=0.6)
    assert len(t["qe"]) == 8 and list(t) == list(sweeps.COLUMNS)
    np.testing.assert_array_equal(t["omega0"][:4], om)          # scale-major order
    for i, (w, b) in enumerate(zip(t["omega0"], t["scale"])):
        m = quadrature.moments(w, b)
        assert t["e_sin2"][i] == pytest.approx(m["e_sin2"], rel=1e-10)
        assert t["e_abs_sin"][i] == pytest.approx(m["e_abs_sin"], rel=1e-10)
        assert t["qe"][i] == pytest.approx(quadrature.qe(w, b, 0.6), rel=1e-10)
        assert t["qe_min"][i] == pytest.approx(quadrature.qe(w, b, None), rel=1e-10)
        assert t["official_l1"][i] == pytest.approx(1.0 - m["e_abs_sin"], rel=1e-10)
        assert t["normalised_qe"][i] == pytest.approx(quadrature.qe(w, b, 0.6) / m["e_sin2"], rel=1e-10)
        h = 1e-4 * w
        fd = (quadrature.qe(w + h, b, 0.6) - quadrature.qe(w - h, b, 0.6)) / (2 * h)
        assert t["dqe_domega0"][i] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert not t["gamma_is_optimal"].any() and (t["gamma"] == 0.6).all()


def test_other_laws_against_quadrature():
    for law in (Gaussian(0.04), StudentT(4.0, 0.03)):
        t = sweeps.qe_table([5.0, 20.0], [law], gamma=None)
        for i, w in enumerate(t["omega0"]):
            assert t["qe"][i] == pytest.approx(quadrature.qe(w, gamma=None, prior=law), rel=1e-9), law
            assert t["gamma"][i] == pytest.approx(quadrature.moments(w, prior=law)["e_abs_sin"], rel=1e-9)
        assert np.isnan(t["dqe_domega0"]).all() and (t["prior"] == law.name).all()


def test_point_equals_the_closed_form_bit_for_bit():
    row = sweeps.qe_point(20.0, Laplace(0.05), 0.6)
    assert row["qe"] == analytic.qe(20.0, 0.05, 0.6) and row["qe_min"] == analytic.qe_min(20.0, 0.05)
    assert row["b"] == 0.05 and row["df"] is None


def test_csv_round_trip_is_exact(tmp_path):
    t = sweeps.qe_sweep(np.geomspace(1.0, 500.0, 17), [0.01, 0.05], gamma=None)
    path = sweeps.write_csv(t, tmp_path / "s.csv", provenance({"a": 1}, command="sweep"))
    back, prov = sweeps.read_csv(path)
    assert prov["config"] == {"a": 1} and prov["producer"] == "biper-analysis sweep"
    for c in sweeps.COLUMNS:
        if c in ("prior", "gamma_is_optimal"):
            assert list(back[c]) == list(t[c])
        else:
            np.testing.assert_array_equal(back[c], t[c])  # repr floats round-trip exactly (NaN stays NaN)


def test_csv_progress_counts_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "_ROWS_PER_BLOCK", 7)
    t = sweeps.qe_sweep(np.linspace(1.0, 50.0, 20), [0.05])
    seen = []
    sweeps.write_csv(t, tmp_path / "s.csv", {}, progress=seen.append)
    assert seen == [7, 7, 6] and len(sweeps.read_csv(tmp_path / "s.csv")[0]["qe"]) == 20


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
