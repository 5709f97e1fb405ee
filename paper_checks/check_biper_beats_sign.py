"""Claim: BiPer is more accurate than the plain sign binariser under the same recipe (Fashion-MNIST).

Reads the cached training sweep (`biper-analysis train-sweep`); never trains. Compares BiPer at the published
ω0 = 20 (or the ω0 closest to it in the sweep) with the sign-STE baseline over seeds.
"""
from __future__ import annotations

import math

from biper_analysis import paper
from biper_analysis.checks import cached_sweep, INCONCLUSIVE, CheckContext, CheckResult, script_main, verdict_difference

K = 2.0  # a difference within 2 standard errors across seeds is not evidence either way


def run(context: CheckContext) -> CheckResult:
    base = dict(name="biper_beats_sign",
                claim="BiPer (sign(sin(ω0 w)), trained through the sine) beats the sign-STE binariser",
                source=f"{paper.CITATION}, Tables 1–3 (CIFAR-10/ImageNet); here: Fashion-MNIST, small CPU network",
                reported=f"official code, ResNet-20, Fashion-MNIST: BiPer {paper.OFFICIAL_FASHION_MNIST_R20['biper']['stage2_best']} "
                         f"vs sign {paper.OFFICIAL_FASHION_MNIST_R20['sign']['stage2_best']} (best, one seed each)",
                tolerance=f"pass if mean(BiPer) − mean(sign) > {K:g}·SE of the difference, fail if < −{K:g}·SE, "
                          "else inconclusive",
                command=f"biper-analysis train-sweep --out {context.runs_dir} && biper-analysis check --only biper_beats_sign")
    sweep, missing = cached_sweep(context)
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    groups = sweep["groups"]
    biper = [g for g in groups if g["binarizer"] == "biper"]
    sign = [g for g in groups if g["binarizer"] == "sign"]
    if not biper or not sign:
        return CheckResult(measured="the sweep lacks BiPer or sign runs", verdict=INCONCLUSIVE, **base)
    g_b = min(biper, key=lambda g: abs(math.log(g["omega0"] / paper.PUBLISHED_OMEGA0)))
    g_s = sign[0]
    a, s = g_b["best_acc"], g_s["best_acc"]
    diff = a["mean"] - s["mean"]
    se = math.sqrt((a["se"] or math.nan) ** 2 + (s["se"] or math.nan) ** 2) if a["n"] > 1 and s["n"] > 1 else math.nan
    others = ", ".join(f"ω0={g['omega0']:g}: {g['best_acc']['mean']:.2f}" for g in biper if g is not g_b)
    return CheckResult(
        measured=f"BiPer ω0={g_b['omega0']:g}: {a['mean']:.2f} ± {a['std'] or 0:.2f} % (n={a['n']}) vs sign "
                 f"{s['mean']:.2f} ± {s['std'] or 0:.2f} % (n={s['n']}); difference {diff:+.2f} ± {se:.2f} (SE)"
                 + (f"; other ω0: {others}" if others else ""),
        verdict=verdict_difference(diff, se, K), **base)


if __name__ == "__main__":
    raise SystemExit(script_main(run))
