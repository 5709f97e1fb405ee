"""Figures of the training sweep (``sweep.json`` content in, a Figure out): predicted against measured QE, accuracy
and QE against ω0, the training curves, and the trained weights against their initialisation."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

__all__ = [
    "fig_predicted_vs_measured",
    "fig_accuracy_vs_omega0",
    "fig_training_curves",
    "fig_init_vs_trained",
    "fig_convergence",
]


def _omega0_colours(runs: list[dict[str, Any]]) -> dict[float, str]:
    return {w: f"C{i}" for i, w in enumerate(sorted({r["omega0"] for r in runs}))}


def _log_omega0_axis(ax: Any, omegas: list[float]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(omegas)  # label the swept ω0 values themselves, not log decades
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def fig_predicted_vs_measured(sweep: dict[str, Any]) -> Figure:
    """Per-layer normalised QE / E[latent²]: BiPer's prediction under Laplace(0, b̂) against the trained weights (one
    colour per ω0, every seed with the same marker: seeds are replicates, not claimed apart), and the sign baseline.

    Under Laplace the sign baseline's normalised QE is 1/2 whatever b
    (:func:`~biper_analysis.theory.analytic.normalised_qe_sign`), so a predicted-vs-measured scatter would put every
    point on one vertical line; its panel shows the measured values per layer against that 1/2 and against a
    Gaussian's 1 − 2/π instead."""
    from biper_analysis.theory.analytic import normalised_qe_sign_gaussian

    fig, (ax, ax_sign) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    runs = [r for r in sweep["runs"] if r["binarizer"] == "biper"]
    colours = _omega0_colours(runs)
    values = []
    for run in runs:
        rows = [r for r in run["analysis"]["layers"] if "normalised" in r]
        pred = [r["normalised"]["biper_pred"] for r in rows]
        emp = [r["normalised"]["biper_emp"] for r in rows]
        ax.scatter(pred, emp, s=28, alpha=0.75, color=colours[run["omega0"]], marker="o")
        values += pred + emp
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"ω0 = {w:g}") for w, c in colours.items()]
    if values:
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo + 1e-3)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1)
        handles.append(Line2D([], [], color="k", ls="--", label="measured = predicted"))
    ax.set_xlabel("predicted under Laplace(0, b̂): QE / E[sin²(ω0 w)]")
    ax.set_ylabel("measured on the trained weights")
    ax.set_title("BiPer, sign(sin(ω0 w)) at γ*\none point per layer and seed", fontsize=10)
    ax.legend(handles=handles, fontsize=7)
    ax.grid(alpha=0.3)
    _draw_sign_baseline(ax_sign, [r for r in sweep["runs"] if r["binarizer"] == "sign"], normalised_qe_sign_gaussian())
    fig.suptitle("Per-layer quantisation error, predicted vs measured (normalised, unit-free)")
    return fig


