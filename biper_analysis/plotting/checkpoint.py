"""Figures of a checkpoint report (:class:`biper_analysis.report.CheckpointReport`): weights vs fitted laws, the
sine and phase views, predicted vs measured QE. Each figure is a function returning a Figure; axes helpers take
``ax``. They only draw what the report already holds (no refitting, no second read of the weights).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def _laplace_pdf(w: np.ndarray, loc: float, b: float) -> np.ndarray:
    return np.exp(-np.abs(w - loc) / b) / (2 * b)


def _gauss_pdf(w: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((w - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def ax_weight_hist(ax: Any, row: dict[str, Any], hist: Any) -> None:
    """Density histogram of one layer's weights with the fitted Laplace and Gaussian pdfs (log y)."""
    edges, counts = hist.w_edges, hist.w_counts
    n = row["n"]
    widths = np.diff(edges)
    density = counts / (n * widths)
    ax.stairs(density, edges, fill=True, color="0.75", label="weights")
    w = np.linspace(edges[0], edges[-1], 400)
    if row["b"] > 0:
        ax.plot(w, _laplace_pdf(w, row["loc"], row["b"]), color="C0", lw=1.2, label="Laplace fit")
    if row["gaussian_sigma"] > 0:
        ax.plot(w, _gauss_pdf(w, row["gaussian_mu"], row["gaussian_sigma"]), color="C3", lw=1.0, ls="--",
                label="Gaussian fit")
    ax.set_yscale("log")
    positive = density[density > 0]
    if positive.size:
        ax.set_ylim(bottom=positive.min() / 3)
    short = row["name"].removesuffix(".weight")
    ax.set_title(f"{short}\nKS {row['ks_stat']:.3f}  ΔAIC {row['delta_aic']:.3g}", fontsize=7)
    ax.tick_params(labelsize=6)


def ax_sin_hist(ax: Any, report: Any) -> None:
    """Histogram of sin(ω0 w) pooled over all layers."""
    counts = sum(h.sin_counts for h in report.histograms.values())
    edges = np.linspace(-1.0, 1.0, len(counts) + 1)
    ax.stairs(counts / (counts.sum() * np.diff(edges)), edges, fill=True, color="C2", alpha=0.7)
    ax.set_xlabel("sin(ω0 w)")
    ax.set_ylabel("density")
    ax.set_title("sin(ω0·w), all layers", fontsize=9)


def ax_phase_hist(ax: Any, report: Any) -> None:
    """Phase ω0·w mod π pooled over layers, against what Laplace(0, b_loc0) per layer predicts."""
    rows = {r["name"]: r for r in report.rows}
    counts = sum(h.phase_counts for h in report.histograms.values())
    expected = sum(h.phase_probs_laplace * rows[name]["n"] for name, h in report.histograms.items())
    edges = np.linspace(0.0, math.pi, len(counts) + 1)
    total = counts.sum()
    ax.stairs(counts / total, edges, fill=True, color="C1", alpha=0.7, label="weights")
    ax.stairs(expected / total, edges, color="k", lw=1.2, label="Laplace(0, b) prediction")
    ax.set_xlabel("ω0·w mod π  (0 and π: zeros of sin)")
    ax.set_ylabel("fraction")
    ax.set_title("phase histogram, all layers", fontsize=9)
    ax.legend(fontsize=7, loc="upper center")


def ax_qe_scatter(ax: Any, report: Any) -> None:
    """Predicted (closed form at b_loc0) vs measured QE, one point per layer, with ±2 SE bars."""
    rows = [r for r in report.rows if r["n"] > 0]
    pred = np.array([r["qe_pred"] for r in rows])
    emp = np.array([r["qe_emp"] for r in rows])
    se = np.array([r["qe_emp_se"] for r in rows])
    ax.errorbar(emp, pred, xerr=2 * se, fmt="o", ms=4, color="C0", ecolor="0.5", elinewidth=0.8)
    if rows:
        lo = float(min(pred.min(), (emp - 2 * se).min()))
        hi = float(max(pred.max(), (emp + 2 * se).max()))
    else:
        lo, hi = 0.0, 1.0
    pad = 0.05 * (hi - lo or max(abs(hi), 1e-3))
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, color="k", lw=0.8, ls=":", label="predicted = measured")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("QE measured on the weights")
    ax.set_ylabel("QE predicted, closed form at b = mean|w|")
    g = "γ = opt" if report.gamma is None else f"γ = {report.gamma:g}"
    ax.set_title(f"predicted vs measured QE ({g})", fontsize=9)


def fig_weight_histograms(report: Any, ncols: int = 6) -> Any:
    """Grid of per-layer weight histograms with fitted Laplace and Gaussian pdfs."""
    import matplotlib.pyplot as plt

    names = [r["name"] for r in report.rows if r["name"] in report.histograms]
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.0 * nrows), squeeze=False)
    rows = {r["name"]: r for r in report.rows}
    for ax, name in zip(axes.flat, names):
        ax_weight_hist(ax, rows[name], report.histograms[name])
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if names:
        axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def fig_qe_scatter(report: Any) -> Any:
    """Predicted-vs-measured QE scatter alone."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax_qe_scatter(ax, report)
    fig.tight_layout()
    return fig


def fig_checkpoint_summary(report: Any, ncols: int = 6) -> Any:
    """The ``fit-b --plot`` figure: the per-layer grid on top, then sin, phase and QE panels."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    names = [r["name"] for r in report.rows if r["name"] in report.histograms]
    ncols = max(1, min(ncols, len(names)))  # no empty slots when a network has few binarised layers
    grid_rows = max(1, math.ceil(len(names) / ncols))
    fig = plt.figure(figsize=(max(2.4 * ncols, 13.0), 2.1 * grid_rows + 4.2))
    gs = GridSpec(grid_rows + 1, 1, figure=fig, height_ratios=[2.1] * grid_rows + [4.2], hspace=0.6)
    top = gs[:grid_rows, 0].subgridspec(grid_rows, ncols, hspace=0.8, wspace=0.35)
    rows = {r["name"]: r for r in report.rows}
    for i, name in enumerate(names):
        ax = fig.add_subplot(top[i // ncols, i % ncols])
        ax_weight_hist(ax, rows[name], report.histograms[name])
        if i == 0:
            ax.legend(fontsize=5)
    bottom = gs[grid_rows, 0].subgridspec(1, 3, wspace=0.45)
    ax_sin_hist(fig.add_subplot(bottom[0, 0]), report)
    ax_phase_hist(fig.add_subplot(bottom[0, 1]), report)
    ax_qe_scatter(fig.add_subplot(bottom[0, 2]), report)
    src = report.checkpoint.get("path", "")
    fig.suptitle(f"{src}  (ω0 = {report.omega0:g})", fontsize=9)
    return fig
