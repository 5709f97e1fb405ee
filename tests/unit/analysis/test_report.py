"""report.py: rows equal scipy / direct numpy computations, totals, NaN handling, JSON and CSV output."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import scipy.stats as ss
import torch

import biper_analysis as ba
from biper_analysis import (
    analytic,
    checkpoints,
)
from biper_analysis.analysis.report import COLUMNS, analyze_checkpoint, law_list
from biper_analysis.theory.weights import weight_stats
from tests.checkpoint_factory import binarised_conv_names, make_state_dict, official_checkpoint, save_official

R20 = "resnet20_1w1a"
OMEGA0 = 20.0


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    bs = list(np.geomspace(0.005, 0.2, 18))  # x = ω0·b from 0.1 to 4: both sides of the QE_min peak
    path = save_official(tmp_path_factory.mktemp("rep"), R20, omega0=OMEGA0, b=bs, seed=11)
    return path, make_state_dict(R20, b=bs, seed=11)


@pytest.fixture(scope="module")
def report(official):
    return ba.analyze_checkpoint(official[0])


def test_rows_equal_scipy_and_direct_computation(official, report):
    _, sd = official
    assert [r["name"] for r in report.rows] == binarised_conv_names(R20)
    assert report.omega0 == OMEGA0
    for row in report.rows:
        w = sd[row["name"]].numpy().astype(np.float64).ravel()
        loc, scale = ss.laplace.fit(w)
        assert row["n"] == w.size
        assert row["loc"] == pytest.approx(loc, rel=1e-12, abs=1e-15)
        assert row["b"] == pytest.approx(scale, rel=1e-12)
        assert row["b_loc0"] == pytest.approx(np.mean(np.abs(w)), rel=1e-12)
        b0 = np.mean(np.abs(w))
        assert row["ks_stat"] == pytest.approx(ss.kstest(w, "laplace", args=(0.0, b0)).statistic, rel=1e-9)
        assert row["ks_laplace_freeloc"] == pytest.approx(
            ss.kstest(w, "laplace", args=(loc, scale)).statistic, rel=1e-9
        )
        s = np.sin(OMEGA0 * w)
        direct = np.mean(s * s) - np.mean(np.abs(s)) ** 2
        # float32 weights: elementwise float32, sums float64 (fitting.sin_stats) -> 1e-7 relative
        assert row["qe_emp"] == pytest.approx(direct, rel=1e-7)
        assert row["qe_pred"] == pytest.approx(float(analytic.qe_min(OMEGA0, np.mean(np.abs(w)))), rel=1e-13)
        assert row["official_l1"] == pytest.approx(np.mean(np.abs(s - np.sign(s))), rel=1e-7)
        assert row["rel_err"] == pytest.approx((row["qe_pred"] - row["qe_emp"]) / row["qe_emp"], rel=1e-12)
        assert row["b_ci_low"] < row["b"] < row["b_ci_high"]


@pytest.mark.statistical
def test_laplace_weights_are_recognised_as_laplace(official, report):
    """Laplace(0, b) weights: AIC prefers Laplace to Gaussian and KS accepts it in every layer (18 layers, x = ω0·b
    from 0.1 to 4); qe_emp_se is the statistics function's SE (that a Laplace sample meets the closed form within
    5 SE is tested once, in test_weights.py)."""
    _, sd = official
    for row in report.rows:
        assert row["qe_emp_se_iid"] == weight_stats(sd[row["name"]].numpy(), OMEGA0).qe_se(), row["name"]
        assert row["qe_emp_se"] == max(row["qe_emp_se_iid"], row["qe_emp_se_channel"]), row["name"]
        assert row["delta_aic"] < 0
        assert row["ks_stat"] < 2.0 / math.sqrt(row["n"])  # the KS 99.9 % level is 1.95/√n
    assert report.totals["n_laplace_favoured"] == 18


def test_totals(official, report):
    _, sd = official
    t = report.totals
    ws = [sd[n].numpy().astype(np.float64).ravel() for n in binarised_conv_names(R20)]
    assert t["n_weights"] == sum(w.size for w in ws)
    assert t["b_loc0_sum"] == pytest.approx(sum(np.mean(np.abs(w)) for w in ws), rel=1e-12)
    l1 = sum(np.mean(np.abs(np.sin(OMEGA0 * w) - np.sign(np.sin(OMEGA0 * w)))) for w in ws)
    assert t["official_l1_sum"] == pytest.approx(l1, rel=1e-7)
    n = np.array([r["n"] for r in report.rows])
    assert t["qe_emp_weighted"] == pytest.approx(np.sum(n * [r["qe_emp"] for r in report.rows]) / n.sum(), rel=1e-12)


def test_fixed_gamma(official):
    path, sd = official
    rep = analyze_checkpoint(path, gamma=0.7)
    row = rep.rows[5]
    w = sd[row["name"]].numpy().astype(np.float64).ravel()
    a = np.abs(np.sin(OMEGA0 * w))
    assert row["qe_emp"] == pytest.approx(np.mean((a - 0.7) ** 2), rel=1e-7)
    assert row["qe_emp_se_iid"] == pytest.approx(np.std((a - 0.7) ** 2) / math.sqrt(a.size), rel=1e-5)
    assert row["qe_emp_se_method"].startswith("larger of the direct iid SE")
    assert row["qe_pred"] == pytest.approx(float(analytic.qe(OMEGA0, np.mean(np.abs(w)), 0.7)), rel=1e-13)
    with pytest.raises(ValueError, match="gamma"):
        analyze_checkpoint(path, gamma=-1.0)


def test_json_csv_and_table(report, tmp_path):
    from biper_analysis._io.jsonio import jsonable

    d = json.loads(json.dumps(jsonable(report.to_dict())))
    assert {"omega0", "checkpoint", "layers", "totals", "provenance"} <= set(d)
    assert d["checkpoint"]["format"] == "official" and d["checkpoint"]["omega0_source"] == "config.txt"
    assert len(d["layers"]) == 18 and len(d["layers"][0]["b_ci"]) == 2
    text = report.to_csv()
    assert text.startswith("# provenance: ") and "git_revision" in text.splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert list(rows[0])[: len(COLUMNS)] == list(COLUMNS) and len(rows) == 18
    assert float(rows[3]["qe_emp"]) == report.rows[3]["qe_emp"]
    lines = report.table().splitlines()
    assert lines[0].startswith("name") and len({len(line) for line in lines[:19]}) == 1  # aligned
    # every header is a JSON/CSV column name, or an abbreviation the legend line maps to one
    legend = dict(
        pair.split(" = ") for pair in lines[19].removeprefix("columns (JSON/CSV names): ").split("; ")[0].split(", ")
    )
    assert lines[19].endswith("; rel_err columns are fractions")
    assert all(legend.get(h, h) in COLUMNS for h in lines[0].split())


def test_nonfinite_layers_reported_rest_analysed(tmp_path):
    sd = make_state_dict(R20, seed=3)
    sd["layer1.0.conv1.weight"][0, 0, 0, :2] = torch.tensor([float("nan"), float("inf")])
    sd["layer1.0.conv2.weight"][:] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(official_checkpoint(sd, R20), path)
    rep = analyze_checkpoint(path, omega0=OMEGA0)
    rows = {r["name"]: r for r in rep.rows}
    assert rows["layer1.0.conv1.weight"]["n_nonfinite"] == 2 and rows["layer1.0.conv1.weight"]["n"] == 2302
    assert rows["layer1.0.conv2.weight"]["n"] == 0 and math.isnan(rows["layer1.0.conv2.weight"]["qe_emp"])
    assert len(rep.warnings) == 2 and rep.totals["n_layers_analysed"] == 17 and rep.totals["n_nonfinite"] == 2306
    assert math.isfinite(rep.totals["qe_emp_weighted"])
    for k in binarised_conv_names(R20):
        sd[k][:] = float("nan")
    torch.save(official_checkpoint(sd, R20), path)
    with pytest.raises(checkpoints.CheckpointError, match="NaN"):
        analyze_checkpoint(path, omega0=OMEGA0)


def test_plot_functions_return_figures(report):
    import matplotlib.pyplot as plt

    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary, fig_layer_laws

    for fig in (fig_checkpoint_summary(report), fig_layer_laws(report, report.rows[0]["name"])):
        assert fig.axes
        plt.close(fig)


def test_weights_piled_at_the_crests_are_warned_about(tmp_path):
    """A layer whose weights sit at the crests of |sin(ω0 w)| (phase π/2, where the sine's gradient vanishes) is
    named in the warnings; Laplace weights of the same b and uniform weights at their worst ω0 are not."""
    rng = np.random.default_rng(5)
    omega0, n = 20.0, 4096
    crests = (rng.integers(-3, 3, n) + 0.5) * math.pi / omega0 + rng.normal(0.0, 0.004, n)
    laplace = rng.laplace(0.0, np.abs(crests).mean(), n)
    # a uniform law at ω0·bound = 5π/8 has a crest density exactly twice the density between the windows: the
    # largest a law without crest peaks reaches here; it must not be warned about
    uniform = rng.uniform(-1.0, 1.0, n) * 0.625 * math.pi / omega0
    sd = {
        name: torch.tensor(w, dtype=torch.float32).reshape(64, 64)
        for name, w in (("crest.weight", crests), ("laplace.weight", laplace), ("uniform.weight", uniform))
    }
    path = tmp_path / "crest.pth"
    torch.save(sd, path)
    rep = analyze_checkpoint(path, omega0=omega0, layers=r"\.weight$")
    rows = {r["name"]: r for r in rep.rows}
    assert rows["crest.weight"]["near_crest_frac"] > 0.9 > 0.3 > rows["laplace.weight"]["near_crest_frac"]
    crest_warnings = [w for w in rep.warnings if "crests" in w]
    assert len(crest_warnings) == 1 and crest_warnings[0].startswith("layer crest.weight:")


def test_law_list():
    assert law_list(["laplace"]) == ("laplace",) and law_list([" Comb ", "gaussian"]) == ("laplace", "comb", "gaussian")
    assert law_list(["all"]) == ba.laws.MODELS
    with pytest.raises(ValueError, match="unknown law 'student-t'; choose from laplace, gaussian"):
        law_list(["student-t"])


def test_worker_processes_give_the_same_report(official):
    """jobs = 2 (spawned workers, one thread each) and jobs = 1 give the same rows; models= is the deprecated laws=."""
    path, _ = official
    kwargs = {"layers": r"layer1\.0\.conv\d\.weight", "max_samples": 1000}
    one = analyze_checkpoint(path, laws=("gennorm",), jobs=1, **kwargs)
    with pytest.warns(DeprecationWarning, match="use laws="):
        two = analyze_checkpoint(path, models=("gennorm",), jobs=2, **kwargs)
    assert one.law_names == two.law_names == two.models == ("laplace", "gennorm")
    assert json.dumps(one.rows, default=str) == json.dumps(two.rows, default=str)