def _draw_sign_baseline(ax: Any, runs: list[dict[str, Any]], gaussian: float) -> None:
    """The sign baseline's measured normalised QE per layer (seeds side by side) against the shape-only values of
    Laplace (1/2) and Gaussian (1 − 2/π) weights."""
    names = sorted({r["name"] for run in runs for r in run["analysis"]["layers"] if "normalised" in r})
    width = 0.5 / max(len(runs), 1)
    for i, run in enumerate(sorted(runs, key=lambda r: r["seed"])):
        rows = {r["name"]: r for r in run["analysis"]["layers"] if "normalised" in r}
        x = [j - 0.25 + (i + 0.5) * width for j, name in enumerate(names) if name in rows]
        y = [rows[name]["normalised"]["sign_emp"] for name in names if name in rows]
        ax.scatter(x, y, s=28, alpha=0.8, color="C3", label="measured (one point per seed)" if i == 0 else None)
    ax.axhline(0.5, color="k", ls="--", lw=1, label="Laplace(0, b): 1/2 at every b")
    ax.axhline(gaussian, color="k", ls=":", lw=1, label=f"Gaussian N(0, σ²): 1 − 2/π = {gaussian:.3f} at every σ")
    ax.set_xticks(range(len(names)), [n.removesuffix(".weight") for n in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xlabel("layer")
    ax.set_ylabel("measured on the trained weights: QE / E[w²]")
    ax.set_title("sign baseline, sign(w) at γ* = mean|w|\nthe prediction depends on the law's shape only", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    ax.grid(alpha=0.3)


def _nan0(v: float | None) -> float:
    return 0.0 if v is None or not math.isfinite(v) else v


def fig_accuracy_vs_omega0(sweep: dict[str, Any]) -> Figure:
    """Test accuracy (mean ± std over seeds) and weighted measured QE against ω0; the sign baseline as a band.

    Best and last epoch are drawn side by side only where they differ; where every seed's best is its last
    epoch one series is drawn and the legend says so."""
    groups = sweep["groups"]
    biper = sorted((g for g in groups if g["binarizer"] == "biper"), key=lambda g: g["omega0"])
    sign = [g for g in groups if g["binarizer"] == "sign"]
    fig, (ax_acc, ax_qe) = plt.subplots(1, 2, figsize=(10, 4))
    w = [g["omega0"] for g in biper]
    same = all(math.isclose(g["best_acc"]["mean"], g["last_acc"]["mean"]) for g in biper)
    series = (
        [("best_acc", "o", "best = last epoch" if same else "best epoch", 1.0)]
        if same
        else [("best_acc", "o", "best epoch", 0.96), ("last_acc", "s", "last epoch", 1.04)]
    )
    for key, marker, label, shift in series:
        ax_acc.errorbar(
            [v * shift for v in w],
            [g[key]["mean"] for g in biper],
            yerr=[_nan0(g[key]["std"]) for g in biper],
            marker=marker,
            capsize=3,
            label=f"BiPer, {label}",
        )
    for g in sign:
        m, s = g["best_acc"]["mean"], _nan0(g["best_acc"]["std"])
        ax_acc.axhline(m, color="k", ls="--", label=f"sign baseline, best ({m:.2f} ± {s:.2f}, n={g['best_acc']['n']})")
        ax_acc.axhspan(m - s, m + s, color="k", alpha=0.1)
    seeds = sorted({g["best_acc"]["n"] for g in groups})
    ax_acc.set(
        xlabel="ω0",
        ylabel="test accuracy (%)",
        title=f"Fashion-MNIST, mean ± std over {'/'.join(map(str, seeds))} seeds",
    )
    ax_acc.legend(fontsize=7)
    ax_qe.errorbar(
        w,
        [g["qe_emp_weighted"]["mean"] for g in biper],
        yerr=[_nan0(g["qe_emp_weighted"]["std"]) for g in biper],
        marker="o",
        capsize=3,
        label="measured on trained weights",
    )
    ax_qe.plot(w, [g["qe_pred_weighted"]["mean"] for g in biper], "x--", label="closed form at fitted b (Laplace)")
    ax_qe.set(xlabel="ω0", ylabel="weight-count-weighted QE_min", title="Quantisation error of the trained weights")
    ax_qe.legend(fontsize=7)
    for ax in (ax_acc, ax_qe):
        ax.grid(alpha=0.3)
        _log_omega0_axis(ax, w)
    fig.tight_layout()
    return fig


def _group_key(run: dict[str, Any]) -> tuple[int, float]:
    """BiPer groups by increasing ω0, then the sign baseline."""
    return (0, run["omega0"]) if run["binarizer"] == "biper" else (1, 0.0)


def fig_training_curves(sweep: dict[str, Any]) -> Figure:
    """Test accuracy per epoch (both stages) of every run, one colour per group (BiPer by increasing ω0, then sign;
    the ω0 colours of the other sweep figures), mean curve bold, whole epochs on the axis."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = _omega0_colours([r for r in sweep["runs"] if r["binarizer"] == "biper"])
    groups: dict[tuple[int, float], list[list[float]]] = {}
    for run in sweep["runs"]:
        groups.setdefault(_group_key(run), []).append([c["test_acc"] for c in run.get("curve", [])])
    for key in sorted(groups):
        curves = groups[key]
        n = min(len(c) for c in curves)
        if n == 0:
            continue
        label = f"BiPer ω0 = {key[1]:g}" if key[0] == 0 else "sign"
        colour = colours[key[1]] if key[0] == 0 else "k"
        arr = np.array([c[:n] for c in curves])
        x = np.arange(1, n + 1)
        for c in arr:
            ax.plot(x, c, color=colour, lw=0.6, alpha=0.35)
        ax.plot(x, arr.mean(axis=0), color=colour, lw=2, label=f"{label} (mean of {len(arr)})")
    stage1 = sweep.get("recipe", {}).get("epochs1")
    if stage1:
        ax.axvline(stage1 + 0.5, color="0.5", ls=":", lw=1, label="stage 1 | stage 2")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch (stage 1, then stage 2)", ylabel="test accuracy (%)", title="Training curves of the sweep")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_init_vs_trained(sweep: dict[str, Any]) -> Figure:
    """What training changed, per BiPer layer: correlation with the initial weights, the closed form's error at
    init and after training, and the mass near zeros of sin(ω0 w) relative to Laplace — against ω0."""
    runs = [r for r in sweep["runs"] if r["binarizer"] == "biper"]
    colours = _omega0_colours(runs)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for run in runs:
        c = colours[run["omega0"]]
        for row in (r for r in run["analysis"]["layers"] if r["n"] > 0 and "drift_corr" in r):
            axes[0].scatter(run["omega0"], row["drift_corr"], color=c, s=18)
            axes[1].scatter(row["ref_rel_err"], row["rel_err"], color=c, s=18)
            near_ref = row.get("ref_near_zero_frac", math.nan) / row["near_zero_frac_laplace"]
            axes[2].scatter(near_ref, row["near_zero_frac"] / row["near_zero_frac_laplace"], color=c, s=18)
    omegas = sorted(colours)
    _log_omega0_axis(axes[0], omegas)
    axes[0].set(xlabel="ω0", ylabel="corr(trained, initial weights)", title="how far training moved the weights")
    for ax, title, what in (
        (axes[1], "closed-form QE error", "rel. error of QE_pred"),
        (axes[2], "mass near zeros of sin(ω0 w) / Laplace's", "ratio"),
    ):
        values = [v for line in ax.collections for v in np.ravel(line.get_offsets())]
        if values:
            lo, hi = min(values), max(values)
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlabel=f"{what} at initialisation", ylabel=f"{what} after training", title=title)
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"ω0 = {w:g}") for w, c in colours.items()]
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(handles=handles + [Line2D([], [], color="k", ls="--", label="unchanged by training")], fontsize=7)
    fig.suptitle("Trained BiPer weights against their initial weights (one point per layer and seed)", fontsize=10)
    fig.tight_layout()
    return fig


def _pp(value: float, tolerance: float) -> str:
    """A change in pp with three decimals (the accuracies' resolution is 0.01 pp over 5 seeds, 0.002 pp), more when
    needed for the printed number to stand on the same side of ``tolerance`` as the value itself (−0.098 against
    0.1 prints "-0.098", never "-0.10").

    >>> _pp(-0.09800000000001319, 0.1), _pp(0.082, 0.1), _pp(-0.09996, 0.1)
    ('-0.098', '+0.082', '-0.09996')
    """
    for digits in range(3, 8):
        text = f"{value:+.{digits}f}"
        if (abs(float(text)) < tolerance) == (abs(value) < tolerance):
            return text
    return f"{value:+.8g}"


def fig_convergence(study: dict[str, Any]) -> Figure:
    """The convergence study (:mod:`biper_analysis.training.convergence`): mean test-accuracy curves at the preset's
    length E and at 2E, per arm, on a common axis of training progress, and each seed's best accuracy at E and 2E."""
    fig, (ax_curve, ax_best) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (arm, a) in enumerate(study["arms"].items()):
        for length, ls in (("E", "-"), ("2E", "--")):
            curve = np.asarray(a[f"curve_{length}"])
            progress = np.arange(1, curve.size + 1) / curve.size
            ax_curve.plot(progress, curve, color=f"C{i}", ls=ls, label=f"{arm}, {length} ({curve.size} epochs)")
        x = np.arange(len(a["seeds"])) + (0.1 if i else -0.1)
        ax_best.plot(x, a["best_E"], "o", color=f"C{i}", label=f"{arm}, E")
        ax_best.plot(
            x,
            a["best_2E"],
            "s",
            mfc="none",
            color=f"C{i}",
            label=f"{arm}, 2E (mean change {_pp(a['change_pp'], study['tolerance_pp'])} pp)",
        )
    ax_curve.set(
        xlabel="fraction of the training schedule (stage 1, then stage 2)",
        ylabel="test accuracy (%)",
        title="mean test-accuracy curve over seeds",
    )
    lows = [min(a["curve_E"] + a["curve_2E"]) for a in study["arms"].values()]
    ax_curve.set_ylim(bottom=min(lows) - 0.5)  # every epoch of every curve is shown
    ax_best.set(
        xlabel="seed",
        ylabel="best test accuracy (%)",
        title=f"doubling the length (converged when |mean change| < {study['tolerance_pp']} pp)",
    )
    ax_best.set_xticks(range(len(next(iter(study["arms"].values()))["seeds"])))
    for ax in (ax_curve, ax_best):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
