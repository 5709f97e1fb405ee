r"""Training you can watch: per binarised layer, what the latent weights did between two records.

A :class:`TrajectoryRecorder` is called at three points of the training loop (:mod:`biper_analysis.training.loop`):
``start_epoch`` (the weights the epoch starts from), ``after_step`` (after every optimiser step: an element-wise
running minimum and maximum of each binarised weight, two cheap tensor operations per layer) and ``finish_epoch``
(the record). Per binarised layer and epoch — and, with ``record_every_steps = N``, every N optimiser steps within the
epoch — it records, into the epoch's line of ``RUN/metrics.jsonl``:

* ``flip_ratio``, ``cross_ratio``, ``round_trip_ratio``, ``jump_ratio`` and ``zeros_swept_mean``: flips of the
  binarised weight and zero crossings of the latent since the last record, by the one definition
  :func:`biper_analysis.theory.weights.weight_transitions` (crossed = flips + round trips + jumps; read its docstring
  for the exact definitions);
* ``phase_counts`` (a fixed 36-bin histogram of θ = ω0 w mod π over [0, π)), ``near_zero_frac`` and
  ``near_crest_frac``: from :func:`biper_analysis.theory.weights.weight_stats` — the same numbers ``fit-b`` reports;
* ``weight_hist``: a 64-bin histogram of the latent weights over [−max|w|, max|w|];
* ``b`` and QE are the loop's :func:`~biper_analysis.training.loop.layer_metrics` columns (every N steps too).

The sign baseline's latent is w itself: its flips and crossings are those of w's one zero; the phase θ = ω0 w does
not apply, so ``phase_counts``, ``near_zero_frac`` and ``near_crest_frac`` are null and ``phase_note`` says why. The
``fp`` baseline has no binarised weights and gets no trajectory fields.

"Since the last record": an epoch's row compares the end of the epoch with its start (for stage 2's first epoch,
stage 1's best weights, where stage 2 starts); a step record with the previous step record or the epoch's start.
Intervals restart at each epoch, so a run resumed from an epoch's checkpoint records exactly the same series.

TensorBoard: :class:`EventLog` writes the same numbers as event files into the run folder (scalars per layer, and the
phase and latent-weight histograms from the very counts of metrics.jsonl), at the global optimiser step (``step``
of each record, counted over both stages). It is a view of metrics.jsonl: when a run is resumed, the event files are
written anew from the records kept, so they never hold a step twice or miss one. ``tensorboard --logdir RUN`` (or
``--logdir SWEEP``: one run per folder) shows them.

Recording reads the weights and never writes them: a run's weights are bit-identical with recording on or off
(``tests/integration/test_trajectory.py``); its cost is printed by ``benchmarks/bench_train_step.py``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biper_analysis._io.jsonio import read_jsonl
from biper_analysis.theory.weights import PHASE_BINS, weight_stats, weight_transitions
from biper_analysis.training.nn.layers import binary_layers

__all__ = [
    "WEIGHT_BINS",
    "PHASE_NOTE",
    "TRANSITION_KEYS",
    "TrajectoryRecorder",
    "EventLog",
    "steps_per_epoch",
    "weight_histogram",
    "phase_bin_edges",
    "read_trajectory",
    "late_flip_ratio",
    "sweep_trajectories",
]

#: Bins of the latent-weight histogram, over [−max|w|, max|w|].
WEIGHT_BINS = 64
#: What a sign-baseline row says instead of phase numbers.
PHASE_NOTE = "the sign binarizer has no phase: θ = ω0 w mod π does not apply (its latent is w, with one zero)"
#: The transition ratios of a row, in order.
TRANSITION_KEYS = ("flip_ratio", "cross_ratio", "round_trip_ratio", "jump_ratio", "zeros_swept_mean")
#: Per-layer numbers written as TensorBoard scalars (those present and finite).
LAYER_SCALARS = ("b", "qe_opt", "normalised_qe", "qe_laplace", *TRANSITION_KEYS, "near_zero_frac", "near_crest_frac")
#: Run-level numbers written as TensorBoard scalars: record key -> tag.
RUN_SCALARS = {
    "train_loss": "train/loss",
    "train_acc": "train/acc",
    "test_loss": "test/loss",
    "test_acc": "test/acc",
    "lr": "train/lr",
}


def steps_per_epoch(n_train: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps in one epoch (the loop's batches: a trailing batch too small for BatchNorm is dropped).

    >>> steps_per_epoch(60000, 256), steps_per_epoch(96, 32)
    (235, 3)
    """
    from biper_analysis.training.data import batch_indices

    return len(batch_indices(n_train, batch_size, None, 0, world_size))


