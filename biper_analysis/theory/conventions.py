r"""The γ conventions users meet, side by side: one function per convention, each saying when it applies.

All BiPer conventions are the same quantity :math:`E[(|\sin(\omega_0 w)| - \gamma)^2]` (QE, computed from the
two moments by :func:`biper_analysis.theory.analytic.qe_from_moments`) with a different choice of γ, except the
official script's metric (``cifar10/vis_get_QE.py`` of the official repository), which is an L1 error at
γ = 1 summed over layers. The measured side of each convention is
:func:`biper_analysis.theory.weights.weight_stats` of the weights.

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

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from biper_analysis._io import validation
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import WeightStats, weight_stats

__all__ = [
    "qe_optimal_gamma",
    "qe_fixed_gamma",
    "qe_sign",
    "normalised_qe",
    "normalised_qe_sign",
    "qe_measured",
    "qe_per_channel",
    "official_l1_layer",
    "official_l1_summed",
    "qe_sign_measured",
    "normalised_qe_measured",
    "normalised_qe_sign_measured",
    "compare",
]


# ----------------------------------------------------------------------------------------------- predicted
def qe_optimal_gamma(omega0: Any, b: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """QE at the optimal scale γ* = E|sin(ω0 w)| (= QE_min). Use when γ is a fitted per-tensor scale.

    >>> f"{qe_optimal_gamma(20.0, 0.05):.12f}"
    '0.102794353695'
    """
    return analytic.qe(omega0, b, None, prior=prior)


def qe_fixed_gamma(omega0: Any, gamma: Any, b: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """QE at a fixed, given γ (e.g. γ = 1: the binary weights ±1 themselves). Use when the scale is not fitted.

    >>> f"{qe_fixed_gamma(20.0, 0.6, 0.05):.12f}"
    '0.105801153564'
    """
    if gamma is None:
        raise ValueError("gamma is required for the fixed-γ convention; use qe_optimal_gamma for γ*")
    return analytic.qe(omega0, b, gamma, prior=prior)


def qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign-binarizer baseline E[(w − γ sign w)²] = 2b² − 2γb + γ² (Laplace; γ* = b gives b²). Units of w².

    >>> qe_sign(0.05)
    0.0025000000000000005
    """
    return analytic.qe_sign(b, gamma)


def normalised_qe(omega0: Any, b: Any = None, gamma: Any = None, *, prior: Any = None) -> float | np.ndarray:
    """BiPer QE / E[sin²(ω0 w)]: unit-free, comparable with :func:`normalised_qe_sign`.

    >>> f"{normalised_qe(20.0, 0.05):.12f}"
    '0.256985884238'
    """
    if prior is None:
        return analytic.normalised_qe(omega0, b, gamma)
    with np.errstate(divide="ignore", invalid="ignore"):  # E sin² underflows to 0 only for ω0·scale ≲ 1e-154: NaN
        return validation.scalar_or_array(
            np.asarray(analytic.qe(omega0, None, gamma, prior=prior))
            / np.asarray(prior.expected_sin2(validation.positive("omega0", omega0))),
            omega0,
        )


