"""Claim: BiPer is more accurate than the plain sign binariser under the same recipe (here: Fashion-MNIST).

Reads the cached training sweep (`biper-analysis train-sweep`); never trains. BiPer at the sweep's paired ω0 (the
published 20 by default) and the sign-STE baseline are trained with the same seeds; the difference of best test
accuracy is taken seed by seed (the seed fixes the initial weights and data order of both), and its 95 % Student-t
confidence interval decides, symmetrically: above 0 pass, below 0 fail, containing 0 inconclusive. Fewer than
MIN_SEEDS pairs is inconclusive.
"""

from __future__ import annotations

import math
from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import INCONCLUSIVE, CheckContext, CheckResult, script_main, verdict_interval
from biper_analysis.training.sweep import paired_difference

__all__ = ["MIN_SEEDS", "compare", "run"]

MIN_SEEDS = 5
LEVEL = 0.95


def compare(biper: dict[int, float], sign: dict[int, float]) -> tuple[str, dict[str, Any]]:
    """(verdict, paired difference) for best accuracies by seed."""
    d = paired_difference(biper, sign, LEVEL)
    verdict = INCONCLUSIVE if d["n"] < MIN_SEEDS else verdict_interval(*d["ci"])
    return verdict, d


def _environment(sweep: dict[str, Any]) -> str:
    env = sweep.get("provenance", {}).get("environment", {})
    pins = ", ".join(f"{k}={v}" for k, v in (env.get("pinned") or {}).items() if v)
    return (
        f"CPU {env.get('cpu', '?')}, torch {env.get('torch', '?')}, {env.get('torch_threads', '?')} thread per "
        f"run, {env.get('jobs', '?')} runs at once; pinned {pins or 'nothing'}"
    )


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="biper_beats_sign",
        claim="BiPer (sign(sin(ω0 w)), trained through the sine) beats the sign-STE binariser",
        source=f"{paper.CITATION}, Tables 1–3 (CIFAR-10/ImageNet); here: Fashion-MNIST, the sweep's network",
        reported=f"official code, ResNet-20, Fashion-MNIST: BiPer "
        f"{paper.OFFICIAL_FASHION_MNIST_R20['biper']['stage2_best']} vs sign "
        f"{paper.OFFICIAL_FASHION_MNIST_R20['sign']['stage2_best']} (best, one seed each)",
        tolerance=f"paired by seed, ≥ {MIN_SEEDS} seeds: pass if the {LEVEL:.0%} CI of BiPer − sign lies "
        "above 0, fail if below 0, inconclusive if it contains 0",
        command=f"biper-analysis train-sweep --out {context.runs_dir} && "
        f"biper-analysis check --runs {context.runs_dir} --only "
        "biper_beats_sign",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    paired = sweep.get("plan", {}).get("paired_omega0", paper.PUBLISHED_OMEGA0)
    biper = {
        r["seed"]: r["best_acc"]
        for r in sweep["runs"]
        if r["binarizer"] == "biper" and math.isclose(r["omega0"], paired)
    }
    sign = {r["seed"]: r["best_acc"] for r in sweep["runs"] if r["binarizer"] == "sign"}
    if not biper or not sign:
        return CheckResult(
            measured=f"the sweep lacks BiPer runs at ω0 = {paired:g} or sign runs", verdict=INCONCLUSIVE, **base
        )
    verdict, d = compare(biper, sign)
    per_seed = "; ".join(f"seed {s}: {a:.2f} vs {b:.2f} ({a - b:+.2f})" for s, a, b in zip(d["seeds"], d["a"], d["b"]))
    return CheckResult(
        measured=f"BiPer ω0 = {paired:g} vs sign, best test accuracy (%): {per_seed}; paired difference "
        f"{d['mean']:+.3f} pp, {LEVEL:.0%} CI [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] (n = {d['n']}); "
        + _environment(sweep),
        verdict=verdict,
        **base,
    )


if __name__ == "__main__":
    raise SystemExit(script_main(run))
