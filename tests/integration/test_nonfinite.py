"""One rule for weights no statistic can use — NaN/inf values, an all-zero or constant layer — in every command that
reads weights: the layer and the count named in one warning line, the rest analysed where that is meaningful, the
layer skipped and said so where not (:func:`biper_analysis.theory.weights.weight_faults`).

The fit-b cases run the per-layer analysis (:mod:`biper_analysis.analysis.layer`) through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biper_analysis.cli import main
from biper_analysis.theory.weights import weight_drift, weight_faults
from tests.checkpoint_factory import make_state_dict, official_checkpoint, write_config_txt
from tests.fake_datasets import write_fashion_mnist

R20 = "resnet20_1w1a"
LAYER = "layer1.0.conv1.weight"  # 16·16·3·3 = 2304 weights
N = 2304
#: Three layers keep the fits quick; the faulty one is among them.
SELECT = r"^layer1\.0\.conv[12]\.weight$|^layer3\.2\.conv2\.weight$"


def _save(folder: Path, fault: str | None, layer: str = LAYER) -> Path:
    """An official-format ResNet-20 checkpoint (config.txt beside it) whose ``layer`` has the fault."""
    import torch

    sd = make_state_dict(R20)
    w = sd[layer]
    if fault == "nan":
        w.fill_(float("nan"))
    elif fault == "some-nan":
        w.view(-1)[:10] = float("nan")
        w.view(-1)[10] = float("inf")
    elif fault == "zero":
        w.zero_()
    elif fault == "constant":
        w.fill_(0.05)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(official_checkpoint(sd, R20), folder / "model_best.pth.tar")
    write_config_txt(folder, R20)
    return folder / "model_best.pth.tar"


def _fit_b(capsys, path: Path, *extra: str) -> tuple[int, dict, str]:
    """fit-b in this process (the CLI's own main: parsing, errors and output as a user gets them)."""
    rc = main(["fit-b", str(path), "--layers", SELECT, "--json", "-", "--quiet", "--jobs", "1", *extra])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else {}), err


def _eval(capsys, path: Path, data_dir: Path) -> tuple[int, str, str]:
    rc = main(["eval", str(path), "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--device", "cpu"])
    out, err = capsys.readouterr()
    return rc, out, err


def _layer_warnings(report: dict, layer: str = LAYER) -> list[str]:
    return [w for w in report["warnings"] if w.startswith(f"layer {layer}:")]


# ---------------------------------------------------------------------------------------------------------------
# The rule itself
# ---------------------------------------------------------------------------------------------------------------
def test_weight_faults_names_every_kind_with_its_counts():
    assert weight_faults(np.random.default_rng(0).laplace(0, 0.05, 100)) is None
    assert weight_faults(np.full((4, 4), np.nan)).describe() == "all 16 weights are NaN/inf"
    assert weight_faults(np.array([1.0, np.inf, -np.inf, 0.2])).describe() == "2 of 4 weights are NaN/inf"
    assert weight_faults(np.zeros(8, dtype=np.float32)).describe() == "all 8 weights are 0 (a constant layer)"
    assert weight_faults(np.full(5, -0.0)).describe() == "all 5 weights are 0 (a constant layer)"
    assert weight_faults(np.full(3, 0.05)).describe() == "all 3 weights are 0.05 (a constant layer)"
    assert (
        weight_faults(np.array([np.nan, 0.3, 0.3])).describe()
        == "1 of 3 weights are NaN/inf and the other 2 are all 0.3 (a constant layer)"
    )
    assert weight_faults(np.array([0.3, -0.3])) is None  # two values: a (tiny) layer, not a constant one