def phase_bin_edges() -> np.ndarray:
    """Edges of the phase histogram: PHASE_BINS equal bins of [0, π) (those of weight_stats)."""
    return np.linspace(0.0, math.pi, PHASE_BINS + 1)


def weight_histogram(w: np.ndarray, bins: int = WEIGHT_BINS) -> dict[str, Any]:
    """{"lo", "hi", "counts"}: ``bins`` equal bins over [−max|w|, max|w|] (the span of this record).

    >>> weight_histogram(np.array([-1.0, 0.25, 1.0]), bins=4)
    {'lo': -1.0, 'hi': 1.0, 'counts': [1, 0, 1, 1]}
    """
    flat = np.ravel(w).astype(np.float64)
    span = float(np.abs(flat).max()) if flat.size else 0.0
    span = span if span > 0 and math.isfinite(span) else 1.0
    counts, _ = np.histogram(flat, bins=bins, range=(-span, span))
    return {"lo": -span, "hi": span, "counts": counts.tolist()}


class _Interval:
    """Weights at the start of an interval and their running element-wise minimum and maximum since."""

    def __init__(self, weights: Sequence[torch.Tensor]) -> None:
        self.start = [w.detach().clone() for w in weights]
        self.low = [w.detach().clone() for w in weights]
        self.high = [w.detach().clone() for w in weights]

    def observe(self, weights: Sequence[torch.Tensor]) -> None:
        for w, lo, hi in zip(weights, self.low, self.high):
            torch.minimum(lo, w, out=lo)
            torch.maximum(hi, w, out=hi)

    def absorb(self, other: _Interval) -> None:
        """Extend this interval's range by a later sub-interval's (the epoch folding in its step intervals)."""
        for lo, hi, olo, ohi in zip(self.low, self.high, other.low, other.high):
            torch.minimum(lo, olo, out=lo)
            torch.maximum(hi, ohi, out=hi)


