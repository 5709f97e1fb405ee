r"""One layer of the report: what the paper's closed form and each fitted weight law predict, next to the QE measured
on the layer's weights w, with S = sin(ω0 w) (the measured side is :func:`biper_analysis.theory.weights.weight_stats`;
QE from moments is :func:`biper_analysis.theory.analytic.qe_from_moments`).

Every law's entry (``row["models"][name]``) is built by the same code (:func:`_law_entry`): its parameters,
log-likelihood, AIC, BIC, KS distance, predicted moments, QE, official L1, rel. error, whether it is within
tolerance (:func:`biper_analysis.analysis.verdicts.within_tolerance`) and an out-of-sample check (fitted on the first
half of the layer's output channels, QE compared with the QE measured on the second half). Laws with a closed-form
fit (the registry's ``closed_form``: Laplace, Gaussian) are fitted on every weight from the layer's statistics, the
held-out fit from the first half's: no subsample, no iterations, so the default Laplace-only report costs one sort
and one statistics pass per layer. The iterative fits share one seeded subsample (:func:`biper_analysis.laws.fit_laws`).
The Laplace entry also gives the row's paper-baseline columns and its verdict
(:func:`biper_analysis.analysis.verdicts.laplace_verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biper_analysis._io.validation import renamed_argument
from biper_analysis.analysis import goodness as fitting
from biper_analysis.analysis.verdicts import best_law, combine_directions, laplace_verdict, rel_err, within_tolerance
from biper_analysis.laws import fit_laws, law_class, loglik
from biper_analysis.laws.fitting import fit_closed_form, subsample
from biper_analysis.laws.uncertainty import qe_prediction_se
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import (
    ChannelSE,
    WeightStats,
    channel_se,
    weight_drift,
    weight_faults,
    weight_stats,
)

__all__ = [
    "COLUMNS",
    "MAX_SAMPLES",
    "SE_SAMPLES",
    "HELDOUT_SAMPLES",
    "W_HIST_BINS",
    "LayerHistograms",
    "half_split",
    "analyze_layer",
]

#: Row columns, in table / CSV order.
COLUMNS = (
    "name",
    "n",
    "n_nonfinite",
    "b_loc0",
    "loc",
    "b",
    "b_ci_low",
    "b_ci_high",
    "ks_stat",
    "ks_critical",
    "ks_laplace_freeloc",
    "ks_gaussian",
    "gaussian_sigma",
    "delta_aic",
    "gamma",
    "gamma_pred",
    "gamma_emp",
    "qe_pred",
    "qe_pred_se",
    "qe_emp",
    "qe_emp_se",
    "rel_err",
    "laplace_verdict",
    "laplace_reasons",
    "best_model",
    "best_qe_pred",
    "best_rel_err",
    "official_l1",
    "official_l1_pred",
    "near_zero_frac",
    "near_zero_frac_laplace",
    "near_crest_frac",
    "near_crest_frac_laplace",
    "drift_corr",
    "drift_rel_change",
    "ref_qe_emp",
    "ref_rel_err",
)

#: Weights per layer on which the iterative maximum-likelihood fits run (seeded subsample; the estimates are stable
#: at this size: the parameters' sampling error is far below the layer-to-layer differences they are used for).
MAX_SAMPLES = 10000
#: Weights of the subsample on which the observed information (for the SE of a law's QE prediction) is estimated.
SE_SAMPLES = 5000
#: Weights of a half on which the laws fitted on the other half are scored (held-out log-likelihood per weight; a
#: seeded subsample, the same for every law, so the comparison between laws is paired). Halves up to this size are
#: scored whole; for larger ones the paired differences between laws are far above the subsample's noise, and
#: scoring every weight of a 10⁶-weight half under nine laws cost a third of fit-b --law all.
HELDOUT_SAMPLES = 100_000
#: Bins of the weight histogram kept for the plots.
W_HIST_BINS = 80


@dataclass
class LayerHistograms:
    """What the plots need, kept so the weights never have to be read twice."""

    w_edges: np.ndarray
    w_counts: np.ndarray
    sin_counts: np.ndarray
    phase_counts: np.ndarray
    phase_probs_laplace: np.ndarray


def half_split(w: Any) -> tuple[np.ndarray, np.ndarray]:
    """A layer's two halves for out-of-sample checks: the first and second half of its output channels (views, no
    copy; a law fitted on some channels must predict the others), or alternate weights of a 1-D tensor.

    >>> a, b = half_split(np.arange(12.0).reshape(4, 3))
    >>> a.tolist(), b.shape
    ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], (2, 3))
    """
    arr = np.asarray(w)
    if arr.ndim >= 2 and arr.shape[0] >= 2:
        h = arr.shape[0] // 2
        return arr[:h], arr[h:]
    flat = arr.ravel()
    return flat[0::2], flat[1::2]


@dataclass(frozen=True)
class _Half:
    """One half of a layer's output channels: its finite weights, statistics and channel-clustered SEs."""

    w: np.ndarray  # finite weights, flat
    stats: WeightStats
    se: ChannelSE
    scored: np.ndarray  # the weights a law fitted on the other half is scored on (held-out log-likelihood)

    def qe_se(self, gamma: float | None) -> float:
        """SE of the half's measured QE: the larger of the iid and the channel-clustered one."""
        return _larger(self.stats.qe_se(gamma), self.se.qe)