def test_drift_leaves_out_nonfinite_pairs_and_counts_them():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 0.05, 1000)
    w = 0.8 * ref + rng.normal(0, 0.02, 1000)
    clean = weight_drift(w, ref)
    w_bad, ref_bad = np.append(w, [np.nan, 0.1]), np.append(ref, [0.2, np.inf])
    d = weight_drift(w_bad, ref_bad)
    assert (d.n, d.n_nonfinite) == (1000, 2)
    assert d.correlation == pytest.approx(clean.correlation, rel=1e-12)
    assert d.relative_change == pytest.approx(clean.relative_change, rel=1e-12)
    none = weight_drift([np.nan, 1.0], [1.0, np.nan])
    assert none.n == 0 and none.n_nonfinite == 2 and np.isnan(none.correlation)


# ---------------------------------------------------------------------------------------------------------------
# eval
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=16, n_test=20)


@pytest.mark.parametrize(
    "fault, needle",
    [
        ("nan", f"layer {LAYER}: all {N} weights are NaN/inf; the accuracy below does not measure a sound network"),
        ("some-nan", f"layer {LAYER}: 11 of {N} weights are NaN/inf;"),
        ("zero", f"layer {LAYER}: all {N} weights are 0 (a constant layer); its binary weights all take one value"),
        ("constant", f"layer {LAYER}: all {N} weights are 0.05 (a constant layer)"),
    ],
)
def test_eval_names_the_faulty_layer_and_its_count_in_one_warning(tmp_path, data_dir, capsys, fault, needle):
    """An all-NaN layer used to give 9.50 % with no word: the accuracy is printed, and one warning says why it
    cannot be trusted."""
    rc, out, err = _eval(capsys, _save(tmp_path, fault), data_dir)
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if line.strip()]
    assert len(warnings) == 1 and needle in warnings[0], err
    assert "top-1" in out


def test_eval_warns_about_nothing_in_a_sound_checkpoint(tmp_path, data_dir, capsys):
    """Constant BatchNorm tensors (bias 0, running variance 1) and unbinarised layers are not faults."""
    rc, out, err = _eval(capsys, _save(tmp_path, None), data_dir)
    assert rc == 0 and err == "", err


# ---------------------------------------------------------------------------------------------------------------
# fit-b (the CLI behaviour; the analysis behind it is report.py's)
# ---------------------------------------------------------------------------------------------------------------
def test_fit_b_laplace_leaves_out_some_nan_weights_and_names_the_count(tmp_path, capsys):
    rc, report, err = _fit_b(capsys, _save(tmp_path, "some-nan"))
    assert rc == 0, err
    assert f"layer {LAYER}: 11 of {N} weights are NaN/inf (left out; the rest analysed)" in report["warnings"]
    row = next(r for r in report["layers"] if r["name"] == LAYER)
    assert row["n"] == N - 11 and row["n_nonfinite"] == 11 and np.isfinite(row["qe_pred"])


def test_fit_b_any_law_leaves_out_some_nan_weights(tmp_path, capsys):
    """fit-b --model gaussian used to fail after 5 s with library advice naming no layer or file."""
    rc, report, err = _fit_b(capsys, _save(tmp_path, "some-nan"), "--model", "gaussian,gennorm")
    assert rc == 0, err
    assert f"layer {LAYER}: 11 of {N} weights are NaN/inf (left out; the rest analysed)" in report["warnings"]
    row = next(r for r in report["layers"] if r["name"] == LAYER)
    assert set(row["models"]) == {"laplace", "gaussian", "gennorm"}
    assert all(np.isfinite(m["qe_pred"]) for m in row["models"].values())


@pytest.mark.parametrize("models", ["laplace", "gaussian"])
def test_fit_b_all_nan_layer_is_skipped_with_its_count(tmp_path, capsys, models):
    rc, report, err = _fit_b(capsys, _save(tmp_path, "nan"), "--model", models)
    assert rc == 0, err
    assert _layer_warnings(report) == [f"layer {LAYER}: all {N} weights are NaN/inf (layer not analysed)"]
    assert report["totals"]["n_layers_analysed"] == 2


