r"""The verdict rules of the per-layer report: when the Laplace model does not fit, when a law predicts a layer's
QE, and when weights pile up at the crests of |sin(ω0 w)|.

* :func:`laplace_verdict`: "misfit" when the KS distance to Laplace(0, b) exceeds its α = 0.001 critical value
  (≈ 1.949/√n) or |qe_pred − qe_emp| > max(3 SE, 5 % of qe_emp); each reason is named.
* :func:`within_tolerance`: a law's QE is within max(5 %, 2 SE) of the measured QE.
* :func:`combine_directions`: the out-of-sample comparison (a law fitted on one half of the output channels, scored
  on the other, both ways) and its verdict; :func:`best_law`: the law with the highest held-out log-likelihood.
* :func:`crest_density_ratio`, :func:`crest_excess_z`: the crest warning (see :data:`CREST_RATIO`).

No KS p-value is used: with the parameters fitted on the same data the textbook p-value is wrong, and at 10⁵–10⁶
weights any test rejects. The KS *distance* is compared with the asymptotic critical value as a flag.
"""

from __future__ import annotations

import math
from typing import Any

from biper_analysis.theory import analytic

__all__ = [
    "QE_REL_TOL",
    "QE_SE_K",
    "FIT_REL_TOL",
    "FIT_SE_K",
    "CREST_RATIO",
    "CREST_Z",
    "CREST_MIN_COUNT",
    "rel_err",
    "laplace_verdict",
    "within_tolerance",
    "combine_directions",
    "best_law",
    "crest_density_ratio",
    "crest_excess_z",
    "row_warnings",
]

#: The Laplace QE prediction must be within max(QE_SE_K standard errors, QE_REL_TOL of the measured QE).
QE_REL_TOL = 0.05
QE_SE_K = 3.0
#: Tolerance of the "predicts this layer" count per law: max(5 %, 2 SE of the measured QE).
FIT_REL_TOL, FIT_SE_K = 0.05, 2.0
#: A layer is warned about weights piled up at the crests of |sin(ω0 w)| when the phase density near the crests is
#: more than CREST_RATIO times the density between the crest and zero windows (:func:`crest_density_ratio`), and
#: significantly so: given the weights in the two windows, the crest count exceeds what that ratio allows by more than
#: CREST_Z binomial standard deviations (one-sided α ≈ 1e-4), with at least CREST_MIN_COUNT weights near the crests.
#: Laplace and Gaussian weights have a phase density that falls from the zeros to the crests (ratio ≤ 1); a uniform
#: law can reach 2; a peak where the gradient through the sine vanishes gives 10–40 (the sweep's ω0 = 60 layers).
CREST_RATIO, CREST_Z, CREST_MIN_COUNT = 3.0, 3.72, 20


def rel_err(pred: float, emp: float) -> float:
    """(pred − emp)/emp; NaN when emp is 0 or not finite.

    >>> rel_err(1.1, 1.0) == (1.1 - 1.0) / 1.0
    True
    """
    return (pred - emp) / emp if emp != 0 and math.isfinite(emp) else math.nan


def laplace_verdict(ks: float, ks_crit: float, qe_pred: float, qe_emp: float, qe_se: float) -> tuple[str, list[str]]:
    """("ok" | "misfit", reasons): misfit when KS > its critical value or |qe_pred − qe_emp| > max(3 SE, 5 %),
    each reason named.

    >>> laplace_verdict(0.01, 0.02, 0.101, 0.100, 0.001)
    ('ok', [])
    >>> laplace_verdict(0.05, 0.02, 0.101, 0.100, 0.001)
    ('misfit', ['KS distance 0.050 > 0.020 (its 0.1 % critical value)'])
    >>> laplace_verdict(0.01, 0.02, 0.107, 0.100, 0.001)[1]
    ['QE predicted 0.107 vs measured 0.1 ± 0.001 (rel_err +0.070; tolerance max(3 SE, 0.05 × measured))']
    """
    reasons = []
    if ks > ks_crit:
        reasons.append(f"KS distance {ks:.3f} > {ks_crit:.3f} (its 0.1 % critical value)")
    tol = max(QE_SE_K * qe_se, QE_REL_TOL * abs(qe_emp))
    if abs(qe_pred - qe_emp) > tol:
        reasons.append(
            f"QE predicted {qe_pred:.4g} vs measured {qe_emp:.4g} ± {qe_se:.1g} "
            f"(rel_err {rel_err(qe_pred, qe_emp):+.3f}; tolerance max(3 SE, {QE_REL_TOL:.2f} × measured))"
        )
    return ("misfit" if reasons else "ok"), reasons