def normalised_qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign baseline QE / E[w²] (E w² = 2b² under Laplace): 1/2 at γ* = b.

    >>> normalised_qe_sign(0.05)
    0.5
    """
    return analytic.normalised_qe_sign(b, gamma)


# ------------------------------------------------------------------------------------------------ measured
def _stats(weights: Any, omega0: Any = None) -> WeightStats:
    """weight_stats of a user's array, with the conventions' argument checks."""
    w = validation.as_float_array("weights", weights)
    if w.size == 0:
        raise ValueError("weights is empty; pass a layer's weight array")
    if omega0 is None:
        return weight_stats(w)
    om = validation.positive("omega0", omega0)
    if om.ndim:
        raise ValueError("omega0 must be a single number for a measured convention")
    return weight_stats(w, float(om))


def _gamma(gamma: Any) -> float | None:
    return None if gamma is None else float(validation.nonnegative("gamma", gamma))


def qe_measured(weights: Any, omega0: Any, gamma: Any = None) -> float:
    """QE measured on a weight array with one scale: γ given, or γ* = mean|sin(ω0 w)| when ``gamma=None``.

    >>> f"{qe_measured([0.01, -0.03, 0.07], 20.0, 1.0):.12f}"
    '0.277292909246'
    """
    return _stats(weights, omega0).qe(_gamma(gamma))


def qe_per_channel(weights: Any, omega0: Any) -> dict[str, Any]:
    r"""Per-output-channel scale: γ_c = mean|sin(ω0 w)| over channel c of a weight array [C_out, ...].

    Returns ``{"qe": overall QE, "qe_per_channel": [C_out], "gamma_per_channel": [C_out]}``; every channel
    has the same number of weights, so the overall QE is the mean of the channel QEs. It is ≤ the single-γ*
    QE of :func:`qe_measured` (more scales fit better).

    >>> r = qe_per_channel([[0.01, 0.03], [0.07, -0.07]], 20.0)
    >>> f"{r['qe']:.12f}", float(r["qe_per_channel"][1])
    ('0.016742042638', 0.0)
    """
    w = validation.as_float_array("weights", weights)
    if w.ndim < 1 or w.size == 0:
        raise ValueError("weights must have an output-channel axis first, shape [C_out, ...]")
    per = [_stats(row, omega0) for row in w.reshape(w.shape[0], -1)]
    q = np.array([st.qe() for st in per])
    return {"qe": float(np.mean(q)), "qe_per_channel": q, "gamma_per_channel": np.array([st.e_abs_sin for st in per])}


def official_l1_layer(weights: Any, omega0: Any) -> float:
    """The official script's per-layer metric mean|sin(ω0 w) − sign(sin(ω0 w))| (γ = 1, L1), measured literally.

    Predicted under Laplace by :func:`biper_analysis.theory.analytic.official_l1` = 1 − E|sin|.

    >>> f"{official_l1_layer([0.01, -0.03, 0.07], 20.0):.12f}"
    '0.417079488607'
    """
    return _stats(weights, omega0).official_l1


def official_l1_summed(layers: Mapping[str, Any] | Iterable[Any], omega0: Any) -> dict[str, Any]:
    """The official script's report (``cifar10/vis_get_QE.py``): per-layer L1 metric and b = mean|w|, each
    *summed* over layers.

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
    stats = {name: _stats(w, omega0) for name, w in items}
    per = {name: {"l1": st.official_l1, "b": st.b} for name, st in stats.items()}
    return {
        "qe_sum": sum(v["l1"] for v in per.values()),
        "b_sum": sum(v["b"] for v in per.values()),
        "n_layers": len(per),
        "per_layer": per,
    }


def qe_sign_measured(weights: Any, gamma: Any = None) -> float:
    """Sign baseline measured on weights: mean (w − γ sign w)², γ* = mean|w| when ``gamma=None``.

    >>> qe_sign_measured([1.0, -3.0])
    1.0
    """
    return _stats(weights).qe_sign(_gamma(gamma))


def normalised_qe_measured(weights: Any, omega0: Any, gamma: Any = None) -> float:
    """BiPer QE / mean sin²(ω0 w), measured on weights."""
    return _stats(weights, omega0).normalised_qe(_gamma(gamma))


def normalised_qe_sign_measured(weights: Any, gamma: Any = None) -> float:
    """Sign baseline QE / mean w², measured on weights (1 − (mean|w|)²/mean w² at γ*)."""
    return _stats(weights).normalised_qe_sign(_gamma(gamma))


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
        "gamma_opt": float(analytic.optimal_gamma(omega0, b)),
        "official_l1_per_layer": float(analytic.official_l1(omega0, b)),
        "qe_sign_optimal": float(qe_sign(b)),
        "normalised_qe_optimal": float(normalised_qe(omega0, b)),
        "normalised_qe_fixed": float(normalised_qe(omega0, b, gamma)),
        "normalised_qe_sign_optimal": float(normalised_qe_sign(b)),
    }
