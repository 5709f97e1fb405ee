"""Median ms per training step of ResNet-20 1w1a at batch 128: BiPer stage 1, stage 2, sign, fp, side by side.

Usage: ``python benchmarks/bench_train_step.py [--steps 7] [--batch 128] [--threads N] [--device cpu|cuda]``.
The variants are timed round-robin (one step of each in turn) so that load from other processes hits them
alike; the printed ratio to fp is the number to read (target: BiPer stage 2 <= 1.15x fp). On a shared machine
the fastest-step ratio is printed too (load from other processes only adds time), and one thread per
process is far faster than two when the cores are oversubscribed. A step is
forward + cross-entropy (+ the τ·sin² penalty for BiPer) + backward + SGD update, on random 3×32×32 inputs.
Reference: the official code takes ~434 ms per stage-1 step here (2 CPU threads). "official-style stage 1"
is our model with the official activation path (autograd through ``a / sqrt(a.var + eps)``) swapped in.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import biper_analysis.training.nn as bnn
from biper_analysis.training.nn import layers as layers_mod

fused_activation = layers_mod.binary_activation

VARIANTS = {"biper stage 1": ("biper", 1), "biper stage 2": ("biper", 2), "sign stage 2": ("sign", 2),
            "fp": ("fp", 1), "official-style stage 1": ("official", 1)}


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=7, help="timed steps per variant (after 2 warm-up steps)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    steps = {name: make_step(b, s, args.batch, device) for name, (b, s) in VARIANTS.items()}
    for step in steps.values():
        step(), step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, step in steps.items():
            times[name].append(step())
    med = {name: 1000 * statistics.median(t) for name, t in times.items()}
    low = {name: 1000 * min(t) for name, t in times.items()}
    print(f"ResNet-20 1w1a, batch {args.batch}, {device}, {torch.get_num_threads()} threads, "
          f"median of {args.steps} steps")
    for name, ms in med.items():
        print(f"  {name:<22} {ms:8.1f} ms/step  {1000 * args.batch / ms:7.0f} img/s  {ms / med['fp']:.2f}x fp"
              f"   (fastest step {low[name]:.1f} ms, {low[name] / low['fp']:.2f}x fp)")


if __name__ == "__main__":
    main()
