"""Claim (official code): the "QE" the official script reports is an L1 error summed over layers.

Under Laplace weights it equals Σ_layers (1 − E|sin(ω0 w)|) — not the paper's squared error, and it grows with
the number of layers. Measured on sampled Laplace layers of a ResNet-20's sizes against the closed form.
"""
from __future__ import annotations

import math

import numpy as np

from biper_analysis import analytic, conventions, paper
from biper_analysis.checks import FAIL, PASS, CheckContext, CheckResult, script_main

OMEGA0 = paper.PUBLISHED_OMEGA0
# the 18 binarised convs of resnet20_1w1a: (count, weights per layer) for 16/32/64-channel 3×3 convs
LAYERS = [(7, 16 * 16 * 9), (1, 32 * 16 * 9), (5, 32 * 32 * 9), (1, 64 * 32 * 9), (4, 64 * 64 * 9)]
K = 4.0


def run(context: CheckContext) -> CheckResult:
    rng = np.random.default_rng(20240401)
    sizes = [n for count, n in LAYERS for _ in range(count)]
    scales = np.geomspace(0.01, 0.08, len(sizes))
    layers = {f"layer{i}": rng.laplace(0.0, b, size=n) for i, (b, n) in enumerate(zip(scales, sizes))}
    measured = conventions.official_l1_summed(layers, OMEGA0)
    predicted = float(np.sum(analytic.official_l1(OMEGA0, scales)))
    # SE of the sum: per layer Var|sin − sign sin| / n, with |sin − sign sin| = 1 − |sin|: Var = Var|sin|
    var = analytic.qe_min(OMEGA0, scales)  # Var|sin| = QE_min under Laplace
    se = math.sqrt(float(np.sum(var / np.asarray(sizes))))
    z = (measured["qe_sum"] - predicted) / se
    mean_l1 = predicted / len(sizes)
    return CheckResult(
        name="official_l1_is_summed",
        claim="the official script's QE is Σ_layers mean|sin(ω0 w) − sign(sin(ω0 w))| = Σ (1 − E|sin|) under Laplace",
        source=f"official code ({paper.OFFICIAL_CODE}), the QE logging of the training scripts",
        reported="an L1 error with γ = 1, summed over the binarised layers (and b = mean|w| summed likewise)",
        measured=f"{len(sizes)} Laplace layers (ResNet-20 sizes), ω0 = {OMEGA0:g}: summed L1 {measured['qe_sum']:.5f} vs "
                 f"Σ(1 − E|sin|) = {predicted:.5f} (z = {z:+.2f}); per-layer mean {mean_l1:.4f}; "
                 f"squared-error QE_min would be {float(np.mean(analytic.qe_min(OMEGA0, scales))):.4f} per layer",
        tolerance=f"|z| ≤ {K:g} standard errors of the sampled sum",
        verdict=PASS if abs(z) <= K else FAIL,
        command="biper-analysis check --only official_l1",
    )


if __name__ == "__main__":
    raise SystemExit(script_main(run))
