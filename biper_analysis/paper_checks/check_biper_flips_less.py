"""Claim: late in training, BiPer's binarised weights flip less often than the sign baseline's.

Stated before it was measured (issue 20), as a hypothesis rather than a number from the paper: BiPer's argument is
that training through the sine gives the binary weights a better-behaved signal than the sign function's straight-
through estimator, and sign-STE latent weights are known to oscillate around 0 (the "flip-flop" of binary weights:
Helwegen et al., NeurIPS 2019, whose flip ratio larq's ``FlipRatio`` metric records; Nagel et al., ICML 2022). If
the argument holds, fewer of BiPer's binary weights should still flip once training settles. (One could as well
expect the opposite: BiPer's τ·sin²(ω0 w) penalty gathers the latent weights at the zeros of sin(ω0 w), exactly
where the binary weight changes, and the gradient reaches them multiplied by ω0·cos(ω0 w), largest there.)

Measured: per run, the fraction of binarised weights that flip per epoch over the last third of stage 2's epochs
(:func:`biper_analysis.training.trajectory.late_flip_ratio`: weights pooled over the binarised layers), for BiPer at
the sweep's paired ω0 (the published 20) and for the sign baseline with the same seeds; the difference sign − BiPer
seed by seed and its 95 % Student-t confidence interval decide, symmetrically: above 0 pass, below 0 fail,
containing 0 inconclusive. Fewer than MIN_SEEDS pairs with recorded trajectories: inconclusive. Reads the cached
training sweep (`biper-analysis train-sweep`); never trains.
"""

from __future__ import annotations

import math
from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import INCONCLUSIVE, CheckContext, CheckResult, script_main, verdict_interval
from biper_analysis.training.sweep import paired_difference
from biper_analysis.training.trajectory import late_flip_ratio, sweep_trajectories

__all__ = ["MIN_SEEDS", "LATE_FRACTION", "compare", "late_flips", "run"]

MIN_SEEDS = 5
LEVEL = 0.95
#: "Late in training": the last third of stage 2's epochs.
LATE_FRACTION = 1 / 3


def late_flips(sweep: dict[str, Any], paired_omega0: float) -> tuple[dict[int, float], dict[int, float]]:
    """Late flip ratio by seed, for BiPer at ``paired_omega0`` and for the sign baseline (runs with a trajectory)."""
    biper, sign = {}, {}
    for run, trajectory in sweep_trajectories(sweep):
        value = late_flip_ratio(trajectory, stage=2, fraction=LATE_FRACTION)
        if not math.isfinite(value):
            continue
        if run["binarizer"] == "sign":
            sign[run["seed"]] = value
        elif run["binarizer"] == "biper" and math.isclose(run["omega0"], paired_omega0):
            biper[run["seed"]] = value
    return biper, sign


def compare(biper: dict[int, float], sign: dict[int, float]) -> tuple[str, dict[str, Any]]:
    """(verdict, paired difference sign − BiPer) of late flip ratios by seed."""
    d = paired_difference(sign, biper, LEVEL)
    verdict = INCONCLUSIVE if d["n"] < MIN_SEEDS else verdict_interval(*d["ci"])
    return verdict, d


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="biper_flips_less",
        claim="late in training (last third of stage 2), a smaller fraction of BiPer's binary weights flips "
        "per epoch than of the sign baseline's, same recipe and seeds",
        source=f"hypothesis stated before measuring (issue 20), from the argument of {paper.CITATION} and "
        "the flip-flop of sign-STE weights (Helwegen et al. 2019; Nagel et al. 2022)",
        reported="no number reported: a direction (BiPer < sign)",
        tolerance=f"paired by seed, ≥ {MIN_SEEDS} seeds: pass if the {LEVEL:.0%} CI of sign − BiPer lies "
        "above 0, fail if below 0, inconclusive if it contains 0",
        command=f"biper-analysis train-sweep --out {context.runs_dir} && "
        f"biper-analysis check --runs {context.runs_dir} --only biper_flips_less",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    paired = sweep.get("plan", {}).get("paired_omega0", paper.PUBLISHED_OMEGA0)
    biper, sign = late_flips(sweep, paired)
    if not biper or not sign:
        return CheckResult(
            measured=f"the sweep holds no recorded trajectories of BiPer at ω0 = {paired:g} and of the "
            "sign baseline (runs trained before recording existed: retrain them into a new "
            "folder)",
            verdict=INCONCLUSIVE,
            **base,
        )
    verdict, d = compare(biper, sign)
    per_seed = "; ".join(f"seed {s}: sign {a:.3g} vs BiPer {b:.3g}" for s, a, b in zip(d["seeds"], d["a"], d["b"]))
    return CheckResult(
        measured=f"flips per epoch, last third of stage 2 (fraction of binary weights): {per_seed}; paired "
        f"difference sign − BiPer {d['mean']:+.3g}, {LEVEL:.0%} CI [{d['ci'][0]:+.3g}, {d['ci'][1]:+.3g}] "
        f"(n = {d['n']})",
        verdict=verdict,
        **base,
    )


if __name__ == "__main__":
    raise SystemExit(script_main(run))