def within_tolerance(qe_pred: float, qe_emp: float, qe_emp_se: float) -> bool:
    """A law predicts the layer: |qe_pred − qe_emp| <= max(5 % of qe_emp, 2 SE).

    >>> within_tolerance(0.104, 0.100, 0.001), within_tolerance(0.106, 0.100, 0.001)
    (True, False)
    """
    return abs(qe_pred - qe_emp) <= max(FIT_REL_TOL * qe_emp, FIT_SE_K * qe_emp_se)


def combine_directions(ab: dict[str, Any], ba: dict[str, Any]) -> dict[str, Any]:
    """The out-of-sample comparison of one law from its two directions (fitted on the first half of the output
    channels and scored on the second, and back; each with ``qe_pred``, ``qe_emp``, ``se``, ``rel_err``, ``z``,
    ``loglik``, ``n_test`` and ``n_scored``, the weights ``loglik`` summed over).

    Combined by root mean square, keeping the sign of the mean: a signed mean would cancel for a law that
    reproduces each half's QE (a fitted on A predicts ≈ QE_A, so its two errors are ≈ ±(QE_A − QE_B)) and so
    could not fail. ``within_tol``: rms relative error ≤ 5 % or rms z ≤ 2 (the tolerance max(5 %, 2 SE) of
    :func:`within_tolerance`, in root mean square over the two directions; SE from the channel-clustered SEs of
    both halves); None when a direction could not be fitted. ``heldout_loglik``: the log-likelihood of each half
    (or of its seeded subsample, :data:`biper_analysis.analysis.layer.HELDOUT_SAMPLES`) under the law fitted to the
    other, per weight (what :func:`best_law` compares).

    >>> d = lambda e, z: {"qe_pred": 1 + e, "qe_emp": 1.0, "se": 0.01, "rel_err": e, "z": z, "loglik": -5.0,
    ...                   "n_test": 10}
    >>> r = combine_directions(d(0.03, 3.0), d(-0.03, -3.0))
    >>> round(r["rel_err"], 3), r["within_tol"], r["heldout_loglik"]
    (0.03, True, -0.5)
    >>> combine_directions(d(0.08, 3.0), d(0.06, 2.5))["within_tol"]
    False
    """
    errs, zs = [ab["rel_err"], ba["rel_err"]], [ab["z"], ba["z"]]
    n = ab.get("n_scored", ab["n_test"]) + ba.get("n_scored", ba["n_test"])  # the weights the logliks summed over
    out = {
        "qe_pred": 0.5 * (ab["qe_pred"] + ba["qe_pred"]),
        "qe_emp": 0.5 * (ab["qe_emp"] + ba["qe_emp"]),
        "se": math.sqrt(0.5 * (ab["se"] ** 2 + ba["se"] ** 2)),
        "heldout_loglik": (ab["loglik"] + ba["loglik"]) / n if n else math.nan,
    }
    if not all(math.isfinite(v) for v in errs + zs):
        return {**out, "rel_err": math.nan, "z": math.nan, "within_tol": None}
    sign = 1.0 if sum(errs) >= 0 else -1.0
    rms_err = math.sqrt(0.5 * (errs[0] ** 2 + errs[1] ** 2))
    rms_z = math.sqrt(0.5 * (zs[0] ** 2 + zs[1] ** 2))
    return {
        **out,
        "rel_err": sign * rms_err,
        "z": sign * rms_z,
        "within_tol": bool(rms_err <= FIT_REL_TOL or rms_z <= FIT_SE_K),
    }


def best_law(entries: dict[str, dict[str, Any]]) -> str | None:
    """The law whose fits predict the held-out half best: the highest out-of-sample log-likelihood per weight
    (both directions), a criterion that, unlike the in-sample AIC, does not favour a law for reproducing the very
    weights it is judged on. None when no law has one.

    >>> best_law({"a": {"oos": {"heldout_loglik": 1.0}}, "b": {"oos": {"heldout_loglik": 1.5}}})
    'b'
    """
    scored = [
        (e["oos"]["heldout_loglik"], name)
        for name, e in entries.items()
        if math.isfinite(e.get("oos", {}).get("heldout_loglik", math.nan))
    ]
    return max(scored)[1] if scored else None