@dataclass(frozen=True)
class _Layer:
    """A layer's sorted finite weights and statistics, and those of its two halves (the out-of-sample split)."""

    s: np.ndarray  # sorted finite weights
    stats: WeightStats  # of every weight (pooled from the halves)
    se: ChannelSE  # channel-clustered SEs of the whole layer
    halves: tuple[_Half, _Half]  # first and second half of the output channels


def _larger(iid: float, clustered: float) -> float:
    """The larger of two SEs, ignoring a NaN one (a 1-D tensor has no channels)."""
    return iid if not math.isfinite(clustered) else max(iid, clustered)


def _fit_laws(
    names: Sequence[str], layer: _Layer, omega0: float, seed: int, max_samples: int
) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]]]:
    """({name: law fitted to the whole layer}, ({name: law fitted to the first half}, {... to the second half})); a
    half fit is None when the half cannot be fitted (e.g. only zeros).

    Closed-form laws from the statistics of the weights they are fitted to; the iterative MLEs each on one seeded
    subsample of at most ``max_samples`` of those weights (:func:`biper_analysis.laws.fit_laws`). A half's fits never
    see the other half.
    """
    closed = [m for m in names if law_class(m).closed_form()]
    iterative = [m for m in names if m not in closed]
    fitted = {m: fit_closed_form(m, layer.stats) for m in closed}
    halves = tuple({m: _or_none(fit_closed_form, m, h.stats) for m in closed} for h in layer.halves)
    if iterative:
        fitted.update(fit_laws(layer.s, omega0, iterative, max_samples=max_samples, seed=seed))
        for i, (h, out) in enumerate(zip(layer.halves, halves)):
            fits = _or_none(fit_laws, h.w, omega0, iterative, max_samples=max_samples, seed=seed + 1 + i)
            out.update(fits or dict.fromkeys(iterative))
    return {m: fitted[m] for m in names}, halves


