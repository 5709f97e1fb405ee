r"""The γ conventions users meet, side by side: one function per convention, each saying when it applies.

All BiPer conventions are the same quantity :math:`E[(|\sin(\omega_0 w)| - \gamma)^2]` (QE, computed from the
two moments by :func:`biper_analysis.analytic._qe_from_moments`) with a different choice of γ, except the
official script's metric, which is an L1 error at γ = 1 summed over layers.

=====================  ==============================================  ============================================
convention             function (predicted / measured on weights)      when it applies
=====================  ==============================================  ============================================
optimal γ*             :func:`qe_optimal_gamma` / :func:`qe_measured`   the paper's QE_min; a per-tensor scale that
                                                                       is free to be fitted (least-squares γ)
fixed γ                :func:`qe_fixed_gamma` / :func:`qe_measured`     a scale set by hand (γ = 1 is plain ±1
                                                                       weights, as BiPer's forward pass uses before α)
per-output-channel γ   :func:`qe_per_channel`                          XNOR-style scaling: one γ_c = mean|sin(ω0 w)|
                                                                       per output channel (a per-channel γ*)
official L1            :func:`official_l1_layer`, :func:`official_l1_  what the official BiPer script prints: per
                       summed`                                         layer mean|sin − sign(sin)|, *summed* over
                                                                       layers (and b = mean|w| summed too)
sign baseline          :func:`qe_sign` / :func:`qe_sign_measured`       the usual binarizer sign(w), for comparison
normalised             :func:`normalised_qe`, :func:`normalised_qe_    QE / E[latent²]: unit-free, so sign (latent w)
                       sign` (+ measured)                              and BiPer (latent sin(ω0 w)) compare fairly
=====================  ==============================================  ============================================
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from biper_analysis import _validate as V
from biper_analysis import analytic as A
from biper_analysis.analytic import _qe_from_moments

#: Weights processed per chunk by the measured conventions (bounds memory).
_CHUNK = 1 << 22


# ----------------------------------------------------------------------------------------------- predicted
def qe_optimal_gamma(omega0: Any, b: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """QE at the optimal scale γ* = E|sin(ω0 w)| (= QE_min). Use when γ is a fitted per-tensor scale.

    >>> f"{qe_optimal_gamma(20.0, 0.05):.12f}"
    '0.102794353695'
    """
    return A.qe(omega0, b, None, prior=prior)


def qe_fixed_gamma(omega0: Any, gamma: Any, b: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """QE at a fixed, given γ (e.g. γ = 1: the binary weights ±1 themselves). Use when the scale is not fitted.

    >>> f"{qe_fixed_gamma(20.0, 0.6, 0.05):.12f}"
    '0.105801153564'
    """
    if gamma is None:
        raise ValueError("gamma is required for the fixed-γ convention; use qe_optimal_gamma for γ*")
    return A.qe(omega0, b, gamma, prior=prior)


def qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign-binarizer baseline E[(w − γ sign w)²] = 2b² − 2γb + γ² (Laplace; γ* = b gives b²). Units of w².

    >>> qe_sign(0.05)
    0.0025000000000000005
    """
    return A.qe_sign(b, gamma)


