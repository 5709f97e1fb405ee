"""Claim (this toolkit's, extending the paper's Laplace model): for every trained BiPer layer, the best of the
weight laws predicts the layer's QE from weights it was not fitted to.

The best law is chosen out of sample (the highest held-out log-likelihood; :func:`biper_analysis.analysis.verdicts.
best_law`), fitted on one half of the output channels and scored on the other, both ways; the tolerance is
max(5 %, 2 SE) with channel-clustered SEs (:func:`biper_analysis.paper_checks.record.verdict_predictions`). A law
whose fit reproduces the sample's sine moments (maxent) cannot pass by construction here: its prediction for one
half is the other half's QE.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import INCONCLUSIVE, CheckContext, CheckResult, script_main, verdict_predictions

__all__ = ["best_errors", "run"]


def _rows(sweep: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (run["name"], r)
        for run in sweep["runs"]
        if run["binarizer"] == "biper"
        for r in run["analysis"]["layers"]
        if r["n"] > 0
    ]


def best_errors(rows: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(relative error, z) of each layer's best law out of sample."""
    return [(float(r.get("best_rel_err", float("nan"))), float(r.get("best_z", float("nan")))) for r in rows]


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="best_law_predicts_layers",
        claim="for every trained BiPer layer, the best weight law (chosen out of sample) predicts the "
        "layer's QE from weights it was not fitted to",
        source=f"this toolkit's weight laws (biper_analysis/laws/), extending {paper.CITATION}, Sec. 3",
        reported="— (the paper models every layer as Laplace)",
        tolerance="per BiPer layer, the best law fitted on one half of the output channels against the QE of "
        "the other half, both ways: pass if every layer is within max(5 %, 2 SE) (channel-"
        "clustered SE), fail if any misses by more than 5 % and 3 SE, else inconclusive",
        command=f"biper-analysis fit-b {context.runs_dir}/<run> --law all",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    named = _rows(sweep)
    rows = [r for _, r in named]
    if not rows or all(r.get("best_model") in (None, "laplace") and len(r.get("models", {})) <= 1 for r in rows):
        return CheckResult(
            measured="the sweep has no BiPer layers analysed with every law", verdict=INCONCLUSIVE, **base
        )
    errors = best_errors(rows)
    verdict, within, clear = verdict_predictions(errors)
    laws = Counter(r.get("best_model") for r in rows)
    worst = max(zip(named, errors), key=lambda x: abs(x[1][0]) if x[1][0] == x[1][0] else -1.0)
    (run_name, row), (rel, z) = worst
    measured = (
        f"the best law predicts {within}/{len(rows)} BiPer layers out of sample within max(5 %, 2 SE), "
        f"{clear} miss by more than 5 % and 3 SE; best laws: "
        + ", ".join(f"{k} {v}" for k, v in laws.most_common())
        + f"; largest |rel err| {rel:+.1%} (z {z:+.1f}) in {run_name} {row['name']} ({row.get('best_model')})"
    )
    return CheckResult(measured=measured, verdict=verdict, **base)


if __name__ == "__main__":
    raise SystemExit(script_main(run))
