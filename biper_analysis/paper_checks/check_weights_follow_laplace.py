"""Claim (the paper's model): trained BiPer weights are Laplace(0, b), so QE follows from one number per layer.

Measured on the cached training sweep, layer by layer, with the report's verdict (KS distance to Laplace(0, b)
above its 0.1 % critical value, or the closed-form QE off by more than max(3 SE, 10 %)). The same verdict on each
run's *initial* weights is reported beside it: a misfit that is already there at initialisation is not something
training did.
"""
from __future__ import annotations

from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import FAIL, INCONCLUSIVE, PASS, CheckContext, CheckResult, script_main

__all__ = ["verdict_layers", "run"]


def verdict_layers(n_layers: int, n_misfit: int) -> str:
    """pass when every analysed layer fits, fail when any does not, inconclusive without layers."""
    if n_layers == 0:
        return INCONCLUSIVE
    return PASS if n_misfit == 0 else FAIL


def _rows(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for run in sweep["runs"] if run["binarizer"] == "biper" for r in run["analysis"]["layers"] if r["n"] > 0]


def run(context: CheckContext) -> CheckResult:
    base = dict(name="weights_follow_laplace",
                claim="trained BiPer weights follow Laplace(0, b) closely enough that QE(ω0, b) predicts the "
                      "measured quantisation error",
                source=f"{paper.CITATION}, Sec. 3 (Laplace model of the latent weights)",
                reported="assumed (no goodness of fit reported)",
                tolerance="pass if no BiPer layer is a Laplace misfit (KS distance > its 0.1 % critical value "
                          "≈ 1.949/√n, or |QE_pred − QE_emp| > max(3 SE, 10 %)); fail if any is",
                command=f"biper-analysis fit-b {context.runs_dir}/<run> --reference "
                        f"{context.runs_dir}/<run>/init.pth.tar")
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    rows = _rows(sweep)
    misfit = [r for r in rows if r["laplace_verdict"] == "misfit"]
    at_init = [r for r in rows if r.get("ref_laplace_verdict") == "misfit"]
    rel = sorted(abs(r["rel_err"]) for r in rows)
    init_rel = sorted(abs(r["ref_rel_err"]) for r in rows if "ref_rel_err" in r)
    measured = (f"{len(misfit)}/{len(rows)} trained BiPer layers are Laplace misfits (|rel err| of QE_pred "
                f"{rel[0]:.1%}…{rel[-1]:.1%}); on the same runs' initial weights {len(at_init)}/{len(rows)} "
                + (f"(|rel err| {init_rel[0]:.1%}…{init_rel[-1]:.1%})" if init_rel else "(no init weights)")
                ) if rows else "the sweep has no analysed BiPer layers"
    return CheckResult(measured=measured, verdict=verdict_layers(len(rows), len(misfit)), **base)


if __name__ == "__main__":
    raise SystemExit(script_main(run))
