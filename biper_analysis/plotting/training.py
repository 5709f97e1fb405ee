"""Training figures from ``RUN/metrics.jsonl`` records: accuracy per epoch, and per-layer b and QE per epoch.

Each figure function takes the records (a list of dicts as :func:`read_metrics` returns) and returns a Figure;
axes helpers take ``ax``. The QE values are the ones the training loop computed with the analytic core.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biper_analysis._io.jsonio import read_jsonl

__all__ = ["read_metrics", "draw_accuracy", "draw_layer_quantity", "fig_training"]


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The per-epoch records of a run folder (``metrics.jsonl``), in order."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {str(run_dir)!r}; is it a run folder of `train`?")
    return read_jsonl(path)


def _global_epochs(records: Sequence[dict[str, Any]]) -> list[int]:
    return list(range(1, len(records) + 1))


def draw_accuracy(ax: Any, records: Sequence[dict[str, Any]], label: str = "") -> None:
    """Train and test accuracy (%) against the epoch counted over both stages; a line marks stage 2's start."""
    x = _global_epochs(records)
    ax.plot(x, [r["test_acc"] for r in records], marker="o", ms=3, label=f"{label} test".strip())
    ax.plot(x, [r["train_acc"] for r in records], ls="--", alpha=0.7, label=f"{label} train".strip())
    starts = [i + 1 for i, r in enumerate(records) if r["stage"] == 2 and (i == 0 or records[i - 1]["stage"] == 1)]
    for s in starts:
        ax.axvline(s - 0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("epoch (stage 1 then stage 2)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)


def draw_layer_quantity(ax: Any, records: Sequence[dict[str, Any]], key: str) -> None:
    """One line per binarised layer: ``key`` (e.g. "b", "qe_opt", "qe_laplace") against the epoch."""
    if not records or not records[0].get("layers"):
        ax.text(0.5, 0.5, "no binarised layers", ha="center", transform=ax.transAxes)
        return
    x = _global_epochs(records)
    names = [layer["name"] for layer in records[0]["layers"]]
    for j, name in enumerate(names):
        ax.plot(x, [r["layers"][j].get(key) for r in records], lw=1, label=name if len(names) <= 6 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    if len(names) <= 6:
        ax.legend(fontsize=7)


def fig_training(records: Sequence[dict[str, Any]], title: str = "") -> Any:
    """Accuracy, per-layer b = mean|w| and per-layer QE (γ*) of one run."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    draw_accuracy(axes[0], records)
    draw_layer_quantity(axes[1], records, "b")
    draw_layer_quantity(axes[2], records, "qe_opt")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
