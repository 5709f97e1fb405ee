"""Figures of what the binarised weights did while training (:mod:`biper_analysis.training.trajectory` in, Figure out):
the phase density θ = ω0 w mod π over epochs as a heat map, and the flip and round-trip ratios per epoch, for one run
and for the training sweep (BiPer at each ω0 beside the sign baseline)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from biper_analysis.theory.weights import NEAR_ZERO_HALF_WIDTH
from biper_analysis.training.trajectory import phase_bin_edges, sweep_trajectories

__all__ = ["draw_phase_heatmap", "draw_ratio", "fig_run_trajectory", "fig_phase_trajectories", "fig_flip_ratios"]

#: Colour range of the heat maps, in units of the uniform phase density 1/π (1 = uniform).
_DENSITY_RANGE = (0.05, 30.0)


def _stage2_start(trajectory: dict[str, Any]) -> int | None:
    starts = np.flatnonzero(trajectory["stage"] == 2)
    return int(starts[0]) + 1 if starts.size and starts[0] > 0 else None


def draw_phase_heatmap(ax: Any, trajectory: dict[str, Any], layer: str, labels: bool = True) -> Any:
    """Epoch × phase heat map of one layer's phase density (relative to uniform, log colour scale). The phase axis is
    wrapped to [−π/2, π/2) (θ and θ − π are the same phase), so the zero of sin sits in the middle and the crests of
    |sin| at both edges; dotted lines mark the π/8 windows of fit-b's near-zero and near-crest fractions. Returns the
    image (None when the layer has no phase: the sign baseline, which the panel says)."""
    series = trajectory["layers"][layer]
    density = series["phase_density"]
    if density is None:
        ax.text(
            0.5,
            0.5,
            series.get("phase_note") or "no phase recorded",
            ha="center",
            va="center",
            wrap=True,
            fontsize=7,
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return None
    half = density.shape[1] // 2
    wrapped = np.roll(density, half, axis=1)  # bins [π/2, π) first: they are [−π/2, 0) after wrapping
    edges = phase_bin_edges() - edges_shift(density.shape[1])
    epochs = np.arange(density.shape[0] + 1) + 0.5
    relative = np.clip(wrapped * math.pi, _DENSITY_RANGE[0], None)
    image = ax.pcolormesh(epochs, edges, relative.T, norm=LogNorm(*_DENSITY_RANGE), cmap="magma", shading="flat")
    for y in (-NEAR_ZERO_HALF_WIDTH, NEAR_ZERO_HALF_WIDTH):
        ax.axhline(y, color="c", lw=0.7, ls=":")
    for y in (-0.5 * math.pi + NEAR_ZERO_HALF_WIDTH, 0.5 * math.pi - NEAR_ZERO_HALF_WIDTH):
        ax.axhline(y, color="w", lw=0.7, ls=":")
    start = _stage2_start(trajectory)
    if start is not None:
        ax.axvline(start - 0.5, color="w", lw=1.0)
    ax.set_yticks([-0.5 * math.pi, 0, 0.5 * math.pi], ["−π/2 crest", "0 zero", "π/2 crest"] if labels else [])
    ax.set_xlabel("epoch (stage 1, then stage 2)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    return image


def edges_shift(bins: int) -> float:
    """How far the wrapped phase axis is shifted: half of [0, π), so that its bins run over [−π/2, π/2).

    >>> round(edges_shift(36), 6) == round(math.pi / 2, 6)
    True
    """
    return (bins // 2) * math.pi / bins


def draw_ratio(ax: Any, trajectory: dict[str, Any], layer: str, key: str = "flip_ratio", **style: Any) -> None:
    """One layer's ``key`` (a ratio per epoch) against the epoch, log scale; zeros are not drawn (log axis)."""
    values = np.asarray(trajectory["layers"][layer][key], dtype=np.float64)
    x = np.arange(1, values.size + 1)
    ax.plot(x, np.where(values > 0, values, np.nan), **style)
    ax.set_yscale("log")


