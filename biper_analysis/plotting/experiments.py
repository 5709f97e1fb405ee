"""Figures of the training sweep (figures 7 and 8): they take ``sweep.json`` content and return a Figure."""
from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def fig_predicted_vs_measured(sweep: dict[str, Any]) -> Figure:
    """Per-layer normalised QE / E[latent²]: Laplace prediction against the trained weights, BiPer and sign."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, kind, title in ((axes[0], "biper", "BiPer: sign(sin(ω0 w)) at γ*"),
                            (axes[1], "sign", "sign baseline: sign(w) at γ* = mean|w|")):
        lo, hi = math.inf, -math.inf
        runs = [r for r in sweep["runs"] if r["binarizer"] == kind]
        colours = {w: f"C{i}" for i, w in enumerate(sorted({r["omega0"] for r in runs}))}
        labelled: set[str] = set()
        for run in runs:
            rows = [r for r in run["analysis"]["layers"] if "normalised" in r]
            pred = [r["normalised"][f"{kind}_pred"] for r in rows]
            emp = [r["normalised"][f"{kind}_emp"] for r in rows]
            label = f"ω0 = {run['omega0']:g}" if kind == "biper" else "sign runs"
            ax.scatter(pred, emp, s=30, alpha=0.7, color=colours[run["omega0"]] if kind == "biper" else "C3",
                       marker="os^vD"[run["seed"] % 5], label=None if label in labelled else label)
            labelled.add(label)
            lo, hi = min(lo, *pred, *emp), max(hi, *pred, *emp)
        if math.isfinite(lo):
            pad = 0.05 * (hi - lo + 1e-3)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="measured = predicted")
        ax.set_xlabel("predicted under Laplace(0, b̂): QE / E[latent²]")
        ax.set_ylabel("measured on the trained weights")
        ax.set_title(title + ("  (marker = seed)" if kind == "biper" else ""))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("Per-layer quantisation error, predicted vs measured (normalised, unit-free)")
    fig.tight_layout()
    return fig


def fig_accuracy_vs_omega0(sweep: dict[str, Any]) -> Figure:
    """Test accuracy (mean ± std over seeds) and weighted mean measured QE against ω0; sign baseline as lines."""
    groups = sweep["groups"]
    biper = sorted((g for g in groups if g["binarizer"] == "biper"), key=lambda g: g["omega0"])
    sign = [g for g in groups if g["binarizer"] == "sign"]
    fig, (ax_acc, ax_qe) = plt.subplots(1, 2, figsize=(10, 4))
    w = [g["omega0"] for g in biper]
    for key, marker, label, shift in (("best_acc", "o", "best epoch", 0.96), ("last_acc", "s", "last epoch", 1.04)):
        # best and last often coincide: a small horizontal offset keeps both visible on the log axis
        ax_acc.errorbar([v * shift for v in w], [g[key]["mean"] for g in biper], yerr=[_nan0(g[key]["std"]) for g in biper],
                        marker=marker, capsize=3, label=f"BiPer, {label}")
    for g in sign:
        m, s = g["best_acc"]["mean"], _nan0(g["best_acc"]["std"])
        ax_acc.axhline(m, color="k", ls="--", label=f"sign baseline, best ({m:.2f} ± {s:.2f})")
        ax_acc.axhspan(m - s, m + s, color="k", alpha=0.1)
    n = max((g["best_acc"]["n"] for g in groups), default=0)
    ax_acc.set(xscale="log", xlabel="ω0", ylabel="test accuracy (%)", title=f"Fashion-MNIST, mean ± std over {n} seeds")
    ax_acc.legend(fontsize=7)
    ax_qe.errorbar(w, [g["qe_emp_weighted"]["mean"] for g in biper],
                   yerr=[_nan0(g["qe_emp_weighted"]["std"]) for g in biper], marker="o", capsize=3,
                   label="measured on trained weights")
    ax_qe.plot(w, [g["qe_pred_weighted"]["mean"] for g in biper], "x--", label="closed form at fitted b")
    ax_qe.set(xscale="log", xlabel="ω0", ylabel="weight-count-weighted QE_min",
              title="Quantisation error of the trained BiPer weights")
    ax_qe.legend(fontsize=7)
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for ax in (ax_acc, ax_qe):
        ax.grid(alpha=0.3)
        ax.set_xticks(w)  # label the swept ω0 values themselves, not log decades
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    return fig


def _nan0(v: float | None) -> float:
    return 0.0 if v is None or not math.isfinite(v) else v