class TrajectoryRecorder:
    """The loop's recorder: ``start_epoch``, ``after_step`` (the ``on_step`` hook), ``finish_epoch``, then
    ``write_events`` after the metrics line is written and ``close`` at the end (see the module docstring).

    ``enabled`` False (``--no-trajectory``, another process than rank 0, or the fp baseline) records nothing but the
    global ``step`` and ``wall_time`` of each record; ``events`` is the TensorBoard log or None.
    """

    def __init__(
        self,
        model: nn.Module,
        binarizer: str,
        omega0: float,
        steps_per_epoch: int,
        stage_offsets: dict[int, int],
        *,
        every_steps: int = 0,
        enabled: bool = True,
        layer_stats: Callable[[], list[dict[str, Any]]] | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.enabled = enabled and binarizer != "fp"
        self.names = [f"{name}.weight" for name, _ in binary_layers(model)] if self.enabled else []
        self.weights = [layer.weight for _, layer in binary_layers(model)] if self.enabled else []
        self.omega0 = float(omega0) if binarizer == "biper" else None
        self.steps_per_epoch = int(steps_per_epoch)
        self.stage_offsets = stage_offsets
        self.every = int(every_steps)
        self.layer_stats = layer_stats
        self.events = events
        self.step = 0
        self._in_epoch = 0
        self._epoch: _Interval | None = None
        self._interval: _Interval | None = None
        self._step_records: list[dict[str, Any]] = []

    @classmethod
    def for_run(
        cls,
        model: nn.Module,
        cfg: Any,
        run_dir: Path,
        records: list[dict[str, Any]],
        n_train: int,
        *,
        main: bool,
        world_size: int = 1,
        layer_stats: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> TrajectoryRecorder:
        """The recorder of one ``train_run``: its options from the config; on the main process the TensorBoard
        log, written anew from ``records`` (the metrics lines a resumed run keeps)."""
        offsets, total = {}, 0
        for stage in cfg.stages:
            offsets[stage] = total
            total += cfg.stage_epochs(stage)
        recorder = cls(
            model,
            cfg.binarizer,
            cfg.omega0,
            steps_per_epoch(n_train, cfg.batch_size, world_size),
            offsets,
            every_steps=cfg.record_every_steps,
            enabled=cfg.trajectory and main,
            layer_stats=layer_stats,
        )
        if cfg.tensorboard and main:
            recorder.events = EventLog(run_dir, [(recorder.step_of(r), r) for r in records])
        return recorder

    def step_of(self, record: dict[str, Any]) -> int:
        """A record's global step (stored in it; computed for the lines of runs recorded before steps were)."""
        if "step" in record:
            return int(record["step"])
        return (self.stage_offsets.get(record["stage"], 0) + int(record["epoch"])) * self.steps_per_epoch

    # -------------------------------------------------------------------------------- the loop's three points
    def start_epoch(self, stage: int, epoch: int) -> None:
        """Before epoch ``epoch`` (0-based) of ``stage``: the weights now are this epoch's reference."""
        self.step = (self.stage_offsets[stage] + epoch) * self.steps_per_epoch
        self._in_epoch = 0
        self._step_records = []
        if not self.enabled:
            return
        with torch.no_grad():
            self._epoch = _Interval(self.weights)
            self._interval = _Interval(self.weights) if self.every > 0 else None

    @torch.no_grad()
    def after_step(self) -> None:
        """After each optimiser step: fold the new weights into the running minimum and maximum."""
        self.step += 1
        self._in_epoch += 1
        if not self.enabled:
            return
        tracked = self._interval if self._interval is not None else self._epoch
        tracked.observe(self.weights)
        if self.every > 0 and self._in_epoch % self.every == 0:
            self._close_interval()

    def finish_epoch(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add the epoch's global ``step``, ``wall_time`` and (enabled) the per-layer trajectory to ``record``."""
        record["step"] = self.step
        record["wall_time"] = time.time()
        if not self.enabled or self._epoch is None:
            return record
        if self._interval is not None and self._in_epoch % self.every != 0:
            self._close_interval()  # the epoch's last, shorter interval: the step series covers the whole epoch
        rows = {row["name"]: row for row in self._rows(self._epoch)}
        for layer in record.get("layers", []):
            layer.update({k: v for k, v in rows.get(layer["name"], {}).items() if k != "name"})
        if self.every > 0:
            record["every_steps"] = self.every
            record["steps"] = self._step_records
        return record

    def write_events(self, record: dict[str, Any]) -> None:
        """The record's TensorBoard events, flushed (call after its metrics line is written)."""
        if self.events is not None:
            self.events.write(self.step_of(record), record)

    def close(self) -> None:
        if self.events is not None:
            self.events.close()

    # -------------------------------------------------------------------------------- internals
    @torch.no_grad()
    def _close_interval(self) -> None:
        assert self._interval is not None and self._epoch is not None
        rows = self._rows(self._interval)
        if self.layer_stats is not None:
            stats = {row["name"]: row for row in self.layer_stats()}
            rows = [{**stats.get(row["name"], {}), **row} for row in rows]
        self._step_records.append({"step": self.step, "layers": rows})
        self._epoch.absorb(self._interval)
        self._interval = _Interval(self.weights)

    def _rows(self, interval: _Interval) -> list[dict[str, Any]]:
        rows = []
        for name, w, start, low, high in zip(self.names, self.weights, interval.start, interval.low, interval.high):
            end = w.detach().cpu().numpy()
            t = weight_transitions(start.cpu().numpy(), end, low.cpu().numpy(), high.cpu().numpy(), self.omega0)
            row: dict[str, Any] = {
                "name": name,
                "n": t.n,
                "flip_ratio": t.flip_ratio,
                "cross_ratio": t.cross_ratio,
                "round_trip_ratio": t.round_trip_ratio,
                "jump_ratio": t.jump_ratio,
                "zeros_swept_mean": t.zeros_swept / t.n,
            }
            if self.omega0 is not None:
                stats = weight_stats(end, self.omega0, histograms=True)
                row.update(
                    {
                        "near_zero_frac": stats.near_zero_frac,
                        "near_crest_frac": stats.near_crest_frac,
                        "phase_counts": stats.phase_counts.tolist(),
                    }
                )
            else:
                row.update(
                    {"near_zero_frac": None, "near_crest_frac": None, "phase_counts": None, "phase_note": PHASE_NOTE}
                )
            row["weight_hist"] = weight_histogram(end)
            rows.append(row)
        return rows


# ---------------------------------------------------------------------------------------------------
# TensorBoard
# ---------------------------------------------------------------------------------------------------
EVENT_GLOB = "events.out.tfevents.*"


class EventLog:
    """TensorBoard event files of one run folder (torch.utils.tensorboard.SummaryWriter), written from records.

    Opening it removes the folder's earlier event files (this command's own, a view of metrics.jsonl) and writes
    ``replay`` — (step, record) pairs of the metrics lines kept — into a new one, so a resumed run's events hold
    every recorded step once.
    """

    def __init__(self, run_dir: str | os.PathLike[str], replay: Sequence[tuple[int, dict[str, Any]]] = ()) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = Path(run_dir)
        for old in self.run_dir.glob(EVENT_GLOB):
            if old.is_file():
                old.unlink()
        self.writer = SummaryWriter(log_dir=str(self.run_dir))
        for step, record in replay:
            self._write(step, record)
        self.writer.flush()

    def write(self, step: int, record: dict[str, Any]) -> None:
        self._write(step, record)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def _write(self, step: int, record: dict[str, Any]) -> None:
        wall = record.get("wall_time")
        for key, tag in RUN_SCALARS.items():
            if _number(record.get(key)):
                self.writer.add_scalar(tag, record[key], step, walltime=wall)
        for row in record.get("layers", []):
            self._layer(row, row["name"], step, wall)
        for sub in record.get("steps", []):
            for row in sub["layers"]:
                self._layer(row, f"{row['name']}/steps", sub["step"], wall)

    def _layer(self, row: dict[str, Any], prefix: str, step: int, wall: float | None) -> None:
        for key in LAYER_SCALARS:
            if _number(row.get(key)):
                self.writer.add_scalar(f"{prefix}/{key}", row[key], step, walltime=wall)
        if row.get("phase_counts") is not None:
            self._histogram(f"{prefix}/phase", phase_bin_edges(), row["phase_counts"], step, wall)
        if row.get("weight_hist") is not None:
            h = row["weight_hist"]
            edges = np.linspace(h["lo"], h["hi"], len(h["counts"]) + 1)
            self._histogram(f"{prefix}/latent_weight", edges, h["counts"], step, wall)

    def _histogram(self, tag: str, edges: np.ndarray, counts: Sequence[int], step: int, wall: float | None) -> None:
        """A fixed-bin histogram as TensorBoard's raw histogram: the buckets are the counts themselves; sum and sum of
        squares (shown as the mean only) are taken at the bin centres."""
        c = np.asarray(counts, dtype=np.float64)
        centres = 0.5 * (edges[:-1] + edges[1:])
        self.writer.add_histogram_raw(
            tag,
            min=float(edges[0]),
            max=float(edges[-1]),
            num=float(c.sum()),
            sum=float((c * centres).sum()),
            sum_squares=float((c * centres**2).sum()),
            bucket_limits=edges[1:].tolist(),
            bucket_counts=c.tolist(),
            global_step=step,
            walltime=wall,
        )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------------
# Reading the trajectories back (figures, notebooks, paper checks)
# ---------------------------------------------------------------------------------------------------
def read_trajectory(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The epoch series of a run folder's metrics.jsonl, per binarised layer, as arrays.

    Returns {"stage": int array, "epoch": per-stage epoch, "step": global step, "test_acc", "recorded": whether
    the run holds trajectory fields, "layers": {name: {key: float array (NaN where absent), "phase_density":
    (epochs × PHASE_BINS) density per radian, or None}}}.
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {str(run_dir)!r}; is it a run folder of `train`?")
    records = read_jsonl(path)
    names = [row["name"] for row in records[0]["layers"]] if records else []
    width = math.pi / PHASE_BINS
    layers: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        rows = [r["layers"][j] for r in records]
        series = {
            key: np.array([_float(row.get(key)) for row in rows])
            for key in ("b", "qe_opt", "n", *TRANSITION_KEYS, "near_zero_frac", "near_crest_frac")
        }
        counts = [row.get("phase_counts") for row in rows]
        series["phase_density"] = (
            np.array([np.asarray(c, dtype=np.float64) / max(sum(c), 1) / width for c in counts])
            if counts and all(c is not None for c in counts)
            else None
        )
        series["phase_note"] = next((row["phase_note"] for row in rows if row.get("phase_note")), None)
        layers[name] = series
    return {
        "stage": np.array([r["stage"] for r in records], dtype=int),
        "epoch": np.array([r["epoch"] for r in records], dtype=int),
        "step": np.array([r.get("step", -1) for r in records], dtype=int),
        "test_acc": np.array([r["test_acc"] for r in records]),
        "recorded": bool(records) and all("flip_ratio" in row for r in records for row in r["layers"]) and bool(names),
        "layers": layers,
    }


def _float(value: Any) -> float:
    return float(value) if _number(value) else math.nan


def late_flip_ratio(trajectory: dict[str, Any], stage: int = 2, fraction: float = 1 / 3) -> float:
    """Mean flip ratio per epoch over the last ⌈fraction·E⌉ epochs of ``stage``, pooled over the binarised layers
    (each layer weighted by its number of weights): the fraction of a run's binary weights that flip per epoch
    late in training. NaN when the run holds no trajectory for that stage.

    >>> t = {"stage": np.array([2, 2, 2]), "recorded": True, "layers": {
    ...     "a": {"flip_ratio": np.array([0.5, 0.1, 0.2]), "n": np.array([100.0, 100.0, 100.0])},
    ...     "b": {"flip_ratio": np.array([0.5, 0.0, 0.0]), "n": np.array([300.0, 300.0, 300.0])}}}
    >>> late_flip_ratio(t, fraction=0.5)     # last 2 epochs: (0.1·100 + 0.2·100) / (2·400)
    0.0375
    """
    if not trajectory["recorded"]:
        return math.nan
    idx = np.flatnonzero(trajectory["stage"] == stage)
    if idx.size == 0:
        return math.nan
    last = idx[-max(1, math.ceil(fraction * idx.size)) :]
    flips = sum(float(np.sum(s["flip_ratio"][last] * s["n"][last])) for s in trajectory["layers"].values())
    total = sum(float(np.sum(s["n"][last])) for s in trajectory["layers"].values())
    return flips / total if total > 0 else math.nan


def sweep_trajectories(sweep: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(run record, :func:`read_trajectory`) for every run of a training sweep (``load_training_sweep``) whose folder
    holds a metrics.jsonl with a recorded trajectory; runs trained before recording existed are left out."""
    out = []
    for run in sweep["runs"]:
        path = Path(sweep["_dir"]) / run["name"]
        if (path / "metrics.jsonl").is_file():
            trajectory = read_trajectory(path)
            if trajectory["recorded"]:
                out.append((run, trajectory))
    return out
