"""The trajectory recorder on constructed weight updates whose answers are known (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from biper_analysis.training.nn.layers import BinaryLinear
from biper_analysis.training.trajectory import (
    PHASE_NOTE,
    TrajectoryRecorder,
    late_flip_ratio,
    steps_per_epoch,
    weight_histogram,
)

OMEGA0 = 20.0
HALF = math.pi / OMEGA0
# start, after step 1, after step 2 (in half-periods π/ω0): round trip, flip, jump, nothing, jump, round trip, flip
START = [0.5, 0.5, 0.5, 0.5, 0.5, -0.3, 0.5]
MID = [1.5, 1.5, 1.5, 0.9, -0.5, 0.3, -0.5]
END = [0.5, 1.4, 2.5, 0.1, -1.5, -0.2, -0.4]


def _model(binarizer: str = "biper") -> nn.Module:
    return nn.Sequential(BinaryLinear(7, 1, omega0=OMEGA0, stage=2, binarizer=binarizer))


def _set(model: nn.Module, halves: list[float]) -> None:
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([halves], dtype=torch.float32) * HALF)


def _two_step_epoch(binarizer: str = "biper", every: int = 0) -> dict:
    model = _model(binarizer)
    stats = lambda: [{"name": "0.weight", "b": float(model[0].weight.abs().mean())}]
    rec = TrajectoryRecorder(
        model, binarizer, OMEGA0, steps_per_epoch=2, stage_offsets={1: 0, 2: 3}, every_steps=every, layer_stats=stats
    )
    _set(model, START)
    rec.start_epoch(2, 1)  # stage 2, second epoch: global steps 8 and 9 follow
    for halves in (MID, END):
        _set(model, halves)  # "the optimiser step"
        rec.after_step()
    return rec.finish_epoch({"stage": 2, "epoch": 2, "layers": [{"name": "0.weight", "b": 0.0}]})


def test_two_step_update_epoch_row():
    record = _two_step_epoch()
    assert record["step"] == (3 + 2) * 2 and "steps" not in record
    row = record["layers"][0]
    assert row["n"] == 7
    assert (row["flip_ratio"], row["cross_ratio"], row["round_trip_ratio"], row["jump_ratio"]) == pytest.approx(
        (2 / 7, 6 / 7, 2 / 7, 2 / 7), abs=0
    )
    assert row["zeros_swept_mean"] == pytest.approx(8 / 7)
    assert sum(row["phase_counts"]) == 7 and row["near_zero_frac"] is not None
    assert sum(row["weight_hist"]["counts"]) == 7


def test_two_step_update_every_step_records_each_step():
    record = _two_step_epoch(every=1)
    assert [s["step"] for s in record["steps"]] == [9, 10] and record["every_steps"] == 1
    first, second = (s["layers"][0] for s in record["steps"])
    # step 1 (START → MID): every weight but d crosses one zero: 6 flips, no round trip within one record
    assert (first["flip_ratio"], first["cross_ratio"], first["round_trip_ratio"]) == pytest.approx(
        (6 / 7, 6 / 7, 0.0), abs=0
    )
    # step 2 (MID → END): a back (flip), c on (flip), e on (flip), f back (flip); b, d, g stay
    assert (second["flip_ratio"], second["cross_ratio"], second["jump_ratio"]) == pytest.approx(
        (4 / 7, 4 / 7, 0.0), abs=0
    )
    assert second["b"] == pytest.approx(float(np.mean(np.abs(END))) * HALF, rel=1e-6)  # the loop's layer stats
    # the epoch row still compares the epoch's end with its start (the step intervals are folded in)
    row = record["layers"][0]
    assert (row["flip_ratio"], row["round_trip_ratio"], row["jump_ratio"]) == pytest.approx(
        (2 / 7, 2 / 7, 2 / 7), abs=0
    )


def test_sign_baseline_says_phase_does_not_apply():
    row = _two_step_epoch("sign")["layers"][0]
    assert row["phase_counts"] is None and row["near_zero_frac"] is None and row["near_crest_frac"] is None
    assert row["phase_note"] == PHASE_NOTE
    # sign(w): a–d stay positive; e and g end negative (flips); f goes positive and back (round trip)
    assert (row["flip_ratio"], row["round_trip_ratio"], row["jump_ratio"]) == pytest.approx((2 / 7, 1 / 7, 0.0), abs=0)


def test_disabled_and_fp_record_only_the_step():
    for binarizer, enabled in (("biper", False), ("fp", True)):
        model = _model(binarizer)
        rec = TrajectoryRecorder(model, binarizer, OMEGA0, 2, {1: 0}, enabled=enabled)
        rec.start_epoch(1, 0)
        rec.after_step()
        rec.after_step()
        record = rec.finish_epoch({"stage": 1, "epoch": 1, "layers": [{"name": "0.weight", "b": 0.1}]})
        assert record["step"] == 2 and record["layers"] == [{"name": "0.weight", "b": 0.1}]


def test_steps_per_epoch_matches_the_loop_batches():
    from biper_analysis.training.data import batch_indices

    for n, batch in ((60000, 256), (97, 32), (65, 32), (10, 4)):
        assert steps_per_epoch(n, batch) == len(batch_indices(n, batch, torch.Generator().manual_seed(0)))


def test_weight_histogram_spans_the_weights():
    h = weight_histogram(np.array([-0.5, 0.0, 0.1, 0.5]), bins=4)
    assert (h["lo"], h["hi"], h["counts"]) == (-0.5, 0.5, [1, 0, 2, 1])


def test_late_flip_ratio_pools_layers_by_size_and_needs_a_trajectory():
    t = {
        "stage": np.array([1, 2, 2, 2]),
        "recorded": True,
        "layers": {"a": {"flip_ratio": np.array([0.9, 0.3, 0.2, 0.1]), "n": np.full(4, 10.0)}},
    }
    assert late_flip_ratio(t) == pytest.approx(0.1)  # last ⌈3/3⌉ = 1 epoch of stage 2
    assert late_flip_ratio(t, fraction=1.0) == pytest.approx(0.2)
    assert math.isnan(late_flip_ratio({**t, "recorded": False}))
    assert math.isnan(late_flip_ratio(t, stage=3))
