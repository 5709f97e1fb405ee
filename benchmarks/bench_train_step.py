"""Median ms per training step of ResNet-20 1w1a at batch 128: BiPer stage 1, stage 2, sign, fp, side by side.

Usage: ``python benchmarks/bench_train_step.py [--steps 7] [--batch 128] [--threads N] [--device cpu|cuda]
[--only-recording]``.
The variants are timed round-robin (one step of each in turn) so that load from other processes hits them
alike; the printed ratio to fp is the number to read (target: BiPer stage 2 <= 1.15x fp). On a shared machine
the fastest-step ratio is printed too (load from other processes only adds time), and one thread per
process is far faster than two when the cores are oversubscribed. A step is
forward + cross-entropy (+ the τ·sin² penalty for BiPer) + backward + SGD update, on random 3×32×32 inputs.
Reference: the official code takes ~434 ms per stage-1 step here (2 CPU threads). "official-style stage 1"
is our model with the official activation path (autograd through ``a / sqrt(a.var + eps)``) swapped in.

Then the cost of the trajectory recording (:mod:`biper_analysis.training.trajectory`) at its default interval (one
record per epoch), for ResNet-20 and the main job's MLP (mlp_1w1a, width 256, 1×32×32 inputs), both BiPer stage 2 at
batch 256 (the recipes' batch; 235 steps per Fashion-MNIST epoch): a step with the recorder's ``after_step`` hook and
a step without, timed round-robin side by side; the hook alone and one epoch's record (statistics, histograms,
TensorBoard events) alone, the record spread over the epoch's steps. Target: overhead <= 3 % of the step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import biper_analysis.training.nn as bnn
from biper_analysis.training.nn import layers as layers_mod

fused_activation = layers_mod.binary_activation

VARIANTS = {
    "biper stage 1": ("biper", 1),
    "biper stage 2": ("biper", 2),
    "sign stage 2": ("sign", 2),
    "fp": ("fp", 1),
    "official-style stage 1": ("official", 1),
}


def _official_activation(a: torch.Tensor, training: bool) -> torch.Tensor:
    """The official layer's activation path, autograd through a / sqrt(a.var + 1e-5) (for comparison only)."""
    from biper_analysis.training.nn.binarizers import ACTIVATION_VAR_EPS, ActivationSign

    if training:
        a = a / torch.sqrt(a.var(tuple(range(1, a.dim())), keepdim=True) + ACTIVATION_VAR_EPS)
    return ActivationSign.apply(a)


def make_step(binarizer: str, stage: int, batch: int, device: torch.device, seed: int = 0):
    torch.manual_seed(seed)
    official = binarizer == "official"
    binarizer = "biper" if official else binarizer
    model = bnn.resnet20_1w1a(binarizer=binarizer, stage=stage).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    layers = [m for _, m in bnn.binary_layers(model)] if binarizer == "biper" else []

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        if official:
            layers_mod.binary_activation = _official_activation
        try:
            out = model(x)
        finally:
            layers_mod.binary_activation = fused_activation
        loss = F.cross_entropy(out, y)
        if layers:
            loss = loss + 0.037 * torch.stack([m.sin2_penalty() for m in layers]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step


def _recording_step(model_name: str, batch: int, device: torch.device, recorder=None):
    """One BiPer stage-2 training step of ``model_name`` (as the loop: loss + τ·sin² penalty, SGD), with the
    recorder's hook after the update when given."""
    from biper_analysis.training.nn.models import build_model

    torch.manual_seed(0)
    channels = 1 if model_name == "mlp_1w1a" else 3
    kwargs = {"width": 256} if model_name == "mlp_1w1a" else {}
    model = build_model(model_name, in_channels=channels, stage=2, **kwargs).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, channels, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    layers = [m for _, m in bnn.binary_layers(model)]
    hook = recorder(model) if recorder is not None else None

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y) + 0.0468 * torch.stack([m.sin2_penalty() for m in layers]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if hook is not None:
            hook.after_step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step, model, hook


def bench_recording(steps: int, device: torch.device, batch: int = 256, epoch_steps: int = 235) -> None:
    """Recording overhead at the default interval, ResNet-20 and the MLP side by side (see the module docstring)."""
    from biper_analysis.training.loop import layer_metrics
    from biper_analysis.training.trajectory import EventLog, TrajectoryRecorder

    folder = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    rows = []
    for name in ("resnet20_1w1a", "mlp_1w1a"):

        def make(model, log_dir=folder / name):
            rec = TrajectoryRecorder(model, "biper", 20.0, epoch_steps, {1: 0, 2: 0}, events=EventLog(log_dir))
            rec.start_epoch(2, 0)
            return rec

        plain, _, _ = _recording_step(name, batch, device)
        recorded, model, rec = _recording_step(name, batch, device, make)
        for step in (plain, recorded, plain, recorded):
            step()
        off, on = [], []
        for _ in range(steps):
            off.append(plain())
            on.append(recorded())
        hook = []
        for _ in range(max(20, steps)):
            t0 = time.perf_counter()
            rec.after_step()
            hook.append(time.perf_counter() - t0)
        record = []
        for epoch in range(3):
            t0 = time.perf_counter()
            r = rec.finish_epoch({"stage": 2, "epoch": epoch + 1, "layers": layer_metrics(model, "biper", 20.0)})
            rec.write_events(r)
            record.append(time.perf_counter() - t0)
            rec.start_epoch(2, epoch + 1)
        rec.close()
        t_off, t_on = statistics.median(off), statistics.median(on)
        t_hook, t_rec = statistics.median(hook), statistics.median(record)
        per_step = t_hook + t_rec / epoch_steps
        rows.append((name, t_off, t_on, t_hook, t_rec, per_step))
    print(
        f"\nTrajectory recording at the default interval (one record per epoch of {epoch_steps} steps), BiPer "
        f"stage 2, batch {batch}, {device}, {torch.get_num_threads()} threads, median of {steps} steps"
    )
    for name, t_off, t_on, t_hook, t_rec, per_step in rows:
        print(
            f"  {name:<14} step {1000 * t_off:8.2f} ms off, {1000 * t_on:8.2f} ms on ({t_on / t_off - 1:+6.1%} "
            f"side by side); hook {1000 * t_hook:.3f} ms/step + record {1000 * t_rec:.1f} ms/epoch "
            f"= {1000 * per_step:.3f} ms/step = {per_step / t_off:.2%} of the step"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=7, help="timed steps per variant (after 2 warm-up steps)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--only-recording", action="store_true", help="time only the trajectory recording's overhead")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if not args.only_recording:
        bench_binarizers(args, device)
    bench_recording(args.steps, device)


def bench_binarizers(args: argparse.Namespace, device: torch.device) -> None:
    steps = {name: make_step(b, s, args.batch, device) for name, (b, s) in VARIANTS.items()}
    for step in steps.values():
        step(), step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, step in steps.items():
            times[name].append(step())
    med = {name: 1000 * statistics.median(t) for name, t in times.items()}
    low = {name: 1000 * min(t) for name, t in times.items()}
    print(
        f"ResNet-20 1w1a, batch {args.batch}, {device}, {torch.get_num_threads()} threads, median of {args.steps} steps"
    )
    for name, ms in med.items():
        print(
            f"  {name:<22} {ms:8.1f} ms/step  {1000 * args.batch / ms:7.0f} img/s  {ms / med['fp']:.2f}x fp"
            f"   (fastest step {low[name]:.1f} ms, {low[name] / low['fp']:.2f}x fp)"
        )


if __name__ == "__main__":
    main()
