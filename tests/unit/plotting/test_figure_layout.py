"""What the figures draw and where, tested on their data and their laid-out boxes (never on pixels): fig7's sign panel
is informative, fig10 orders ω0 numerically on whole epochs, fig12 shows every epoch and prints the change with the
digits its criterion needs, and the fit-b / fig6 figure has no overlapping titles, no legend on data and no empty
bands."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from biper_analysis.plotting import checkpoint as ckpt_plots
from biper_analysis.plotting import training_sweep
from biper_analysis.theory import analytic


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _overlap(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _renderer(fig: Any) -> Any:
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _title_boxes(fig: Any) -> list[Any]:
    renderer = _renderer(fig)
    texts = [ax.title for ax in fig.axes if ax.get_title()]
    texts += [t for t in [getattr(fig, "_suptitle", None)] if t is not None]
    return [t.get_window_extent(renderer) for t in texts]


def _assert_no_overlap(boxes: list[Any]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), (a, b)


def _largest_empty_band(fig: Any) -> float:
    """The tallest horizontal band of the figure (fraction of its height) that no axes, title or legend covers."""
    renderer = _renderer(fig)
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.axison]
    boxes += [t.get_window_extent(renderer) for t in [getattr(fig, "_suptitle", None)] if t is not None]
    boxes += [lg.get_window_extent(renderer) for f in [fig, *fig.subfigs] for lg in f.legends]
    spans = sorted((b.y0, b.y1) for b in boxes)
    worst, covered = 0.0, spans[0][1]
    for lo, hi in spans[1:]:
        worst = max(worst, lo - covered)
        covered = max(covered, hi)
    return max(worst, fig.bbox.height - covered) / fig.bbox.height


# ---------------------------------------------------------------------------------------------------------------
# A sweep as sweep.json holds it (the fields the figures read)
# ---------------------------------------------------------------------------------------------------------------
def _layer(name: str, rng: np.random.Generator, sign: bool, omega0: float) -> dict[str, Any]:
    b = 0.05 * (1 + 0.1 * rng.standard_normal())
    return {
        "name": name,
        "n": 65536,
        "b_loc0": b,
        "rel_err": 0.1,
        "ref_rel_err": 0.05,
        "drift_corr": 0.7,
        "near_zero_frac": 0.3,
        "near_zero_frac_laplace": 0.25,
        "ref_near_zero_frac": 0.25,
        "normalised": {
            "biper_pred": float(analytic.normalised_qe(omega0, b)),
            "biper_emp": 0.3 + 0.05 * rng.random(),
            "sign_pred": float(analytic.normalised_qe_sign(b)),
            "sign_emp": 0.36 + 0.02 * rng.random(),
        },
    }


def _sweep() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    runs = []
    for binarizer, omega0, seeds in (
        ("biper", 2.0, (0, 1)),
        ("biper", 20.0, (0, 1, 2)),
        ("biper", 5.0, (0, 1)),
        ("biper", 60.0, (0, 1)),
        ("sign", 20.0, (0, 1, 2)),
    ):
        for seed in seeds:
            curve = [
                {
                    "stage": 1 if e < 8 else 2,
                    "epoch": e % 8 + 1,
                    "test_acc": 80 + e * 0.4 + rng.random(),
                    "train_loss": 1.0,
                }
                for e in range(20)
            ]
            runs.append(
                {
                    "name": f"{binarizer}-w{omega0:g}-s{seed}",
                    "binarizer": binarizer,
                    "omega0": omega0,
                    "seed": seed,
                    "curve": curve,
                    "analysis": {
                        "layers": [
                            _layer(n, rng, binarizer == "sign", omega0) for n in ("hidden.0.weight", "hidden.1.weight")
                        ]
                    },
                }
            )
    return {"runs": runs, "recipe": {"epochs1": 8, "epochs2": 12}}


def test_fig7_sign_panel_shows_the_measured_values_against_both_laws():
    """Every Laplace prediction of the sign baseline is exactly 1/2 (one vertical line before): the panel now spreads
    the measured values over layers and seeds, against Laplace's 1/2 and a Gaussian's 1 − 2/π."""
    sweep = _sweep()
    fig = training_sweep.fig_predicted_vs_measured(sweep)
    ax_biper, ax_sign = fig.axes
    points = np.vstack([c.get_offsets() for c in ax_sign.collections])
    measured = sorted(
        r["normalised"]["sign_emp"]
        for run in sweep["runs"]
        if run["binarizer"] == "sign"
        for r in run["analysis"]["layers"]
    )
    assert sorted(points[:, 1]) == pytest.approx(measured, abs=0)  # every measured value, once
    assert len(np.unique(np.round(points[:, 0], 9))) == len(points)  # on distinct x, not one line
    levels = {round(float(line.get_ydata()[0]), 12) for line in ax_sign.lines}
    assert levels == {0.5, round(1 - 2 / math.pi, 12)}
    assert [t.get_text() for t in ax_sign.get_xticklabels()] == ["hidden.0", "hidden.1"]
    _assert_no_overlap(_title_boxes(fig))  # the two titles overlapped before


def test_fig10_orders_omega0_numerically_on_whole_epochs():
    fig = training_sweep.fig_training_curves(_sweep())
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:5] == [
        "BiPer ω0 = 2 (mean of 2)",
        "BiPer ω0 = 5 (mean of 2)",
        "BiPer ω0 = 20 (mean of 3)",
        "BiPer ω0 = 60 (mean of 2)",
        "sign (mean of 3)",
    ]
    _renderer(fig)
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_fig12_shows_every_epoch_and_prints_the_change_its_criterion_needs():
    from biper_analysis.training.convergence import load_study

    study = load_study()
    fig = training_sweep.fig_convergence(study)
    ax_curve, ax_best = fig.axes
    low, high = ax_curve.get_ylim()
    values = np.concatenate([line.get_ydata() for line in ax_curve.lines])
    assert low <= values.min() and values.max() <= high  # the first epochs were clipped before
    labels = ax_best.get_legend_handles_labels()[1]
    for arm, a in study["arms"].items():
        label = next(lb for lb in labels if lb.startswith(f"{arm}, 2E"))
        printed = float(label.split("mean change ")[1].split(" pp")[0])
        assert (abs(printed) < study["tolerance_pp"]) == (abs(a["change_pp"]) < study["tolerance_pp"])
        assert printed == pytest.approx(a["change_pp"], abs=5e-4)
    assert "-0.098 pp" in " ".join(labels)  # not "-0.10 pp" beside "< 0.1 pp"


# ---------------------------------------------------------------------------------------------------------------
# The fit-b --plot figure (and fig6)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def r20_report(tmp_path_factory):
    from biper_analysis.analysis.report import analyze_checkpoint
    from tests.checkpoint_factory import save_official

    path = save_official(tmp_path_factory.mktemp("r20"), "resnet20_1w1a", omega0=20.0)
    return analyze_checkpoint(path, models=("laplace", "gaussian"))


def test_fit_b_figure_of_18_layers_has_no_overlapping_titles_and_no_empty_bands(r20_report):
    fig = ckpt_plots.fig_checkpoint_summary(r20_report)
    titles = [ax for ax in fig.axes if "\n" in ax.get_title()]
    assert len(titles) == 18
    _assert_no_overlap(_title_boxes(fig))
    assert _largest_empty_band(fig) < 0.04  # 0.07–0.09 of the height was empty before


def test_fit_b_figure_legends_sit_beside_the_data(r20_report):
    fig = ckpt_plots.fig_checkpoint_summary(r20_report)
    renderer = _renderer(fig)
    axes_boxes = [ax.get_window_extent(renderer) for ax in fig.axes if ax.axison]
    grid_legends = [lg for sub in fig.subfigs for lg in sub.legends]
    assert len(grid_legends) == 1 and [t.get_text() for t in grid_legends[0].get_texts()] == [
        "weights",
        "laplace",
        "gaussian",
    ]  # one legend for the whole grid
    qe_axes = next(ax for ax in fig.axes if ax.get_title().startswith("predicted vs measured QE"))
    for legend in [*grid_legends, qe_axes.get_legend()]:
        box = legend.get_window_extent(renderer)
        assert not any(_overlap(box, a) for a in axes_boxes), legend
    phase = next(ax for ax in fig.axes if ax.get_title().startswith("phase histogram"))
    legend_bottom = phase.transData.inverted().transform(phase.get_legend().get_window_extent(renderer))[0, 1]
    tallest = max(float(np.max(p.get_data()[0])) for p in phase.patches if hasattr(p, "get_data"))
    assert legend_bottom > tallest  # above the highest bar, not on it


def test_one_layer_figure_puts_its_legend_outside_and_rel_err_as_a_fraction(r20_report):
    name = r20_report.rows[0]["name"]
    fig = ckpt_plots.fig_layer_laws(r20_report, name)
    renderer = _renderer(fig)
    assert len(fig.legends) == 1
    box = fig.legends[0].get_window_extent(renderer)
    assert not any(_overlap(box, ax.get_window_extent(renderer)) for ax in fig.axes)
    text = fig.axes[1].texts[0].get_text()
    rel = r20_report.rows[0]["models"]["gaussian"]["rel_err"]
    assert f"(rel_err {rel:+.3f})" in text and "%" not in text
