"""QE against ω0, one curve per weight law and γ, from a QE table (:mod:`biper_analysis.analysis.qe_grid`).

``draw_qe_vs_omega0`` is the one drawing of this curve: the ``sweep`` command's plot and the theory figure 2
both use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biper_analysis.theory import analytic

__all__ = ["draw_qe_vs_omega0", "fig_qe_vs_omega0"]


def _curves(table: dict[str, np.ndarray]) -> list[tuple[str, float, float | None]]:
    """(prior, scale, γ or None for γ*) of each curve, in table order."""
    gammas = [None if opt else g for opt, g in zip(table["gamma_is_optimal"].tolist(), table["gamma"].tolist())]
    return list(dict.fromkeys(zip(table["prior"].tolist(), table["scale"].tolist(), gammas)))


def draw_qe_vs_omega0(ax: Any, table: dict[str, np.ndarray], log: bool = True, limits: bool = True) -> Any:
    """Draw QE(ω0) on ``ax``, one line per (law, γ); log ω0 axis when ``log``; with ``limits`` and one γ the peak of
    QE_min and the large-ω0 limit as reference lines. Returns ``ax``."""
    curves = _curves(table)
    gammas = list(dict.fromkeys(g for _, _, g in curves))
    for i, (prior, scale, g) in enumerate(curves):
        opt = table["gamma_is_optimal"]
        m = (table["prior"] == prior) & (table["scale"] == scale) & (opt if g is None else ~opt & (table["gamma"] == g))
        name = "b" if prior == "laplace" else "scale"
        family = prior in ("laplace", "gaussian", "student-t")
        label = f"{name} = {scale:g}" if family else f"{prior}, scale {scale:.3g}"
        if len(gammas) > 1:
            label += ", γ*" if g is None else f", γ = {g:g}"
        ax.plot(table["omega0"][m], table["qe"][m], color=f"C{i % 10}", label=label)
    gamma = gammas[0] if len(gammas) == 1 else None
    if limits and len(gammas) == 1:
        if gamma is None:
            ax.axhline(analytic.qe_min_peak()[1], color="0.45", lw=0.9, ls=":", label="peak of QE_min, 0.102835")
            ax.axhline(analytic.QE_MIN_LIMIT_LARGE_X, color="k", lw=0.9, ls="--", label="1/2 − 4/π² (ω0 → ∞)")
        else:
            ax.axhline(analytic.qe_limit_large_x(gamma), color="k", lw=0.9, ls="--", label="γ² − 4γ/π + 1/2 (ω0 → ∞)")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("ω0 (angular frequency, rad per unit weight)")
    ax.set_ylabel("QE" if len(gammas) > 1 else "QE at γ*" if gamma is None else f"QE at γ = {gamma:g}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def fig_qe_vs_omega0(table: dict[str, np.ndarray], log: bool = True) -> Any:
    """A Figure of QE vs ω0 (one curve per law and γ)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    draw_qe_vs_omega0(ax, table, log)
    laws = sorted(set(table["prior"].tolist()))
    ax.set_title(f"BiPer quantisation error, {', '.join(laws)} weights")
    fig.tight_layout()
    return fig
