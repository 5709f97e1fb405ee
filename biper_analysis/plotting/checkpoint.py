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

__all__ = [
    "draw_weight_hist",
    "draw_sin_hist",
    "draw_phase_hist",
    "draw_qe_by_law",
    "fig_checkpoint_summary",
    "fig_layer_laws",
    "plotted_layers",
    "undrawn_layers",
    "degenerate_layer",
]


def plotted_layers(report: Any) -> list[str]:
    """The layers a figure can draw: analysed, with histograms (a layer of NaN/inf weights only has none)."""
    return [r["name"] for r in report.rows if r["n"] > 0 and r["name"] in report.histograms]


def undrawn_layers(report: Any) -> list[str]:
    """One phrase per layer left out of the figures and why (the rule of
    :func:`biper_analysis.theory.weights.weight_faults`: NaN/inf weights are named with their count)."""
    drawn = set(plotted_layers(report))
    return [
        f"{r['name']} ({r['weight_fault']})"
        if r.get("weight_fault")
        else f"{r['name']} (all {r['n_nonfinite']} weights are NaN/inf)"
        if r.get("n_nonfinite")
        else f"{r['name']} (no weights)"
        for r in report.rows
        if r["name"] not in drawn
    ]


def degenerate_layer(row: dict[str, Any]) -> str | None:
    """Why no law can be drawn for a layer whose weights take one magnitude (all zero, or every |w| equal), else
    None: its b = mean|w| is that magnitude, and every spread the laws describe is zero."""
    if row.get("weight_fault"):  # the analysis' own words, where it records them
        return str(row["weight_fault"])
    b, w2 = row.get("b_loc0", math.nan), row.get("mean_w2", math.nan)
    if b == 0:
        return f"all {row['n']} weights are 0 (a constant layer)"
    if math.isfinite(b) and math.isfinite(w2) and math.isclose(w2, b * b, rel_tol=1e-9):
        return f"every |w| is {b:.4g} (a constant layer, or ±{b:.4g} only)"
    return None


def _layer_title(row: dict[str, Any]) -> str:
    short = row["name"].removesuffix(".weight")
    degenerate = degenerate_layer(row)
    if degenerate is not None:
        return f"{short}\nconstant: no law fitted"
    return f"{short}\nLaplace {row.get('laplace_verdict') or '-'}, KS {row['ks_stat']:.3f}"


def draw_weight_hist(
    ax: Any, row: dict[str, Any], hist: Any, laws: dict[str, Any], omega0: float, zeros: bool = True, points: int = 1500
) -> None:
    """Density histogram of one layer's weights, every fitted law's pdf, and the zeros kπ/ω0 of sin(ω0 w). A layer
    of one weight magnitude (:func:`degenerate_layer`) gets its histogram and the reason instead of the laws."""
    edges, counts = hist.w_edges, hist.w_counts
    density = counts / (row["n"] * np.diff(edges))
    ax.stairs(density, edges, fill=True, color="0.8", label="weights")
    degenerate = degenerate_layer(row)
    w = np.linspace(edges[0], edges[-1], points)
    for name, law in ({} if degenerate else laws).items():
        colour, ls = law_style(name)  # one colour and line style per law, the same in every figure
        ax.plot(w, law.pdf(w), color=colour, ls=ls, lw=1.0, label=name)
    if degenerate:
        ax.text(0.5, 0.5, degenerate, transform=ax.transAxes, ha="center", va="center", fontsize=6, wrap=True)
    if zeros:
        k = np.arange(math.ceil(edges[0] * omega0 / math.pi), math.floor(edges[-1] * omega0 / math.pi) + 1)
        for z in k * math.pi / omega0:
            ax.axvline(z, color="k", lw=0.4, alpha=0.35)
    ax.set_yscale("log")
    positive = density[density > 0]
    if positive.size:
        ax.set_ylim(bottom=positive.min() / 3)
    ax.set_title(_layer_title(row), fontsize=7)
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
    top = float(max((counts / total).max(), (expected / total).max()))
    ax.set_ylim(0.0, 1.35 * top)  # headroom: the legend sits above the highest bar, not on it
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
        ax.errorbar(
            emp,
            pred,
            xerr=2 * se,
            fmt=markers[i % len(markers)],
            ms=4,
            color=colour,
            ecolor="0.7",
            elinewidth=0.6,
            label=name,
        )
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
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # beside the data


