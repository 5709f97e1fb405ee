"""Claim: the frequency ω0 controls the quantisation error of a trained network as the closed form says.

On the cached training sweep (BiPer at ≥ 4 values of ω0), value by value: for each ω0 the closed form's QE_min at
each run's fitted b against the QE_min measured on its trained weights (both weight-count-weighted over the
layers), the difference averaged over seeds with an SE from the seeds' spread and the layers' channel-clustered
SEs; each ω0 must be predicted within max(5 %, 2 SE) (:func:`biper_analysis.paper_checks.record.
verdict_predictions`). Measured values above the Laplace maximum QE_min ≈ 0.1028 — which no b can produce — are
named. The Spearman rank correlation across ω0 (the ordering alone; QE_min is not monotone in ω0·b) and the best
law's values are reported beside.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from biper_analysis import paper
from biper_analysis.paper_checks.record import (
    INCONCLUSIVE,
    CheckContext,
    CheckResult,
    script_main,
    verdict_predictions,
)
from biper_analysis.theory import analytic

__all__ = ["MIN_OMEGA0", "spearman", "by_omega0", "run"]

MIN_OMEGA0 = 4


def spearman(predicted: list[float], measured: list[float]) -> float:
    """Spearman's ρ (NaN for fewer than 2 points or a constant side)."""
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return math.nan
    return float(stats.spearmanr(predicted, measured).statistic)


def _weighted(rows: list[dict[str, Any]], key: Any) -> float:
    n = sum(r["n"] for r in rows)
    return sum(key(r) * r["n"] for r in rows) / n


def _weighted_se(rows: list[dict[str, Any]]) -> float:
    """SE of the weight-count-weighted measured QE of one run (layers independent; each its clustered SE)."""
    n = sum(r["n"] for r in rows)
    return math.sqrt(sum((r["n"] / n * r.get("qe_emp_se", 0.0)) ** 2 for r in rows))


def by_omega0(sweep: dict[str, Any]) -> dict[float, dict[str, float]]:
    """Per ω0: means over seeds of the weighted measured QE_min, the Laplace and best-law predictions, the
    Laplace relative error and z (SE from the seeds' spread of the difference and the runs' measurement SEs), the
    number of seeds, and the layers whose measured QE_min exceeds the Laplace maximum."""
    qe_max = analytic.qe_min_peak()[1]
    groups: dict[float, list[dict[str, float]]] = {}
    above: dict[float, int] = {}
    for run in sweep["runs"]:
        if run["binarizer"] != "biper":
            continue
        rows = [r for r in run["analysis"]["layers"] if r["n"] > 0]
        if not rows:
            continue
        meas, lap = _weighted(rows, lambda r: r["qe_emp"]), _weighted(rows, lambda r: r["qe_pred"])
        groups.setdefault(run["omega0"], []).append(
            {
                "measured": meas,
                "laplace": lap,
                "best": _weighted(rows, lambda r: r["best_qe_pred"]),
                "diff": lap - meas,
                "se": _weighted_se(rows),
            }
        )
        above[run["omega0"]] = above.get(run["omega0"], 0) + sum(1 for r in rows if r["qe_emp"] > qe_max)
    out = {}
    for w, members in sorted(groups.items()):
        n = len(members)
        diff = np.array([m["diff"] for m in members])
        spread = float(np.std(diff, ddof=1)) ** 2 / n if n > 1 else 0.0
        se = math.sqrt(spread + float(np.mean([m["se"] ** 2 for m in members])) / n)
        mean = {k: float(np.mean([m[k] for m in members])) for k in ("measured", "laplace", "best")}
        out[w] = {
            **mean,
            "rel_err": float(diff.mean()) / mean["measured"] if mean["measured"] else math.nan,
            "z": float(diff.mean()) / se if se > 0 else math.nan,
            "n": n,
            "above_laplace_max": above[w],
        }
    return out


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="qe_follows_omega0",
        claim="choosing ω0 sets the QE of the trained network as the closed form at the fitted b predicts "
        "(the paper's flexible initialisation)",
        source=f"{paper.CITATION}, Sec. 3 (QE analysis and flexible initialisation)",
        reported="qualitative: ω0 controls QE; the closed form is the tool for choosing ω0",
        tolerance=f"each of ≥ {MIN_OMEGA0} values of ω0: the closed form's QE_min (at each run's b, "
        "weighted over layers, mean over seeds) within max(5 %, 2 SE) of the measured; pass if "
        "every ω0 is, fail if any misses by more than 5 % and 3 SE, else inconclusive; fewer ω0: "
        "inconclusive. The rank correlation is reported, not decisive",
        command=f"biper-analysis train-sweep --out {context.runs_dir} && "
        f"biper-analysis check --runs {context.runs_dir} --only qe_follows_omega0",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    table = by_omega0(sweep)
    omegas = list(table)
    verdict, within, clear = verdict_predictions([(t["rel_err"], t["z"]) for t in table.values()])
    if len(omegas) < MIN_OMEGA0:
        verdict = INCONCLUSIVE
    rho = spearman([table[w]["laplace"] for w in omegas], [table[w]["measured"] for w in omegas])
    rho_best = spearman([table[w]["best"] for w in omegas], [table[w]["measured"] for w in omegas])
    qe_max = analytic.qe_min_peak()[1]
    rows = "; ".join(
        f"ω0 = {w:g}: measured {t['measured']:.4f}, Laplace {t['laplace']:.4f} ({t['rel_err']:+.1%}, "
        f"z {t['z']:+.1f}, {t['n']} seed{'s' * (t['n'] > 1)}), best law {t['best']:.4f}"
        + (
            f"; {t['above_laplace_max']} layer(s) measured above the Laplace maximum {qe_max:.4f}, which no b gives"
            if t["above_laplace_max"]
            else ""
        )
        for w, t in table.items()
    )
    return CheckResult(
        measured=f"{rows}. {within}/{len(omegas)} values of ω0 within tolerance; Spearman ρ "
        f"(Laplace) = {rho:.2f}, ρ (best law) = {rho_best:.2f}",
        verdict=verdict,
        **base,
    )


if __name__ == "__main__":
    raise SystemExit(script_main(run))