def _or_none(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, or None when it refuses the data (e.g. a half of only zeros)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


def _prediction_se(law: Any, half: _Half, omega0: float, gamma: float | None) -> float:
    """SE of the QE a law fitted to ``half`` predicts. A closed-form law (one scale): its delta-method SE, widened
    by the channel design effect of b (channel-clustered over iid SE of mean|w|). An iterative law, flexible enough
    to follow its sample: the SE of the half's own measured QE (channel-clustered, or iid if larger)."""
    closed = law._qe_se_closed_form(omega0, gamma, half.stats.n)
    if closed is None:
        return half.qe_se(gamma)
    iid_b = math.sqrt(max(half.stats.mean_w2 - half.stats.b**2, 0.0) / half.stats.n) if half.stats.n else math.nan
    widen = half.se.b / iid_b if math.isfinite(half.se.b) and iid_b > 0 else 1.0
    return closed * max(1.0, widen)


def _direction(law: Any, train: _Half, test: _Half, omega0: float, gamma: float | None) -> dict[str, Any]:
    """A law fitted on one half predicting the QE of the other: prediction, measurement, their SE, errors and the
    held-out log-likelihood."""
    if law is None:
        return {
            "qe_pred": math.nan,
            "qe_emp": test.stats.qe(gamma),
            "se": math.nan,
            "rel_err": math.nan,
            "z": math.nan,
            "loglik": math.nan,
            "n_fit": 0,
            "n_test": test.stats.n,
            "n_scored": int(test.scored.size),
        }
    pred = float(analytic.qe_from_moments(*law.moments(omega0), gamma))
    emp = test.stats.qe(gamma)
    se = math.hypot(_prediction_se(law, train, omega0, gamma), test.qe_se(gamma))
    return {
        "qe_pred": pred,
        "qe_emp": emp,
        "se": se,
        "rel_err": rel_err(pred, emp),
        "z": (pred - emp) / se if se > 0 else math.nan,
        "loglik": loglik(law, test.scored),
        "n_fit": int(law.fit_info.get("n_fit", train.stats.n)),
        "n_test": test.stats.n,
        "n_scored": int(test.scored.size),
    }


def _out_of_sample(halves: tuple[Any, Any], layer: _Layer, omega0: float, gamma: float | None) -> dict[str, Any]:
    """Both directions (fitted on the first half → scored on the second, and back) and their combination
    (:func:`biper_analysis.analysis.verdicts.combine_directions`)."""
    a, b = layer.halves
    ab, ba = _direction(halves[0], a, b, omega0, gamma), _direction(halves[1], b, a, omega0, gamma)
    return {"a_to_b": ab, "b_to_a": ba, **combine_directions(ab, ba)}


def _law_entry(
    law: Any,
    halves: tuple[Any, Any],
    layer: _Layer,
    sub: np.ndarray,
    omega0: float,
    gamma: float | None,
    qe_emp: float,
    qe_emp_se: float,
) -> dict[str, Any]:
    """One law's entry: the out-of-sample comparison (what verdicts use) and, labelled ``in_sample``, the fit to the
    whole layer (parameters, log-likelihood, AIC/BIC on the shared subsample ``sub`` that every law is scored on,
    KS, predicted moments, QE, official L1)."""
    k = law.n_params
    ll = loglik(law, sub)
    e2, e1 = law.moments(omega0)
    qe_pred = float(analytic.qe_from_moments(e2, e1, gamma))
    return {
        "n_params": k,
        "params": dict(law.params),
        "loglik": ll,
        "n_loglik": int(sub.size),
        "aic": 2 * k - 2 * ll,
        "bic": k * math.log(sub.size) - 2 * ll,
        "ks": fitting.ks_distance_sorted(layer.s, law.cdf),
        "e_sin2_pred": e2,
        "e_abs_sin_pred": e1,
        "qe_pred": qe_pred,
        "qe_pred_se": law._qe_se_closed_form(omega0, gamma, layer.s.size),
        "official_l1_pred": 1.0 - e1,
        "rel_err": rel_err(qe_pred, qe_emp),
        "within_tol": within_tolerance(qe_pred, qe_emp, qe_emp_se),
        "fit_info": dict(law.fit_info),
        "oos": _out_of_sample(halves, layer, omega0, gamma),
    }


def _histograms(s: np.ndarray, fit: fitting.LayerFit, stats: Any, x: float) -> LayerHistograms:
    """Weight histogram over a robust range (the fitted Laplace's 1e-4 … 1−1e-4 quantiles, clipped to the data),
    counted by bisection of the sorted weights (no second pass), plus the phase and sine histograms."""
    half = max(fit.b * math.log(0.5 / 1e-4), 3 * fit.gaussian_sigma) if fit.b > 0 else 1.0
    lo_w, hi_w = max(float(s[0]), fit.loc - half), min(float(s[-1]), fit.loc + half)
    if not hi_w > lo_w:
        lo_w, hi_w = lo_w - 0.5, hi_w + 0.5
    w_edges = np.linspace(lo_w, hi_w, W_HIST_BINS + 1)
    w_counts = np.diff(np.searchsorted(s, w_edges.astype(s.dtype)))
    edges = np.linspace(0.0, math.pi, stats.phase_counts.size + 1)
    probs = analytic.laplace_phase_probs(x, edges) if x > 0 else np.zeros(stats.phase_counts.size)
    return LayerHistograms(
        w_edges=w_edges,
        w_counts=w_counts,
        sin_counts=stats.sin_counts,
        phase_counts=stats.phase_counts,
        phase_probs_laplace=probs,
    )


def _empty_row(name: str, n_nonfinite: int, gamma: float | None, fault: str | None = None) -> dict[str, Any]:
    """The row of a layer that is not analysed (every weight NaN/inf, or all finite weights equal: ``fault``)."""
    row: dict[str, Any] = {c: math.nan for c in COLUMNS}
    row.update(
        {
            "name": name,
            "n": 0,
            "n_nonfinite": n_nonfinite,
            "gamma": "opt" if gamma is None else gamma,
            "laplace_verdict": None,
            "laplace_reasons": [],
            "best_model": None,
            "models": {},
            "weight_fault": fault,
        }
    )
    return row


def _half(w: Any, omega0: float, gamma: float | None, seed: int) -> _Half:
    """The finite weights, statistics (with histograms, pooled into the layer's) and channel SEs of one half, and
    the weights its held-out log-likelihood is scored on (at most HELDOUT_SAMPLES, seeded)."""
    flat = np.ravel(w)
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    return _Half(
        w=finite,
        stats=weight_stats(w, omega0, histograms=True),
        se=channel_se(w, omega0, gamma),
        scored=subsample(finite, HELDOUT_SAMPLES, seed),
    )


def analyze_layer(
    name: str,
    w: Any,
    omega0: float,
    gamma: float | None,
    laws: Sequence[str] | None = None,
    *,
    reference: Any = None,
    seed: int = 0,
    max_samples: int = MAX_SAMPLES,
    models: Sequence[str] | None = None,
) -> tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]:
    """One report row, the histograms for plots, and the fitted laws {name: law} for one layer's weights.

    ``laws``: the laws to fit, Laplace first (default: Laplace only; ``models=`` is its deprecated name).
    """
    names = renamed_argument(laws, models, "laws", "models", "analyze_layer") or ("laplace",)
    s, n_nonfinite = fitting.sorted_finite(w)
    fault = weight_faults(w)
    if s.size == 0 or (fault is not None and fault.constant is not None):  # nothing whose spread means anything
        return _empty_row(name, n_nonfinite, gamma, None if fault is None else fault.describe()), None, {}
    # the statistics of the two halves (for the out-of-sample checks) pool exactly into the layer's own
    halves = tuple(_half(h, omega0, gamma, seed) for h in half_split(w))
    stats = halves[0].stats.pooled(halves[1].stats)
    layer = _Layer(s=s, stats=stats, se=channel_se(w, omega0, gamma), halves=halves)
    fit = fitting.fit_layer(s)
    b0 = stats.b
    x = omega0 * b0
    qe_emp, qe_emp_se = stats.qe(gamma), _larger(stats.qe_se(gamma), layer.se.qe)
    row: dict[str, Any] = {
        "name": name,
        "n_nonfinite": n_nonfinite,
        **fit.as_dict(),
        "b_loc0": b0,
        "b_ci_low": fit.b_ci[0],
        "b_ci_high": fit.b_ci[1],
        "gamma": "opt" if gamma is None else gamma,
    }
    entries: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    if b0 > 0:
        fitted, half_fits = _fit_laws(names, layer, omega0, seed, max_samples)
        sub = subsample(s, max_samples, seed)  # the weights every law's in-sample likelihood is scored on
        entries = {
            m: _law_entry(fitted[m], (half_fits[0][m], half_fits[1][m]), layer, sub, omega0, gamma, qe_emp, qe_emp_se)
            for m in fitted
        }
    lap = entries.get("laplace")
    qe_pred = lap["qe_pred"] if lap else (0.0 if gamma is None else gamma * gamma)  # all weights 0: QE = γ²
    ks = lap["ks"] if lap else 1.0
    ks_crit = fitting.ks_critical(s.size)
    verdict, reasons = laplace_verdict(ks, ks_crit, qe_pred, qe_emp, qe_emp_se)
    chosen = [m for m in names if m in entries]
    best = best_law(entries)
    in_best = min(chosen, key=lambda m: entries[m]["aic"]) if chosen else None
    if in_best is not None and entries[in_best]["qe_pred_se"] is None:  # uncertainty of the in-sample AIC-best
        entries[in_best]["qe_pred_se"] = qe_prediction_se(
            fitted[in_best], s, omega0, gamma, max_samples=SE_SAMPLES, seed=seed
        )
    oos = entries[best]["oos"] if best else {}
    row.update(
        {
            "ks_stat": ks,
            "ks_critical": ks_crit,
            "gamma_pred": lap["e_abs_sin_pred"] if lap else 0.0,
            "gamma_emp": stats.e_abs_sin,
            "e_sin2_emp": stats.e_sin2,
            "mean_w2": stats.mean_w2,
            "qe_pred": qe_pred,
            "qe_pred_se": lap["qe_pred_se"] if lap else math.nan,
            "qe_emp": qe_emp,
            "qe_emp_se": qe_emp_se,
            "qe_emp_se_iid": stats.qe_se(gamma),
            "qe_emp_se_channel": layer.se.qe,
            "n_channels": layer.se.n_channels,
            "qe_emp_se_method": (
                "larger of the iid delta-method SE" if gamma is None else "larger of the direct iid SE"
            )
            + " and the channel-clustered (CR1) SE",
            "rel_err": rel_err(qe_pred, qe_emp),
            "laplace_verdict": verdict,
            "laplace_reasons": reasons,
            "official_l1": stats.official_l1,
            "official_l1_pred": lap["official_l1_pred"] if lap else math.nan,
            "near_zero_frac": stats.near_zero_frac,
            "near_zero_frac_laplace": analytic.laplace_near_zero_frac(x) if x > 0 else math.nan,
            "near_crest_frac": stats.near_crest_frac,
            "near_crest_frac_laplace": analytic.laplace_near_crest_frac(x) if x > 0 else math.nan,
            "best_model": best,
            "best_qe_pred": oos.get("qe_pred", math.nan),
            "best_rel_err": oos.get("rel_err", math.nan),
            "best_qe_pred_se": oos.get("se", math.nan),
            "best_z": oos.get("z", math.nan),
            "best_within_tol": oos.get("within_tol"),
            "best_model_in_sample": in_best,
            "best_rel_err_in_sample": entries[in_best]["rel_err"] if in_best else math.nan,
            "models": {m: entries[m] for m in chosen},
            "phase_counts": stats.phase_counts.tolist(),
        }
    )
    if reference is not None:
        row.update(_reference_columns(reference, w, omega0, gamma))
    return row, _histograms(s, fit, stats, x), {m: fitted[m] for m in chosen}