@pytest.mark.parametrize(
    "fault, words",
    [
        ("zero", f"all {N} weights are 0 (a constant layer)"),
        ("constant", f"all {N} weights are 0.05 (a constant layer)"),
    ],
)
def test_fit_b_constant_layer_is_named_as_such_not_as_a_misfit(tmp_path, capsys, fault, words):
    """An all-zero layer gave b = 0, rel_err nan and only a KS misfit line; a constant one a "+nan%" misfit."""
    rc, report, err = _fit_b(capsys, _save(tmp_path, fault), "--model", "laplace,gaussian")
    assert rc == 0, err
    assert _layer_warnings(report) == [f"layer {LAYER}: {words}; layer not analysed"]
    assert report["totals"]["n_layers_analysed"] == 2
    assert "nan" not in " ".join(report["warnings"]).lower().replace("nan/inf", "")


def test_fit_b_reference_with_nan_is_named_and_drift_uses_the_rest(tmp_path, capsys):
    """--reference with NaN printed nan drift silently: the reference's layer and count are named, drift and the
    reference's QE come from the finite pairs."""
    trained = _save(tmp_path / "trained", None)
    reference = _save(tmp_path / "init", "some-nan")
    rc, report, err = _fit_b(capsys, trained, "--reference", str(reference))
    assert rc == 0, err
    named = [w for w in report["warnings"] if LAYER in w and "reference" in w]
    assert len(named) == 1 and f"11 of {N} weights are NaN/inf" in named[0], report["warnings"]
    row = next(r for r in report["layers"] if r["name"] == LAYER)
    assert np.isfinite(row["drift_corr"]) and np.isfinite(row["ref_qe_emp"])


def test_fit_b_reference_with_an_all_nan_layer_is_named_not_an_error(tmp_path, capsys):
    """An all-NaN reference layer stopped fit-b with "the weight tensor holds no finite weights", naming nothing."""
    trained = _save(tmp_path / "trained", None)
    reference = _save(tmp_path / "init", "nan")
    rc, report, err = _fit_b(capsys, trained, "--reference", str(reference))
    assert rc == 0, err
    named = [w for w in report["warnings"] if LAYER in w and "reference" in w]
    assert len(named) == 1 and f"all {N} weights are NaN/inf" in named[0], report["warnings"]
    row = next(r for r in report["layers"] if r["name"] == LAYER)
    assert row["drift_corr"] is None and np.isfinite(row["qe_emp"])  # NaN is null in JSON


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------
def test_plots_name_a_layer_they_cannot_draw_and_mark_a_constant_one(tmp_path):
    import matplotlib.pyplot as plt

    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary, fig_layer_laws, plotted_layers

    nan_layer = "layer1.0.conv2.weight"
    path = _save(tmp_path / "nan", "nan", layer=nan_layer)
    report = analyze_checkpoint(path, layers=SELECT)
    assert nan_layer not in plotted_layers(report)
    fig = fig_checkpoint_summary(report)
    note = fig.get_supxlabel()
    assert f"not drawn: {nan_layer} (all {N} weights are NaN/inf)" == note
    plt.close(fig)
    report = analyze_checkpoint(_save(tmp_path / "zero", "zero"), layers=SELECT)
    fig = fig_checkpoint_summary(report)
    if LAYER in plotted_layers(report):  # drawn, with the reason in place of the laws
        titles = {ax.get_title().split("\n")[0]: ax for ax in fig.axes if "\n" in ax.get_title()}
        constant = titles[LAYER.removesuffix(".weight")]
        assert "constant: no law fitted" in constant.get_title()
        assert any(f"all {N} weights are 0 (a constant layer)" == t.get_text() for t in constant.texts)
        assert all(line.get_label().startswith("_") for line in constant.lines)  # no law's curve
        plt.close(fig_layer_laws(report, LAYER))
    else:  # or not analysed (report.py's choice), and named under the figure
        assert f"{LAYER} (all {N} weights are 0 (a constant layer))" in fig.get_supxlabel()
    plt.close(fig)
