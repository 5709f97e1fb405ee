r"""The verdict rules of the per-layer report: when the Laplace model does not fit, when a law predicts a layer's
QE, and when weights pile up at the crests of |sin(ω0 w)|.

* :func:`laplace_verdict`: "misfit" when the KS distance to Laplace(0, b) exceeds its α = 0.001 critical value
  (≈ 1.949/√n) or |qe_pred − qe_emp| > max(3 SE, 10 % of qe_emp).
* :func:`within_tolerance`: a law predicts a layer when its QE is within max(5 %, 2 SE) of the measured QE.
* :func:`crest_density_ratio`, :func:`crest_excess_z`: the crest warning (see :data:`CREST_RATIO`).

No KS p-value is used: with the parameters fitted on the same data the textbook p-value is wrong, and at 10⁵–10⁶
weights any test rejects. The KS *distance* is compared with the asymptotic critical value as a flag.
"""
from __future__ import annotations

import math
from typing import Any

from biper_analysis.theory import analytic

__all__ = ["QE_REL_TOL", "QE_SE_K", "FIT_REL_TOL", "FIT_SE_K", "CREST_RATIO", "CREST_Z", "CREST_MIN_COUNT",
           "rel_err", "laplace_verdict", "within_tolerance", "crest_density_ratio", "crest_excess_z", "row_warnings"]

#: The Laplace QE prediction must be within max(QE_SE_K standard errors, QE_REL_TOL of the measured QE).
QE_REL_TOL = 0.10
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


def laplace_verdict(ks: float, ks_crit: float, qe_pred: float, qe_emp: float, qe_se: float
                    ) -> tuple[str, list[str]]:
    """("ok" | "misfit", reasons): misfit when KS > its critical value or |qe_pred − qe_emp| > max(3 SE, 10 %).

    >>> laplace_verdict(0.01, 0.02, 0.101, 0.100, 0.001)
    ('ok', [])
    >>> laplace_verdict(0.05, 0.02, 0.101, 0.100, 0.001)[0]
    'misfit'
    """
    reasons = []
    if ks > ks_crit:
        reasons.append(f"KS distance {ks:.3f} > {ks_crit:.3f} (its 0.1 % critical value)")
    tol = max(QE_SE_K * qe_se, QE_REL_TOL * abs(qe_emp))
    if abs(qe_pred - qe_emp) > tol:
        reasons.append(f"QE predicted {qe_pred:.4g} vs measured {qe_emp:.4g} ± {qe_se:.1g} "
                       f"({rel_err(qe_pred, qe_emp):+.0%}; tolerance max(3 SE, 10 %))")
    return ("misfit" if reasons else "ok"), reasons


def within_tolerance(qe_pred: float, qe_emp: float, qe_emp_se: float) -> bool:
    """A law predicts the layer: |qe_pred − qe_emp| <= max(5 % of qe_emp, 2 SE).

    >>> within_tolerance(0.104, 0.100, 0.001), within_tolerance(0.106, 0.100, 0.001)
    (True, False)
    """
    return abs(qe_pred - qe_emp) <= max(FIT_REL_TOL * qe_emp, FIT_SE_K * qe_emp_se)


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
    if row["n_nonfinite"]:
        what = "all" if row["n"] == 0 else f"{row['n_nonfinite']} of {row['n'] + row['n_nonfinite']}"
        warns.append(f"layer {row['name']}: {what} weights are NaN/inf"
                     + (" (layer not analysed)" if row["n"] == 0 else " (left out; the rest analysed)"))
    if row.get("laplace_verdict") == "misfit":
        warns.append(f"layer {row['name']}: Laplace(0, b) misfit: " + "; ".join(row["laplace_reasons"]))
    density = crest_density_ratio(row)
    n_crest = round(row.get("near_crest_frac", 0.0) * row.get("n", 0)) if math.isfinite(
        row.get("near_crest_frac", math.nan)) else 0
    if n_crest >= CREST_MIN_COUNT and crest_excess_z(row) > CREST_Z:
        warns.append(f"layer {row['name']}: {row['near_crest_frac']:.0%} of the weights sit near crests of |sin(ω0 w)| "
                     f"(phase within π/8 of π/2), {density:.1f}× as dense as between crests and zeros: a peak where "
                     "the gradient through the sine vanishes; no fitted law has peaks there, so their QE predictions "
                     "are not to be trusted")
    return warns
