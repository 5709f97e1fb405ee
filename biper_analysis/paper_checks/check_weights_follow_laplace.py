"""Claim (the paper's model): trained BiPer weights are Laplace(0, b), so QE follows from one number per layer.

Decided by what the claim says: in each BiPer layer of the cached training sweep, the closed form at b = mean|w|
fitted on one half of the output channels predicts the QE measured on the other half (both ways; the report's
out-of-sample entry, :mod:`biper_analysis.analysis.layer`), within max(5 %, 2 SE) with channel-clustered SEs
(:func:`biper_analysis.paper_checks.record.verdict_predictions`). The KS distance to Laplace(0, b) is reported
beside it (at 10⁴–10⁵ weights it rejects any law, including ones whose QE is right), and so is the same comparison
on each run's *initial* weights: a misfit already there at initialisation is not something training did.
"""

from __future__ import annotations

from typing import Any

from biper_analysis import paper
from biper_analysis.paper_checks.record import INCONCLUSIVE, CheckContext, CheckResult, script_main, verdict_predictions

__all__ = ["laplace_errors", "run"]


def _rows(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for run in sweep["runs"] if run["binarizer"] == "biper" for r in run["analysis"]["layers"] if r["n"] > 0]


def laplace_errors(rows: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(relative error, z) of the Laplace prediction out of sample, per layer."""
    out = []
    for r in rows:
        oos = r.get("models", {}).get("laplace", {}).get("oos", {})
        out.append((float(oos.get("rel_err", float("nan"))), float(oos.get("z", float("nan")))))
    return out


def run(context: CheckContext) -> CheckResult:
    base = dict(
        name="weights_follow_laplace",
        claim="trained BiPer weights follow Laplace(0, b) closely enough that QE(ω0, b) predicts the "
        "measured quantisation error",
        source=f"{paper.CITATION}, Sec. 3 (Laplace model of the latent weights)",
        reported="assumed (no goodness of fit reported)",
        tolerance="per BiPer layer, QE(ω0, b) with b fitted on one half of the output channels against the "
        "QE of the other half, both ways: pass if every layer is within max(5 %, 2 SE) "
        "(channel-clustered SE), fail if any misses by more than 5 % and 3 SE, else inconclusive; "
        "the KS test is reported, not decisive (at this n it rejects every law)",
        command=f"biper-analysis fit-b {context.runs_dir}/<run> --reference {context.runs_dir}/<run>/init.pth.tar",
    )
    sweep, missing = context.sweep()
    if sweep is None:
        return CheckResult(measured=missing, verdict=INCONCLUSIVE, **base)
    rows = _rows(sweep)
    if not rows:
        return CheckResult(measured="the sweep has no analysed BiPer layers", verdict=INCONCLUSIVE, **base)
    verdict, within, clear = verdict_predictions(laplace_errors(rows))
    rel = sorted(abs(e) for e, _ in laplace_errors(rows))
    ks = sum(1 for r in rows if r["ks_stat"] > r["ks_critical"])
    init = sorted(abs(r["ref_rel_err"]) for r in rows if r.get("ref_rel_err") is not None)
    measured = (
        f"Laplace predicts {within}/{len(rows)} trained BiPer layers out of sample within max(5 %, 2 SE), "
        f"{clear} miss by more than 5 % and 3 SE (|rel err| {rel[0]:.1%}…{rel[-1]:.1%}); KS rejects "
        f"{ks}/{len(rows)}; on the same runs' initial weights the in-sample |rel err| is "
        + (f"{init[0]:.1%}…{init[-1]:.1%}" if init else "not available (no init weights)")
    )
    return CheckResult(measured=measured, verdict=verdict, **base)


if __name__ == "__main__":
    raise SystemExit(script_main(run))
