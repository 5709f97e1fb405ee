"""Trajectory recording on real tiny runs: weights bit-identical with recording on or off, TensorBoard event files
read back with TensorBoard's own reader equal to metrics.jsonl, and a resumed run continuing the same series."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing import event_accumulator as ea

from biper_analysis.training import TrainConfig, loop, train_run
from biper_analysis.training.trajectory import LAYER_SCALARS, RUN_SCALARS, read_trajectory
from tests.fake_datasets import write_fashion_mnist

STEPS_PER_EPOCH = 3  # 96 images, batch 32


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=96, n_test=40)


def tiny(data_dir, **kw) -> TrainConfig:
    base = dict(
        model="mlp_1w1a",
        width=32,
        data_dir=str(data_dir),
        epochs1=2,
        epochs2=2,
        batch_size=32,
        lr1=0.2,
        lr2=0.1,
        warmup_epochs=1,
        device="cpu",
        seed=3,
        record_every_steps=2,
    )
    return TrainConfig(**{**base, **kw})


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _events(run) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(run), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def _checkpoint_tensors(run):
    files = [run / "init.pth.tar"] + [
        run / f"stage{s}" / n for s in (1, 2) for n in ("checkpoint.pth.tar", "model_best.pth.tar")
    ]
    out = {}
    for f in files:
        ck = torch.load(f, map_location="cpu", weights_only=True)
        where = str(f.relative_to(run))
        out.update({(where, "w", k): v for k, v in ck["state_dict"].items()})
        for pid, state in ck.get("optimizer", {}).get("state", {}).items():
            out.update({(where, "opt", pid, k): v for k, v in state.items()})
    return out


@pytest.mark.parametrize("binarizer", ["biper", "sign"])
def test_recording_leaves_the_weights_bit_identical(data_dir, tmp_path, binarizer):
    on = tiny(data_dir, binarizer=binarizer, record_every_steps=1)
    off = on.replace(trajectory=False, tensorboard=False, record_every_steps=0)
    train_run(on, tmp_path / "on", quiet=True)
    train_run(off, tmp_path / "off", quiet=True)
    a, b = _checkpoint_tensors(tmp_path / "on"), _checkpoint_tensors(tmp_path / "off")
    assert a.keys() == b.keys() and len(a) > 20
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list((tmp_path / "off").glob("events.out.tfevents.*"))
    assert "flip_ratio" not in _records(tmp_path / "off")[-1]["layers"][0]
    # the recorded run did record: flips happened (a tiny, fast-moving net) and the series is complete
    recs = _records(tmp_path / "on")
    assert [r["step"] for r in recs] == [3, 6, 9, 12]
    assert [s["step"] for r in recs for s in r["steps"]] == list(range(1, 13))
    assert sum(row["flip_ratio"] for r in recs for row in r["layers"]) > 0


def _assert_events_equal_metrics(run, records):
    acc = _events(run)
    scalars, hists = set(acc.Tags()["scalars"]), set(acc.Tags()["histograms"])
    expected_tags = set()
    f32 = lambda v: float(np.float32(v))
    for r in records:
        for key, tag in RUN_SCALARS.items():
            expected_tags.add(tag)
            assert [e.value for e in acc.Scalars(tag) if e.step == r["step"]] == [f32(r[key])]
        subs = [(r["step"], row["name"], row) for row in r["layers"]] + [
            (s["step"], f"{row['name']}/steps", row) for s in r.get("steps", []) for row in s["layers"]
        ]
        for step, prefix, row in subs:
            for key in LAYER_SCALARS:
                if row.get(key) is None:
                    assert f"{prefix}/{key}" not in scalars  # null stays null: nothing filled in
                    continue
                expected_tags.add(f"{prefix}/{key}")
                assert [e.value for e in acc.Scalars(f"{prefix}/{key}") if e.step == step] == [f32(row[key])]
            got = [e.histogram_value for e in acc.Histograms(f"{prefix}/latent_weight") if e.step == step]
            assert len(got) == 1 and got[0].bucket == [float(c) for c in row["weight_hist"]["counts"]]
            assert (got[0].min, got[0].max) == (row["weight_hist"]["lo"], row["weight_hist"]["hi"])
            if row["phase_counts"] is None:
                assert f"{prefix}/phase" not in hists
            else:
                got = [e.histogram_value for e in acc.Histograms(f"{prefix}/phase") if e.step == step]
                assert len(got) == 1 and got[0].bucket == [float(c) for c in row["phase_counts"]]
    assert expected_tags == scalars
    # every tag holds each of its steps once, in order: no gap, no duplicate
    for tag in scalars:
        steps = [e.step for e in acc.Scalars(tag)]
        assert steps == sorted(set(steps)), tag
    return acc


@pytest.mark.parametrize("binarizer", ["biper", "sign"])
def test_event_files_read_back_equal_metrics(data_dir, tmp_path, binarizer):
    run = tmp_path / "run"
    train_run(tiny(data_dir, binarizer=binarizer), run, quiet=True)
    records = _records(run)
    acc = _assert_events_equal_metrics(run, records)
    assert [e.step for e in acc.Scalars("test/acc")] == [3, 6, 9, 12]
    layer = records[0]["layers"][0]["name"]
    assert [e.step for e in acc.Scalars(f"{layer}/steps/flip_ratio")] == [2, 3, 5, 6, 8, 9, 11, 12]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def _strip(records):
    return [{k: v for k, v in r.items() if k not in ("time_s", "wall_time")} for r in records]


def _series(acc):
    tags = acc.Tags()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in tags["scalars"]} | {
        tag: [(e.step, tuple(e.histogram_value.bucket)) for e in acc.Histograms(tag)] for tag in tags["histograms"]
    }


@pytest.mark.parametrize("crash", ["before_epoch", "before_checkpoint"])
def test_resumed_run_continues_the_same_series(data_dir, tmp_path, monkeypatch, crash):
    cfg = tiny(data_dir)
    train_run(cfg, tmp_path / "a", quiet=True)
    if crash == "before_epoch":  # interrupted at the start of stage 1's second epoch
        real, calls = loop.train_one_epoch, {"n": 0}

        def flaky(*args, **kwargs):
            if calls["n"] == 1:
                raise KeyboardInterrupt
            calls["n"] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(loop, "train_one_epoch", flaky)
    else:  # stage 2 epoch 1's metrics and events written, its checkpoint not
        real, calls = loop._save, {"n": 0}

        def flaky(obj, path):
            if path.name == loop.CHECKPOINT and obj["stage"] == 2:
                raise KeyboardInterrupt
            return real(obj, path)

        monkeypatch.setattr(loop, "_save", flaky)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "b", quiet=True)
    stale = _events(tmp_path / "b")
    if crash == "before_checkpoint":  # the event file holds an epoch the resumed run will redo
        assert 9 in [e.step for e in stale.Scalars("test/acc")]
    monkeypatch.undo()
    train_run(cfg, tmp_path / "b", resume=True, quiet=True)
    assert _strip(_records(tmp_path / "a")) == _strip(_records(tmp_path / "b"))
    a = _assert_events_equal_metrics(tmp_path / "a", _records(tmp_path / "a"))
    b = _assert_events_equal_metrics(tmp_path / "b", _records(tmp_path / "b"))
    assert _series(a) == _series(b)
    assert [e.step for e in b.Scalars("test/acc")] == [3, 6, 9, 12]
    assert len(list((tmp_path / "b").glob("events.out.tfevents.*"))) == 1


def test_read_trajectory_and_the_train_command(data_dir, tmp_path, capsys):
    from biper_analysis.cli import main

    out = tmp_path / "r"
    args = [
        "train",
        "--model",
        "mlp_1w1a",
        "--width",
        "32",
        "--data-dir",
        str(data_dir),
        "--epochs1",
        "1",
        "--epochs2",
        "2",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--quiet",
        "--no-tensorboard",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert not list(out.glob("events.out.tfevents.*"))
    t = read_trajectory(out)
    assert t["recorded"] and t["stage"].tolist() == [1, 2, 2] and t["step"].tolist() == [3, 6, 9]
    layer = t["layers"]["hidden.0.weight"]
    assert layer["phase_density"].shape == (3, 36)
    assert np.allclose(layer["phase_density"].sum(axis=1) * np.pi / 36, 1.0)
    assert np.all((layer["flip_ratio"] >= 0) & (layer["flip_ratio"] <= layer["cross_ratio"] + layer["jump_ratio"]))


def test_figures_13_and_14_draw_the_recorded_series(data_dir, tmp_path):
    """fig13's heat map holds each layer's recorded phase density, epoch by epoch; fig14's lines are the recorded
    flip ratios (BiPer and sign, one seed each); both on whole-epoch ticks."""
    import matplotlib

    matplotlib.use("Agg")
    from biper_analysis.plotting.trajectory import fig_flip_ratios, fig_phase_trajectories

    runs = []
    for binarizer in ("biper", "sign"):
        name = f"{binarizer}-w20-s3"
        train_run(
            tiny(data_dir, binarizer=binarizer, omega0=20.0, record_every_steps=0, tensorboard=False),
            tmp_path / name,
            quiet=True,
        )
        runs.append({"name": name, "binarizer": binarizer, "omega0": 20.0, "seed": 3})
    sweep = {"_dir": str(tmp_path), "runs": runs}
    recorded = {r["binarizer"]: read_trajectory(tmp_path / r["name"]) for r in runs}

    fig = fig_phase_trajectories(sweep)
    meshes = [np.ravel(c.get_array()) for ax in fig.axes for c in ax.collections if c.get_array() is not None]
    density = recorded["biper"]["layers"]["hidden.0.weight"]["phase_density"]
    shown = np.clip(density * np.pi, 0.05, None)  # relative to the uniform density 1/π, floored for the log scale
    assert any(m.size == shown.size and np.allclose(np.sort(m), np.sort(shown.ravel())) for m in meshes)

    fig = fig_flip_ratios(sweep)
    drawn = [np.asarray(line.get_ydata(), float) for ax in fig.axes for line in ax.get_lines()]
    for binarizer in ("biper", "sign"):
        flips = recorded[binarizer]["layers"]["hidden.1.weight"]["flip_ratio"]
        assert any(y.shape == flips.shape and np.allclose(y, flips) for y in drawn), binarizer
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
