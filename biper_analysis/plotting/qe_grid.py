"""QE against ω0, one curve per weight law, from a QE table (:func:`biper_analysis.analysis.qe_grid.qe_table`).

``draw_qe_vs_omega0`` is the one drawing of this curve: the ``sweep`` command's plot and the theory figure 2
both use it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from biper_analysis.theory import analytic

__all__ = ["draw_qe_vs_omega0", "fig_qe_vs_omega0"]


def draw_qe_vs_omega0(ax: Any, table: dict[str, np.ndarray], log: bool = True, limits: bool = True) -> Any:
    """Draw QE(ω0) on ``ax``, one line per law (scale); log ω0 axis when ``log``; with ``limits`` the peak of
    QE_min and the large-ω0 limit as reference lines. Returns ``ax``."""
    scales = list(dict.fromkeys(zip(table["prior"].tolist(), table["scale"].tolist())))
    for i, (prior, scale) in enumerate(scales):
        m = (table["prior"] == prior) & (table["scale"] == scale)
        name = "b" if prior == "laplace" else "scale"
        family = prior in ("laplace", "gaussian", "student-t")
        label = f"{name} = {scale:g}" if family else f"{prior}, scale {scale:.3g}"
        ax.plot(table["omega0"][m], table["qe"][m], color=f"C{i}", label=label)
    optimal = bool(np.all(table["gamma_is_optimal"]))
    gamma = None if optimal else float(table["gamma"][0])
    if limits:
        if optimal:
            ax.axhline(analytic.qe_min_peak()[1], color="0.45", lw=0.9, ls=":", label="peak of QE_min, 0.102835")
            ax.axhline(analytic.QE_MIN_LIMIT_LARGE_X, color="k", lw=0.9, ls="--", label="1/2 − 4/π² (ω0 → ∞)")
        else:
            ax.axhline(analytic.qe_limit_large_x(gamma), color="k", lw=0.9, ls="--",
                       label="γ² − 4γ/π + 1/2 (ω0 → ∞)")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("ω0 (angular frequency, rad per unit weight)")
    ax.set_ylabel("QE at γ*" if optimal else f"QE at γ = {gamma:g}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def fig_qe_vs_omega0(table: dict[str, np.ndarray], log: bool = True) -> Any:
    """A Figure of QE vs ω0 (one curve per law)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    draw_qe_vs_omega0(ax, table, log)
    laws = sorted(set(table["prior"].tolist()))
    ax.set_title(f"BiPer quantisation error, {', '.join(laws)} weights")
    fig.tight_layout()
    return fig