def normalised_qe(omega0: Any, b: Any = None, gamma: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """BiPer QE / E[sin²(ω0 w)]: unit-free, comparable with :func:`normalised_qe_sign`.

    >>> f"{normalised_qe(20.0, 0.05):.12f}"
    '0.256985884238'
    """
    if prior is None:
        return A.normalised_qe(omega0, b, gamma)
    with np.errstate(divide="ignore", invalid="ignore"):  # E sin² underflows to 0 only for ω0·scale ≲ 1e-154: NaN
        return V.scalar_or_array(np.asarray(A.qe(omega0, None, gamma, prior=prior)) /
                                 np.asarray(prior.expected_sin2(V.positive("omega0", omega0))), omega0)


def normalised_qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign baseline QE / E[w²] (E w² = 2b² under Laplace): 1/2 at γ* = b.

    >>> normalised_qe_sign(0.05)
    0.5
    """
    return A.normalised_qe_sign(b, gamma)


# ------------------------------------------------------------------------------------------------ measured
def _weights(weights: Any) -> np.ndarray:
    arr = V.as_float_array("weights", weights)
    if arr.size == 0:
        raise ValueError("weights is empty; pass a layer's weight array")
    return arr


def _sin_moments(w: np.ndarray, omega0: float) -> tuple[float, float]:
    """(mean sin²(ω0 w), mean |sin(ω0 w)|) over all of ``w``, float64, chunked."""
    flat = w.ravel()
    s2 = sa = 0.0
    for i in range(0, flat.size, _CHUNK):
        s = np.sin(omega0 * flat[i:i + _CHUNK])
        s2 += float(np.sum(s * s))
        sa += float(np.sum(np.abs(s)))
    return s2 / flat.size, sa / flat.size


def _omega(omega0: Any) -> float:
    arr = V.positive("omega0", omega0)
    if arr.ndim:
        raise ValueError("omega0 must be a single number for a measured convention")
    return float(arr)


def qe_measured(weights: Any, omega0: Any, gamma: Any = None) -> float:
    """QE measured on a weight array with one scale: γ given, or γ* = mean|sin(ω0 w)| when ``gamma=None``.

    >>> f"{qe_measured([0.01, -0.03, 0.07], 20.0, 1.0):.12f}"
    '0.277292909246'
    """
    e2, ea = _sin_moments(_weights(weights), _omega(omega0))
    return float(_qe_from_moments(e2, ea, None if gamma is None else float(V.nonnegative("gamma", gamma))))


def qe_per_channel(weights: Any, omega0: Any) -> dict[str, Any]:
    r"""Per-output-channel scale: γ_c = mean|sin(ω0 w)| over channel c of a weight array [C_out, ...].

    Returns ``{"qe": overall QE, "qe_per_channel": [C_out], "gamma_per_channel": [C_out]}``; every channel
    has the same number of weights, so the overall QE is the mean of the channel QEs. It is ≤ the single-γ*
    QE of :func:`qe_measured` (more scales fit better).

    >>> r = qe_per_channel([[0.01, 0.03], [0.07, -0.07]], 20.0)
    >>> f"{r['qe']:.12f}", float(r["qe_per_channel"][1])
    ('0.016742042638', 0.0)
    """
    w = _weights(weights)
    if w.ndim < 1:
        raise ValueError("weights must have an output-channel axis first, shape [C_out, ...]")
    w2 = w.reshape(w.shape[0], -1)
    om = _omega(omega0)
    mom = np.array([_sin_moments(row, om) for row in w2])
    q = _qe_from_moments(mom[:, 0], mom[:, 1], mom[:, 1])
    return {"qe": float(np.mean(q)), "qe_per_channel": q, "gamma_per_channel": mom[:, 1]}


def official_l1_layer(weights: Any, omega0: Any) -> float:
    """The official script's per-layer metric mean|sin(ω0 w) − sign(sin(ω0 w))| (γ = 1, L1), measured literally.

    Predicted under Laplace by :func:`biper_analysis.analytic.official_l1` = 1 − E|sin|.

    >>> f"{official_l1_layer([0.01, -0.03, 0.07], 20.0):.12f}"
    '0.417079488607'
    """
    w = _weights(weights).ravel()
    om = _omega(omega0)
    total = 0.0
    for i in range(0, w.size, _CHUNK):
        s = np.sin(om * w[i:i + _CHUNK])
        total += float(np.sum(np.abs(s - np.sign(s))))
    return total / w.size


def official_l1_summed(layers: Mapping[str, Any] | Iterable[Any], omega0: Any) -> dict[str, Any]:
    """The official script's report: per-layer L1 metric and b = mean|w|, each *summed* over layers.

    ``layers``: a mapping name → weights (or a sequence). Returns ``{"qe_sum", "b_sum", "n_layers",
    "per_layer": {name: {"l1", "b"}}}``. The sums grow with the number of layers, so they are not comparable
    across architectures; divide by ``n_layers`` for a mean.

    >>> r = official_l1_summed({"a": [0.01, -0.03], "b": [0.07]}, 20.0)
    >>> r["n_layers"], f"{r['b_sum']:.2f}"
    (2, '0.09')
    """
    items = list(layers.items()) if isinstance(layers, Mapping) else [(str(i), w) for i, w in enumerate(layers)]
    if not items:
        raise ValueError("layers is empty; pass at least one binarised layer's weights")
    per = {name: {"l1": official_l1_layer(w, omega0), "b": float(np.mean(np.abs(_weights(w))))}
           for name, w in items}
    return {"qe_sum": sum(v["l1"] for v in per.values()), "b_sum": sum(v["b"] for v in per.values()),
            "n_layers": len(per), "per_layer": per}


def qe_sign_measured(weights: Any, gamma: Any = None) -> float:
    """Sign baseline measured on weights: mean (w − γ sign w)², γ* = mean|w| when ``gamma=None``.

    >>> qe_sign_measured([1.0, -3.0])
    1.0
    """
    w = _weights(weights).ravel()
    e2, ea = float(np.mean(w * w)), float(np.mean(np.abs(w)))
    return float(_qe_from_moments(e2, ea, None if gamma is None else float(V.nonnegative("gamma", gamma))))


def normalised_qe_measured(weights: Any, omega0: Any, gamma: Any = None) -> float:
    """BiPer QE / mean sin²(ω0 w), measured on weights."""
    w = _weights(weights)
    e2, _ = _sin_moments(w, _omega(omega0))
    return qe_measured(w, omega0, gamma) / e2


def normalised_qe_sign_measured(weights: Any, gamma: Any = None) -> float:
    """Sign baseline QE / mean w², measured on weights (1 − (mean|w|)²/mean w² at γ*)."""
    w = _weights(weights).ravel()
    return qe_sign_measured(w, gamma) / float(np.mean(w * w))


def compare(omega0: float, b: float, gamma: float = 1.0) -> dict[str, float]:
    """All predicted conventions at one point (Laplace weights), for tables and reports.

    >>> c = compare(20.0, 0.05)
    >>> f"{c['official_l1_per_layer']:.6f}", c['normalised_qe_sign_optimal']
    ('0.454834', 0.5)
    """
    return {
        "qe_optimal": float(qe_optimal_gamma(omega0, b)),
        "qe_fixed": float(qe_fixed_gamma(omega0, gamma, b)),
        "gamma_fixed": float(gamma),
        "gamma_opt": float(A.optimal_gamma(omega0, b)),
        "official_l1_per_layer": float(A.official_l1(omega0, b)),
        "qe_sign_optimal": float(qe_sign(b)),
        "normalised_qe_optimal": float(normalised_qe(omega0, b)),
        "normalised_qe_fixed": float(normalised_qe(omega0, b, gamma)),
        "normalised_qe_sign_optimal": float(normalised_qe_sign(b)),
    }