def crest_density_ratio(row: dict[str, Any]) -> float:
    """Phase density near the crests over the phase density between the zero and crest windows (NaN if undefined).

    >>> crest_density_ratio({"near_zero_frac": 0.25, "near_crest_frac": 0.25})   # a uniform phase
    1.0
    """
    h = analytic.NEAR_ZERO_HALF_WIDTH
    crest, zero = row.get("near_crest_frac", math.nan), row.get("near_zero_frac", math.nan)
    between = 1.0 - crest - zero
    if not (math.isfinite(crest) and math.isfinite(between)):
        return math.nan
    if between <= 1e-12:
        return math.inf if crest > 0 else math.nan
    return (crest / (2.0 * h)) / (between / (math.pi - 4.0 * h))


def crest_excess_z(row: dict[str, Any], ratio: float = CREST_RATIO) -> float:
    """How many binomial SDs the crest count lies above what a density ratio of ``ratio`` allows.

    Of the m weights in the crest and between windows, a crest density ``ratio`` times the between density puts a
    fraction q = ratio·w_c/(ratio·w_c + w_b) near the crests (w_c, w_b: the windows' phase widths).

    >>> round(crest_excess_z({"n": 10000, "near_zero_frac": 0.25, "near_crest_frac": 0.25}), 2)   # uniform
    -47.14
    """
    h = analytic.NEAR_ZERO_HALF_WIDTH
    n = row.get("n", 0)
    crest, zero = row.get("near_crest_frac", math.nan), row.get("near_zero_frac", math.nan)
    if not (n and math.isfinite(crest) and math.isfinite(zero)):
        return math.nan
    n_crest = round(crest * n)
    m = n_crest + max(round((1.0 - crest - zero) * n), 0)
    if m == 0:
        return math.nan
    q = ratio * 2.0 * h / (ratio * 2.0 * h + (math.pi - 4.0 * h))
    return (n_crest - q * m) / math.sqrt(m * q * (1.0 - q))


def row_warnings(row: dict[str, Any]) -> list[str]:
    """The warnings one report row earns: non-finite weights, a Laplace misfit, weights piled at the crests."""
    warns = []
    fault = row.get("weight_fault")
    if row["n"] == 0 and fault and "constant" in fault:  # a constant layer: named as such, nothing else
        warns.append(f"layer {row['name']}: {fault}; layer not analysed")
    elif row["n_nonfinite"]:
        what = (
            f"all {row['n_nonfinite']}" if row["n"] == 0 else f"{row['n_nonfinite']} of {row['n'] + row['n_nonfinite']}"
        )
        warns.append(
            f"layer {row['name']}: {what} weights are NaN/inf"
            + (" (layer not analysed)" if row["n"] == 0 else " (left out; the rest analysed)")
        )
    if row.get("ref_weight_fault"):
        done = (
            "drift and the reference's QE not computed"
            if row.get("ref_laplace_verdict") is None
            else "left out of the drift and the reference's QE"
        )
        warns.append(f"layer {row['name']}: the reference's {row['ref_weight_fault']}; {done}")
    if row.get("laplace_verdict") == "misfit":
        warns.append(f"layer {row['name']}: Laplace(0, b) misfit: " + "; ".join(row["laplace_reasons"]))
    density = crest_density_ratio(row)
    n_crest = (
        round(row.get("near_crest_frac", 0.0) * row.get("n", 0))
        if math.isfinite(row.get("near_crest_frac", math.nan))
        else 0
    )
    if n_crest >= CREST_MIN_COUNT and crest_excess_z(row) > CREST_Z:
        best = row.get("best_model")
        if best is None or best == "laplace" and len(row.get("models", {})) <= 1:
            law = (
                "fit the laws with crest peaks (fit-b --law all: harmonic, maxent) before trusting a prediction "
                "of its QE"
            )
        else:
            law = (
                f"the best law out of sample, {best}, predicts its QE "
                f"{'within' if row.get('best_within_tol') else 'NOT within'} max({FIT_REL_TOL:.2f}, 2 SE) "
                f"(best_rel_err {row.get('best_rel_err', math.nan):+.3f})"
            )
        warns.append(
            f"layer {row['name']}: {row['near_crest_frac']:.0%} of the weights sit near crests of |sin(ω0 w)| "
            f"(phase within π/8 of π/2), {density:.1f}× as dense as between crests and zeros: a peak where "
            f"the gradient through the sine vanishes; {law}"
        )
    return warns