def fig_run_trajectory(trajectory: dict[str, Any], title: str = "") -> Figure:
    """One run: per binarised layer, the phase heat map (top) and the flip, crossing and round-trip ratios per epoch
    (bottom)."""
    layers = list(trajectory["layers"])
    fig, axes = plt.subplots(
        2, max(len(layers), 1), figsize=(4.4 * max(len(layers), 1), 6.6), squeeze=False, layout="constrained"
    )
    image = None
    for j, layer in enumerate(layers):
        image = draw_phase_heatmap(axes[0, j], trajectory, layer, labels=j == 0) or image
        axes[0, j].set_title(layer, fontsize=9)
        for key, colour in (
            ("flip_ratio", "C0"),
            ("cross_ratio", "C1"),
            ("round_trip_ratio", "C2"),
            ("jump_ratio", "C3"),
        ):
            draw_ratio(
                axes[1, j], trajectory, layer, key, color=colour, marker="o", ms=2.5, lw=1, label=key.replace("_", " ")
            )
        start = _stage2_start(trajectory)
        if start is not None:
            axes[1, j].axvline(start - 0.5, color="0.5", ls=":", lw=1)
        axes[1, j].set(
            xlabel="epoch (stage 1, then stage 2)", ylabel="fraction of the layer's weights per epoch" if j == 0 else ""
        )
        axes[1, j].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1, j].grid(alpha=0.3)
        axes[1, j].legend(fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), label="phase density / uniform")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _by_group(sweep: dict[str, Any]) -> dict[tuple[str, float], list[tuple[dict[str, Any], dict[str, Any]]]]:
    groups: dict[tuple[str, float], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for run, trajectory in sweep_trajectories(sweep):
        key = (run["binarizer"], run["omega0"] if run["binarizer"] == "biper" else math.inf)
        groups.setdefault(key, []).append((run, trajectory))
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0] != "biper", kv[0][1])))


def _empty(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    ax.set_axis_off()
    return fig


_NO_TRAJECTORY = (
    "no recorded trajectories in this sweep (its runs were trained before recording existed); "
    "train them into a new folder with `biper-analysis train-sweep --out NEW`"
)


def fig_phase_trajectories(sweep: dict[str, Any]) -> Figure:
    """Phase density θ = ω0 w mod π over epochs, one heat map per binarised layer (columns) and BiPer ω0 (rows),
    the lowest seed of each ω0."""
    groups = {k: v for k, v in _by_group(sweep).items() if k[0] == "biper"}
    if not groups:
        return _empty(_NO_TRAJECTORY)
    layers = list(next(iter(groups.values()))[0][1]["layers"])
    fig, axes = plt.subplots(
        len(groups),
        len(layers),
        figsize=(4.6 * len(layers) + 1.2, 2.3 * len(groups) + 0.9),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    image = None
    for i, members in enumerate(groups.values()):
        run, trajectory = min(members, key=lambda m: m[0]["seed"])
        for j, layer in enumerate(layers):
            image = draw_phase_heatmap(axes[i, j], trajectory, layer, labels=j == 0) or image
            axes[i, j].set_title(f"{run['name']}: {layer}", fontsize=8)
            if i < len(groups) - 1:
                axes[i, j].set_xlabel("")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="phase density / uniform (log)", shrink=0.8)
    fig.suptitle(
        "Phase θ = ω0·w mod π of the latent weights over training, wrapped to [−π/2, π/2)\n(dotted: the π/8 "
        "windows at the zero of sin, cyan, and at the crests, white; solid line: stage 2 starts)",
        fontsize=9,
    )
    return fig


def fig_flip_ratios(sweep: dict[str, Any]) -> Figure:
    """Per binarised layer (columns): the fraction of binary weights that flip per epoch (top) and that cross a zero of
    the latent and come back within the epoch (bottom), BiPer at each ω0 beside the sign baseline; thin lines are
    seeds, bold the mean over seeds."""
    groups = _by_group(sweep)
    if not groups:
        return _empty(_NO_TRAJECTORY)
    layers = list(next(iter(groups.values()))[0][1]["layers"])
    fig, axes = plt.subplots(2, len(layers), figsize=(5.2 * len(layers), 7.0), squeeze=False, sharex=True)
    for g, ((binarizer, omega0), members) in enumerate(groups.items()):
        colour, label = ("k", "sign") if binarizer == "sign" else (f"C{g}", f"BiPer ω0 = {omega0:g}")
        for j, layer in enumerate(layers):
            for row, key in enumerate(("flip_ratio", "round_trip_ratio")):
                curves = [t["layers"][layer][key] for _, t in members if layer in t["layers"]]
                n = min(len(c) for c in curves)
                for _, t in members:
                    draw_ratio(axes[row, j], t, layer, key, color=colour, lw=0.5, alpha=0.35)
                mean = np.mean([c[:n] for c in curves], axis=0)
                axes[row, j].plot(
                    np.arange(1, n + 1),
                    np.where(mean > 0, mean, np.nan),
                    color=colour,
                    lw=2,
                    label=f"{label} (mean of {len(curves)})",
                )
    start = _stage2_start(next(iter(groups.values()))[0][1])
    for row, what in enumerate(("flip ratio: binary weights flipped / epoch", "round trips: crossed and back / epoch")):
        for j, layer in enumerate(layers):
            ax = axes[row, j]
            if start is not None:
                ax.axvline(start - 0.5, color="0.5", ls=":", lw=1)
            ax.set(ylabel=what, title=layer if row == 0 else "")
            ax.grid(alpha=0.3, which="both")
            if row == 1:
                ax.set_xlabel("epoch (stage 1, then stage 2)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("How often the binary weights change while training (dotted: stage 2 starts)", fontsize=10)
    fig.tight_layout()
    return fig
