"""Claim: the official QE metric of trained checkpoints is predicted by the closed form at the fitted b.

The official metric (``cifar10/vis_get_QE.py`` of the official repository, called from ``compute_QE.py``): for
each binarised layer mean|sin(ω0 w) − sign(sin(ω0 w))| — an L1 error at γ = 1, not the paper's squared QE — summed
over layers, and b = mean|w| summed likewise. Measured here on the final checkpoints of the training sweep's BiPer
runs, by the package's one statistics function; predicted per layer as 1 − E|sin| under Laplace(0, b) and under
each layer's best fitted law (``best_model``: the highest held-out log-likelihood), summed the same way. The
verdict is on the Laplace prediction; the best law's is reported beside it.
"""

from __future__ import annotations

from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import FAIL, INCONCLUSIVE, PASS, CheckContext, CheckResult, script_main

__all__ = ["REL_TOL", "verdict_runs", "run"]

REL_TOL = 0.05


def verdict_runs(rel_errors: list[float]) -> str:
    """pass when every run's prediction is within REL_TOL, fail when any is not, inconclusive without runs."""
    if not rel_errors:
        return INCONCLUSIVE
    return PASS if max(abs(e) for e in rel_errors) <= REL_TOL else FAIL


def _official(totals: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, float]:
    measured = totals["official_l1_sum"]
    best = sum(r["models"][r["best_model"]]["official_l1_pred"] for r in rows if r["n"] > 0 and r.get("best_model"))
    return {
        "measured": measured,
        "laplace": totals["official_l1_sum_pred"]["laplace"],
        "best": best,
        "b_sum": totals["b_loc0_sum"],
        "n_layers": totals["n_layers_analysed"],
    }


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="official_l1",
        claim="the official summed L1 QE metric of a trained network is predicted by Σ_layers (1 − E|sin|) "
        "under Laplace(0, b) at each layer's fitted b",
        source=f"official code ({paper.OFFICIAL_CODE}), cifar10/vis_get_QE.py",
        reported="Σ_layers mean|sin(ω0 w) − sign(sin(ω0 w))| and Σ_layers mean|w| (no prediction)",
        tolerance=f"pass if the Laplace prediction of every run's summed L1 is within {REL_TOL:.0%}; fail if "
        "any is not",
        command="biper-analysis fit-b RUN   (the 'official script' line)",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    runs = [r for r in sweep["runs"] if r["binarizer"] == "biper"]
    values = {r["name"]: _official(r["analysis"]["totals"], r["analysis"]["layers"]) for r in runs}
    rel = [(v["laplace"] - v["measured"]) / v["measured"] for v in values.values()]
    rel_best = [(v["best"] - v["measured"]) / v["measured"] for v in values.values()]
    lines = "; ".join(
        f"{name}: measured {v['measured']:.4f} (Σb {v['b_sum']:.4f}, {v['n_layers']} layers), Laplace "
        f"{v['laplace']:.4f}, best law {v['best']:.4f}"
        for name, v in values.items()
    )
    summary = (
        (f" — Laplace rel. err {min(rel):+.1%}…{max(rel):+.1%}, best law {min(rel_best):+.1%}…{max(rel_best):+.1%}")
        if rel
        else ""
    )
    return CheckResult(measured=(lines or "no BiPer runs in the sweep") + summary, verdict=verdict_runs(rel), **base)


if __name__ == "__main__":
    raise SystemExit(script_main(run))
