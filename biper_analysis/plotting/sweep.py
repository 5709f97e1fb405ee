"""Figure of a QE sweep: QE against ω0, one curve per scale (data from :func:`biper_analysis.sweeps.qe_sweep`)."""
from __future__ import annotations

from typing import Any

import numpy as np


def plot_qe_vs_omega0(ax: Any, table: dict[str, np.ndarray], log: bool = False) -> Any:
    """Draw QE(ω0) on ``ax``, one line per scale; log ω0 axis when ``log``. Returns ``ax``."""
    scales = np.unique(table["scale"])
    prior = str(table["prior"][0]) if len(table["prior"]) else "laplace"
    name = "b" if prior == "laplace" else "scale"
    for s in scales:
        m = table["scale"] == s
        ax.plot(table["omega0"][m], table["qe"][m], label=f"{name} = {s:g}")
    if log:
        ax.set_xscale("log")
    optimal = bool(np.all(table["gamma_is_optimal"]))
    gamma = "γ = γ*" if optimal else f"γ = {table['gamma'][0]:g}"
    ax.set_xlabel("ω0 (angular frequency)")
    ax.set_ylabel("QE" + (" = QE_min" if optimal else ""))
    law = {"laplace": "Laplace", "gaussian": "Gaussian", "student-t": "Student-t"}.get(prior, prior)
    ax.set_title(f"BiPer quantisation error, {law} weights, {gamma}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def figure_qe_vs_omega0(table: dict[str, np.ndarray], log: bool = False) -> Any:
    """A Figure of QE vs ω0 (one curve per scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_qe_vs_omega0(ax, table, log)
    fig.tight_layout()
    return fig