def fig_checkpoint_summary(report: Any, ncols: int = 6) -> Any:
    """The ``fit-b --plot`` figure: a grid of per-layer histograms with every fitted law (zeros of sin(ω0 w) as
    thin lines; one legend for the grid, above it), then sin, phase and predicted-vs-measured QE panels. Laid out
    by matplotlib's constrained layout: titles, legends and panels never overlap and leave no empty bands. Layers
    that cannot be drawn (NaN/inf weights only) are named under the figure."""
    import matplotlib.pyplot as plt

    names = plotted_layers(report)
    ncols = max(1, min(ncols, len(names)))  # no empty slots when a network has few binarised layers
    grid_rows = max(1, math.ceil(len(names) / ncols))
    fig = plt.figure(figsize=(max(2.3 * ncols, 13.0), 2.3 * grid_rows + 4.8), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.3 * grid_rows + 0.5, 4.3])
    axes = top.subplots(grid_rows, ncols, squeeze=False)
    rows = {r["name"]: r for r in report.rows}
    handles: dict[str, Any] = {}
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_axis_off()
            continue
        name = names[i]
        edges = report.histograms[name].w_edges
        draw_weight_hist(
            ax,
            rows[name],
            report.histograms[name],
            report.laws.get(name, {}),
            report.omega0,
            zeros=report.omega0 * (edges[-1] - edges[0]) < 200 * math.pi,
        )
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        top.legend(
            list(handles.values()),
            list(handles),
            loc="outside upper center",
            ncol=len(handles),
            fontsize=7,
            frameon=False,
        )
    ax_sin, ax_phase, ax_qe = bottom.subplots(1, 3)
    draw_sin_hist(ax_sin, report)
    draw_phase_hist(ax_phase, report)
    draw_qe_by_law(ax_qe, report)
    src = report.checkpoint.get("path", "")
    fig.suptitle(f"{src}  (ω0 = {report.omega0:g}; thin vertical lines: zeros kπ/ω0 of sin(ω0 w))", fontsize=9)
    skipped = undrawn_layers(report)
    if skipped:
        fig.supxlabel("not drawn: " + "; ".join(skipped), fontsize=8)
    return fig


def fig_layer_laws(report: Any, name: str) -> Any:
    """One layer (``fit-b --plot-layers``): its histogram with every fitted law on log and linear scales, the
    zeros of sin(ω0 w) marked, and a table of each law's QE prediction (rel_err as a fraction, as in the table)."""
    import matplotlib.pyplot as plt

    row = next(r for r in report.rows if r["name"] == name)
    hist, laws = report.histograms[name], report.laws.get(name, {})
    fig, (ax_log, ax_lin) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    draw_weight_hist(ax_log, row, hist, laws, report.omega0)
    draw_weight_hist(ax_lin, row, hist, laws, report.omega0)
    ax_lin.set_yscale("linear")
    ax_lin.set_ylim(bottom=0)
    fig.legend(*ax_log.get_legend_handles_labels(), loc="outside right upper", fontsize=7)  # beside the data
    lines = [f"measured QE {row['qe_emp']:.5f} ± {row['qe_emp_se']:.1e}"]
    for name, entry in row.get("models", {}).items():
        best = " (best out of sample)" if name == row.get("best_model") else ""
        lines.append(f"{name}: {entry['qe_pred']:.5f} (rel_err {entry['rel_err']:+.3f}){best}")
    ax_lin.text(
        0.98,
        0.97,
        "\n".join(lines),
        transform=ax_lin.transAxes,
        ha="right",
        va="top",
        fontsize=7,
        family="monospace",
        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
    )
    fig.suptitle(
        f"{name}: weights and fitted laws (ω0 = {report.omega0:g}; vertical lines: zeros of sin(ω0 w))", fontsize=9
    )
    return fig
