r"""Theory figures: each function returns a matplotlib Figure; axes-level helpers take ``ax``.

The figures hold no math of their own: every curve comes from :mod:`biper_analysis.theory.analytic`,
:mod:`biper_analysis.laws.priors` and :mod:`biper_analysis.theory.inverse` (the binarizer
curves come from :mod:`biper_analysis.training.nn.binarizers` through autograd).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biper_analysis.analysis import qe_grid as sweeps
from biper_analysis.laws.priors import Gaussian, Laplace, StudentT
from biper_analysis.plotting.qe_grid import draw_qe_vs_omega0
from biper_analysis.theory import analytic
from biper_analysis.theory.inverse import omega0_for_qe

__all__ = [
    "binarizer_curves",
    "draw_qe_min",
    "draw_gamma_opt",
    "fig_qe_vs_omega0",
    "fig_qe_min",
    "fig_priors_equal_variance",
    "fig_inverse_map",
    "fig_binary_periodic",
]

_BS = (0.01, 0.037, 0.05, 0.1)


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=size or (5.0 * ncols, 3.6 * nrows), squeeze=False)
    return fig, axes


def binarizer_curves(omega0: float, w: Any, surrogate: str = "sine") -> dict[str, np.ndarray]:
    """What the training code computes on a grid of latent weights w (one definition: biper_analysis.training.nn).

    Returns ``latent`` (stage-1 weight p(ω0 w)), ``gradient`` (its autograd derivative, the backward of both
    stages) and ``binary`` (stage-2 weight sign(sin(ω0 w))), for ``surrogate`` "sine" or "triangle".
    """
    import torch

    from biper_analysis.training.nn.binarizers import weight_binarizer

    wt = torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True)
    latent = weight_binarizer("biper", omega0, 1, surrogate)(wt)
    latent.sum().backward()
    binary = weight_binarizer("biper", omega0, 2, surrogate)(wt.detach())
    return {"latent": latent.detach().numpy(), "gradient": wt.grad.numpy(), "binary": binary.numpy()}


# ------------------------------------------------------------------------------------------- axes helpers
def draw_qe_min(ax: Any, x: np.ndarray) -> None:
    """QE_min(x) with the peak, the small-x asymptote x² and the large-x limit 1/2 − 4/π² marked."""
    x_peak, q_peak = analytic.qe_min_peak()
    ax.plot(x, analytic.qe_min(x, 1.0), color="C0", label="QE_min(x)")
    ax.plot(x, np.minimum(x * x, 0.2), color="C0", ls=":", lw=1, label="x² (x → 0)")
    ax.axhline(analytic.QE_MIN_LIMIT_LARGE_X, color="C3", ls="--", lw=1, label="1/2 − 4/π² (x → ∞)")
    ax.plot([x_peak], [q_peak], "o", color="k", ms=4)
    # the label sits above the curve, right of the peak, clear of the asymptote line below it
    ax.annotate(
        f"peak (x, QE_min) = ({x_peak:.6f}, {q_peak:.6f})",
        (x_peak, q_peak),
        textcoords="offset points",
        xytext=(12, 8),
        fontsize=7,
        arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.6},
    )
    ax.set_xscale("log")
    ax.set_ylim(0, 0.12)
    ax.set_xlabel("x = ω0·b")
    ax.set_ylabel("QE_min")
    ax.legend(fontsize=7, loc="upper left")


def draw_gamma_opt(ax: Any, x: np.ndarray) -> None:
    """γ*(x) = E|sin| rising from 0 to 2/π."""
    ax.plot(x, analytic.optimal_gamma(x, 1.0), color="C2", label="γ*(x)")
    ax.axhline(analytic.GAMMA_OPT_LIMIT_LARGE_X, color="C2", ls="--", lw=1, label="2/π")
    ax.set_xscale("log")
    ax.set_xlabel("x = ω0·b")
    ax.set_ylabel("γ*")
    ax.legend(fontsize=7, loc="upper left")


# ----------------------------------------------------------------------------------------------- figures
def fig_qe_vs_omega0(omega0: np.ndarray | None = None, bs: Sequence[float] = _BS, gamma: float = 1.0) -> Any:
    """QE vs ω0 for several Laplace scales b: at γ* (left) and at a fixed γ (right, default 1)."""
    omega0 = np.geomspace(0.1, 1000.0, 400) if omega0 is None else np.asarray(omega0, dtype=np.float64)
    fig, axes = _figure(ncols=2)
    draw_qe_vs_omega0(axes[0, 0], sweeps.qe_sweep(omega0, bs, None))
    draw_qe_vs_omega0(axes[0, 1], sweeps.qe_sweep(omega0, bs, gamma))
    axes[0, 0].set_title("optimal scale γ*")
    axes[0, 1].set_title(f"fixed scale γ = {gamma:g}")
    fig.suptitle("QE vs ω0, Laplace(0, b) weights", fontsize=10)
    fig.tight_layout()
    return fig


def fig_qe_min(x: np.ndarray | None = None) -> Any:
    """QE_min(x) with peak and both limits (left) and γ*(x) (right)."""
    x = np.geomspace(1e-3, 1e3, 600) if x is None else np.asarray(x, dtype=np.float64)
    fig, axes = _figure(ncols=2)
    draw_qe_min(axes[0, 0], x)
    draw_gamma_opt(axes[0, 1], x)
    axes[0, 0].set_title("QE at the optimal scale")
    axes[0, 1].set_title("optimal scale γ*")
    fig.tight_layout()
    return fig


def fig_priors_equal_variance(
    variance: float = 2 * 0.05**2, df: float = 4.0, omega0: np.ndarray | None = None, gamma: float | None = None
) -> Any:
    """QE vs ω0 for Laplace, Gaussian and Student-t(df) weights of the same variance (γ* by default)."""
    if df <= 2:
        raise ValueError(f"equal variance needs a Student-t with df > 2, got df={df}")
    omega0 = np.geomspace(0.5, 2000.0, 240) if omega0 is None else np.asarray(omega0, dtype=np.float64)
    sd = math.sqrt(variance)
    priors = [Laplace(sd / math.sqrt(2.0)), Gaussian(sd), StudentT(df, sd * math.sqrt((df - 2.0) / df))]
    labels = [
        f"Laplace b = {priors[0].b:.4g}",
        f"Gaussian σ = {sd:.4g}",
        f"Student-t ν = {df:g}, s = {priors[2].scale:.4g}",
    ]
    fig, axes = _figure(ncols=2)
    for i, (p, lab) in enumerate(zip(priors, labels)):
        q = analytic.qe(omega0, gamma=gamma, prior=p)
        axes[0, 0].plot(omega0, q, color=f"C{i}", label=lab)
        axes[0, 1].plot(omega0, p.expected_abs_sin(omega0), color=f"C{i}", label=lab)
    axes[0, 0].axhline(analytic.QE_MIN_LIMIT_LARGE_X, color="0.5", ls="--", lw=0.8)
    for ax, ylab in zip(axes[0], ["QE" + (" (γ*)" if gamma is None else f" (γ = {gamma:g})"), "γ* = E|sin(ω0 w)|"]):
        ax.set_xscale("log")
        ax.set_xlabel("ω0")
        ax.set_ylabel(ylab)
        ax.legend(fontsize=7)
    fig.suptitle(f"weight laws with equal variance {variance:.3g}", fontsize=10)
    fig.tight_layout()
    return fig


def fig_inverse_map(targets: np.ndarray | None = None) -> Any:
    """The inverse map target QE → ω0·b at γ*: the rising branch (all targets) and the falling branch."""
    x_peak, q_peak = analytic.qe_min_peak()
    limit = analytic.QE_MIN_LIMIT_LARGE_X
    if targets is None:
        targets = np.concatenate([np.geomspace(1e-4, limit, 120), np.linspace(limit, q_peak, 200)[1:]])
    rising, falling = [], []
    for t in np.asarray(targets, dtype=np.float64):
        roots = omega0_for_qe(float(t), b=1.0)
        rising.append((t, roots[0]))
        if len(roots) == 2:
            falling.append((t, roots[1]))
    fig, axes = _figure()
    ax = axes[0, 0]
    r, f = np.array(rising), np.array(falling)
    ax.plot(r[:, 0], r[:, 1], color="C0", label="rising branch (x < x_peak)")
    if len(f):
        ax.plot(f[:, 0], f[:, 1], color="C1", label="falling branch (x > x_peak)")
    ax.plot([q_peak], [x_peak], "o", color="k", ms=4, label=f"peak (x, QE_min) = ({x_peak:.6f}, {q_peak:.6f})")
    ax.axvline(limit, color="C3", ls="--", lw=1, label="1/2 − 4/π²")
    ax.set_yscale("log")
    ax.set_xlabel("target QE (γ*)")
    ax.set_ylabel("ω0·b")
    ax.set_title("ω0·b giving a target QE")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def fig_binary_periodic(omega0: float = 20.0, w: np.ndarray | None = None) -> Any:
    """BiPer's binarizer: sign(w) vs sign(sin(ω0 w)); the latent sin(ω0 w) and its gradient ω0 cos(ω0 w);
    the triangle wave with the same zero crossings and its gradient ±2ω0/π."""
    w = np.linspace(-0.4, 0.4, 4001) if w is None else np.asarray(w, dtype=np.float64)
    sine, tri = binarizer_curves(omega0, w, "sine"), binarizer_curves(omega0, w, "triangle")
    fig, axes = _figure(ncols=3, size=(14.0, 3.6))
    ax = axes[0, 0]
    ax.plot(w, np.sign(w), color="0.3", lw=5, alpha=0.3, label="sign(w)")
    ax.plot(w, sine["binary"], color="C0", lw=1.2, label=f"sign(sin(ω0 w)), ω0 = {omega0:g}")
    ax.set_title("binary weights (forward, stage 2)")
    ax = axes[0, 1]
    ax.plot(w, sine["latent"], color="C0", label="sin(ω0 w)")
    ax.plot(w, tri["latent"], color="C1", ls="--", label="triangle wave (same zeros)")
    ax.set_title("latent weights (forward, stage 1)")
    ax = axes[0, 2]
    ax.plot(w, sine["gradient"], color="C0", label="ω0 cos(ω0 w)")
    ax.plot(w, tri["gradient"], color="C1", ls="--", label="triangle: ±2ω0/π")
    ax.set_title("gradient (backward)")
    for ax in axes[0]:
        ax.set_xlabel("w")
        ax.axhline(0, color="0.8", lw=0.6)
        ax.legend(fontsize=7, loc="lower right" if ax is axes[0, 0] else "upper left", framealpha=0.9)
    fig.tight_layout()
    return fig