def _reference_columns(reference: Any, w: Any, omega0: float, gamma: float | None) -> dict[str, Any]:
    """Drift from the reference weights of the same layer and the reference's own Laplace comparison, from the
    reference's finite weights (and the finite pairs, for the drift); ``ref_weight_fault`` says what was left out."""
    fault = weight_faults(reference)
    columns: dict[str, Any] = {"ref_weight_fault": None if fault is None else fault.describe()}
    ref_sorted, _ = fitting.sorted_finite(reference)
    if ref_sorted.size == 0:
        nan = math.nan
        return {
            **columns,
            "drift_corr": nan,
            "drift_rel_change": nan,
            "ref_b": nan,
            "ref_qe_emp": nan,
            "ref_qe_pred": nan,
            "ref_rel_err": nan,
            "ref_ks_stat": nan,
            "ref_laplace_verdict": None,
            "ref_near_zero_frac": nan,
            "ref_near_crest_frac": nan,
        }
    drift = weight_drift(w, reference)
    ref = weight_stats(ref_sorted, omega0)
    ref_emp, ref_se = ref.qe(gamma), ref.qe_se(gamma)
    ref_pred = float(analytic.qe(omega0, ref.b, gamma)) if ref.b > 0 else math.nan
    ref_ks = fitting.ks_laplace_sorted(ref_sorted, 0.0, ref.b)
    verdict, _ = laplace_verdict(ref_ks, fitting.ks_critical(ref.n), ref_pred, ref_emp, ref_se)
    return {
        **columns,
        "drift_corr": drift.correlation,
        "drift_rel_change": drift.relative_change,
        "ref_b": ref.b,
        "ref_qe_emp": ref_emp,
        "ref_qe_pred": ref_pred,
        "ref_rel_err": rel_err(ref_pred, ref_emp),
        "ref_ks_stat": ref_ks,
        "ref_laplace_verdict": verdict,
        "ref_near_zero_frac": ref.near_zero_frac,
        "ref_near_crest_frac": ref.near_crest_frac,
    }
