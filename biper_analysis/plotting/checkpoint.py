"""Figures of a checkpoint report (:class:`biper_analysis.analysis.report.CheckpointReport`): each layer's weights with
every fitted law, the sine and phase views, and predicted against measured QE for every law.

``fig_*`` return a Figure, ``draw_*`` draw on an Axes. They only draw what the report holds (its histograms and
fitted law objects): no refitting, no second read of the weights, no math of their own.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from biper_analysis.laws import law_style

__all__ = ["draw_weight_hist", "draw_sin_hist", "draw_phase_hist", "draw_qe_by_law", "fig_checkpoint_summary",
           "fig_layer_laws"]


def draw_weight_hist(ax: Any, row: dict[str, Any], hist: Any, laws: dict[str, Any], omega0: float,
                     zeros: bool = True, points: int = 1500) -> None:
    """Density histogram of one layer's weights, every fitted law's pdf, and the zeros kπ/ω0 of sin(ω0 w)."""
    edges, counts = hist.w_edges, hist.w_counts
    density = counts / (row["n"] * np.diff(edges))
    ax.stairs(density, edges, fill=True, color="0.8", label="weights")
    w = np.linspace(edges[0], edges[-1], points)
    for name, law in laws.items():
        colour, ls = law_style(name)     # one colour and line style per law, the same in every figure
        ax.plot(w, law.pdf(w), color=colour, ls=ls, lw=1.0, label=name)
    if zeros:
        k = np.arange(math.ceil(edges[0] * omega0 / math.pi), math.floor(edges[-1] * omega0 / math.pi) + 1)
        for z in k * math.pi / omega0:
            ax.axvline(z, color="k", lw=0.4, alpha=0.35)
    ax.set_yscale("log")
    positive = density[density > 0]
    if positive.size:
        ax.set_ylim(bottom=positive.min() / 3)
    short = row["name"].removesuffix(".weight")
    verdict = row.get("laplace_verdict") or "-"
    ax.set_title(f"{short}: Laplace {verdict}, KS {row['ks_stat']:.3f}", fontsize=7)
    ax.set_xlabel("w", fontsize=6)
    ax.set_ylabel("density", fontsize=6)
    ax.tick_params(labelsize=6)


def draw_sin_hist(ax: Any, report: Any) -> None:
    """Histogram of sin(ω0 w) pooled over all layers."""
    counts = sum(h.sin_counts for h in report.histograms.values())
    edges = np.linspace(-1.0, 1.0, len(counts) + 1)
    ax.stairs(counts / (counts.sum() * np.diff(edges)), edges, fill=True, color="C2", alpha=0.7)
    ax.set_xlabel("sin(ω0 w)")
    ax.set_ylabel("density")
    ax.set_title("sin(ω0·w), all layers", fontsize=9)


def draw_phase_hist(ax: Any, report: Any) -> None:
    """Phase ω0·w mod π pooled over layers, against what Laplace(0, b_loc0) per layer predicts."""
    rows = {r["name"]: r for r in report.rows}
    counts = sum(h.phase_counts for h in report.histograms.values())
    expected = sum(h.phase_probs_laplace * rows[name]["n"] for name, h in report.histograms.items())
    edges = np.linspace(0.0, math.pi, len(counts) + 1)
    total = counts.sum()
    ax.stairs(counts / total, edges, fill=True, color="C1", alpha=0.7, label="weights")
    ax.stairs(expected / total, edges, color="k", lw=1.2, label="Laplace(0, b) prediction")
    ax.set_xlabel("ω0·w mod π  (0 and π: zeros of sin)")
    ax.set_ylabel("fraction of weights")
    ax.set_title("phase histogram, all layers", fontsize=9)
    ax.legend(fontsize=7, loc="upper center")


def draw_qe_by_law(ax: Any, report: Any) -> None:
    """Predicted against measured QE, one point per layer and one series per law, measured ±2 SE as bars."""
    rows = [r for r in report.rows if r["n"] > 0]
    if not rows:
        return
    emp = np.array([r["qe_emp"] for r in rows])
    se = np.array([r["qe_emp_se"] for r in rows])
    lo, hi = float((emp - 2 * se).min()), float((emp + 2 * se).max())
    markers = "osD^vP"
    for i, name in enumerate(report.law_names):
        pred = np.array([r["models"].get(name, {}).get("qe_pred", np.nan) for r in rows])
        colour, _ = law_style(name)
        ax.errorbar(emp, pred, xerr=2 * se, fmt=markers[i % len(markers)], ms=4, color=colour, ecolor="0.7",
                    elinewidth=0.6, label=name)
        finite = pred[np.isfinite(pred)]
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    pad = 0.05 * (hi - lo or max(abs(hi), 1e-3))
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, color="k", lw=0.8, ls=":", label="predicted = measured")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("QE measured on the weights (±2 SE)")
    ax.set_ylabel("QE predicted by the fitted law")
    g = "γ*" if report.gamma is None else f"γ = {report.gamma:g}"
    ax.set_title(f"predicted vs measured QE per layer ({g})", fontsize=9)
    ax.legend(fontsize=7)


def fig_checkpoint_summary(report: Any, ncols: int = 6) -> Any:
    """The ``fit-b --plot`` figure: a grid of per-layer histograms with every fitted law (zeros of sin(ω0 w) as
    thin lines), then sin, phase and predicted-vs-measured QE panels."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    names = [r["name"] for r in report.rows if r["name"] in report.histograms]
    ncols = max(1, min(ncols, len(names)))  # no empty slots when a network has few binarised layers
    grid_rows = max(1, math.ceil(len(names) / ncols))
    fig = plt.figure(figsize=(max(2.5 * ncols, 13.0), 2.3 * grid_rows + 4.6))
    gs = GridSpec(grid_rows + 1, 1, figure=fig, height_ratios=[2.3] * grid_rows + [4.6], hspace=0.55)
    top = gs[:grid_rows, 0].subgridspec(grid_rows, ncols, hspace=0.9, wspace=0.4)
    rows = {r["name"]: r for r in report.rows}
    for i, name in enumerate(names):
        ax = fig.add_subplot(top[i // ncols, i % ncols])
        draw_weight_hist(ax, rows[name], report.histograms[name], report.laws.get(name, {}), report.omega0,
                         zeros=report.omega0 * (report.histograms[name].w_edges[-1] -
                                                report.histograms[name].w_edges[0]) < 200 * math.pi)
        if i == 0:
            ax.legend(fontsize=5)
    bottom = gs[grid_rows, 0].subgridspec(1, 3, wspace=0.45)
    draw_sin_hist(fig.add_subplot(bottom[0, 0]), report)
    draw_phase_hist(fig.add_subplot(bottom[0, 1]), report)
    draw_qe_by_law(fig.add_subplot(bottom[0, 2]), report)
    src = report.checkpoint.get("path", "")
    fig.suptitle(f"{src}  (ω0 = {report.omega0:g}; thin vertical lines: zeros kπ/ω0 of sin(ω0 w))", fontsize=9)
    return fig


def fig_layer_laws(report: Any, name: str) -> Any:
    """One layer (``fit-b --plot-layers``): its histogram with every fitted law on log and linear scales, the
    zeros of sin(ω0 w) marked, and a table of each law's QE prediction."""
    import matplotlib.pyplot as plt

    row = next(r for r in report.rows if r["name"] == name)
    hist, laws = report.histograms[name], report.laws.get(name, {})
    fig, (ax_log, ax_lin) = plt.subplots(1, 2, figsize=(11, 4))
    draw_weight_hist(ax_log, row, hist, laws, report.omega0)
    draw_weight_hist(ax_lin, row, hist, laws, report.omega0)
    ax_lin.set_yscale("linear")
    ax_lin.set_ylim(bottom=0)
    ax_log.legend(fontsize=7)
    lines = [f"measured QE {row['qe_emp']:.5f} ± {row['qe_emp_se']:.1e}"]
    for name, entry in row.get("models", {}).items():
        best = " (AIC-best)" if name == row.get("best_model") else ""
        lines.append(f"{name}: {entry['qe_pred']:.5f} ({entry['rel_err']:+.1%}){best}")
    ax_lin.text(0.98, 0.97, "\n".join(lines), transform=ax_lin.transAxes, ha="right", va="top", fontsize=7,
                family="monospace", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    fig.suptitle(f"{name}: weights and fitted laws (ω0 = {report.omega0:g}; vertical lines: zeros of sin(ω0 w))",
                 fontsize=9)
    fig.tight_layout()
    return fig
