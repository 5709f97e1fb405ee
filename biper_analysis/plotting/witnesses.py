"""Figure 5: the witnesses — Monte Carlo error against n with its ±SE band, quadrature error across x."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["fig_witnesses"]


def fig_witnesses(mc: dict[str, Any], quad: dict[str, Any]) -> Figure:
    """Left: |MC − closed form| and one SE against n (with the n^{-1/2} guide). Right: quadrature rel. error."""
    fig, (ax_mc, ax_q) = plt.subplots(1, 2, figsize=(10, 4))
    n = np.asarray(mc["n"], dtype=float)
    ax_mc.loglog(n, mc["se"], color="C0", ls="-", lw=1.5, label="reported SE")
    ax_mc.loglog(
        n, 2 * mc["se"], color="C2", ls="--", lw=1.5, label="2 SE (|error| should lie below ~95 % of the time)"
    )
    ax_mc.loglog(n, np.maximum(mc["abs_err"], 1e-12), "o", color="C1", ms=5, label="|MC − closed form|")
    ax_mc.loglog(
        n, mc["se"][0] * np.sqrt(n[0] / n) * 3, color="0.3", ls=":", lw=1.2, label="slope n^(−1/2) (guide, offset ×3)"
    )
    g = "γ*" if mc["gamma"] is None else f"γ = {mc['gamma']:g}"
    ax_mc.set(
        xlabel="samples n", ylabel="absolute error", title=f"Monte Carlo, ω0 = {mc['omega0']:g}, b = {mc['b']:g}, {g}"
    )
    ax_mc.legend(fontsize=7)
    for i, (label, rel) in enumerate(quad["rel_err"].items()):
        ax_q.loglog(
            quad["x"],
            np.maximum(rel, 1e-17),
            marker="os^"[i % 3],
            ls="-",
            ms=4,
            color=f"C{i + 3}",
            label=f"γ = {'γ*' if label == 'opt' else label}",
        )
    ax_q.axhline(1e-10, color="r", ls="--", lw=1, label="verify tolerance 1e-10")
    ax_q.axhline(np.finfo(float).eps, color="k", ls=":", lw=1, label="machine ε")
    ax_q.set(
        xlabel="x = ω0·b",
        ylabel="|quadrature / closed form − 1|  (0 drawn at 1e-17)",
        title="Quadrature, period by period",
    )
    ax_q.legend(fontsize=7)
    for ax in (ax_mc, ax_q):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
