r"""Per-layer report: what the paper's closed form (weights ~ Laplace(0, b)) and each fitted weight law predict,
next to the QE measured on the real weights — and a verdict that says when the Laplace model does not fit.

For each binarised layer with weights w and S = sin(ω0 w) (the measured side is
:func:`biper_analysis.theory.weights.weight_stats`; QE from moments is
:func:`biper_analysis.theory.analytic.qe_from_moments`):

* the Laplace columns, the paper's baseline: ``b_loc0`` = mean|w| (MLE of Laplace(0, b)); ``qe_pred`` = the
  closed form at b_loc0 (QE_min with γ = "opt"); ``qe_emp`` ± ``qe_emp_se`` measured on the weights (delta method
  at γ*, the direct sd/√n at a fixed γ); ``rel_err`` = (qe_pred − qe_emp)/qe_emp; ``ks_stat`` = the KS distance
  to Laplace(0, b_loc0), the law behind qe_pred; ``near_zero_frac`` (phase within π/8 of a zero of sin) next to
  ``near_zero_frac_laplace``, and ``near_crest_frac`` (within π/8 of a crest of |sin|, where the gradient through
  the sine vanishes) next to ``near_crest_frac_laplace``; ``official_l1`` = mean|S − sign S| measured and
  ``official_l1_pred`` under Laplace.
* free-location diagnostics (:mod:`biper_analysis.analysis.goodness`): ``loc``, ``b`` with ``b_ci``,
  ``ks_laplace_freeloc``, the Gaussian fit and ``delta_aic`` = AIC_Laplace − AIC_Gaussian (negative favours
  Laplace).
* ``laplace_verdict`` "ok" | "misfit" with ``laplace_reasons``: misfit when the KS distance exceeds its α = 0.001
  critical value (≈ 1.949/√n) or |qe_pred − qe_emp| > max(3 SE, 10 % of qe_emp). Every misfit layer is named in
  the report's ``warnings``.
* ``models``: for each fitted law (:mod:`biper_analysis.laws`; ``laplace`` alone by default) its parameters,
  log-likelihood, AIC, BIC, KS distance, predicted moments, QE, official L1, rel. error, and an out-of-sample check
  (fitted on the first half of the layer's output channels, QE compared with the QE measured on the second half).
  ``best_model`` is the AIC-best law; ``best_qe_pred``, ``best_rel_err`` its prediction and ``best_qe_pred_se``
  its standard error (delta method on the law's MLE; Laplace: from SE(b) = b/√n).
* with a ``reference`` checkpoint (the run's initial weights, or stage 1's best): ``drift_corr``,
  ``drift_rel_change`` and the reference's own measured QE and Laplace rel. error, so that what training did
  is not confused with what the initialisation already was.

Totals: the official script's *sums* over layers of official_l1 (measured, and predicted by each law) and of
mean|w|; weight-count-weighted QE; the weighted and unweighted mean |rel err| and the worst layer.

No KS p-value is reported: with the parameters fitted on the same data the textbook p-value is wrong, and at
10⁵–10⁶ weights any test rejects. The KS *distance* is compared with the asymptotic critical value as a flag.
"""
from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.jsonio import jsonable
from biper_analysis._io.provenance import provenance
from biper_analysis._io.reproducible import pinned_environment
from biper_analysis._io.validation import parse_gamma
from biper_analysis.analysis import goodness as fitting
from biper_analysis.analysis.checkpoints import CheckpointError, describe, load_checkpoint
from biper_analysis.laws.priors import Laplace
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_drift, weight_stats

__all__ = ["SCHEMA_VERSION", "COLUMNS", "QE_REL_TOL", "QE_SE_K", "LayerHistograms", "CheckpointReport",
           "laplace_verdict", "crest_density_ratio", "crest_excess_z", "CREST_RATIO", "CREST_Z", "half_split",
           "analyze_layer", "analyze_checkpoint", "model_list"]

#: Version of the JSON/CSV layout (2: verdicts, models, KS against Laplace(0, b_loc0), reference drift).
SCHEMA_VERSION = 2
#: The Laplace QE prediction must be within max(QE_SE_K standard errors, QE_REL_TOL of the measured QE).
QE_REL_TOL = 0.10
QE_SE_K = 3.0
#: Tolerance of the "predicts this layer" count per law: max(5 %, 2 SE of the measured QE).
FIT_REL_TOL, FIT_SE_K = 0.05, 2.0
#: Weights per layer on which the iterative maximum-likelihood fits run (seeded subsample; the estimates are stable
#: at this size: the parameters' sampling error is far below the layer-to-layer differences they are used for).
MAX_SAMPLES = 10000
#: Weights of the subsample on which the observed information (for the SE of a law's QE prediction) is estimated.
SE_SAMPLES = 5000
#: A layer is warned about weights piled up at the crests of |sin(ω0 w)| when the phase density near the crests is
#: more than CREST_RATIO times the density between the crest and zero windows (:func:`crest_density_ratio`), and
#: significantly so: given the weights in the two windows, the crest count exceeds what that ratio allows by more than
#: CREST_Z binomial standard deviations (one-sided α ≈ 1e-4), with at least CREST_MIN_COUNT weights near the crests.
#: Laplace and Gaussian weights have a phase density that falls from the zeros to the crests (ratio ≤ 1); a uniform
#: law can reach 2; a peak where the gradient through the sine vanishes gives 10–40 (the sweep's ω0 = 60 layers).
CREST_RATIO, CREST_Z, CREST_MIN_COUNT = 3.0, 3.72, 20
#: Row columns, in table / CSV order.
COLUMNS = ("name", "n", "n_nonfinite", "b_loc0", "loc", "b", "b_ci_low", "b_ci_high", "ks_stat", "ks_critical",
           "ks_laplace_freeloc", "ks_gaussian", "gaussian_sigma", "delta_aic", "gamma", "gamma_pred", "gamma_emp",
           "qe_pred", "qe_pred_se", "qe_emp", "qe_emp_se", "rel_err", "laplace_verdict", "laplace_reasons",
           "best_model", "best_qe_pred", "best_rel_err", "official_l1", "official_l1_pred", "near_zero_frac",
           "near_zero_frac_laplace", "near_crest_frac", "near_crest_frac_laplace", "drift_corr", "drift_rel_change",
           "ref_qe_emp", "ref_rel_err")
W_HIST_BINS = 80


@dataclass
class LayerHistograms:
    """What the plots need, kept so the weights never have to be read twice."""

    w_edges: np.ndarray
    w_counts: np.ndarray
    sin_counts: np.ndarray
    phase_counts: np.ndarray
    phase_probs_laplace: np.ndarray


@dataclass
class CheckpointReport:
    """Rows per layer, totals and provenance; ``to_dict`` is the JSON object the CLI prints."""

    omega0: float
    gamma: float | None
    checkpoint: dict[str, Any]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    models: tuple[str, ...] = ("laplace",)
    warnings: list[str] = field(default_factory=list)
    histograms: dict[str, LayerHistograms] = field(default_factory=dict, repr=False)
    laws: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)   # layer -> model -> law
    reference: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"schema_version": SCHEMA_VERSION, "omega0": self.omega0,
                         "gamma": "opt" if self.gamma is None else self.gamma, "models": list(self.models),
                         "checkpoint": self.checkpoint, "reference": self.reference, "layers": self.rows,
                         "totals": self.totals, "warnings": self.warnings, "provenance": self.provenance})

    def laws_dict(self) -> dict[str, Any]:
        """The fitted laws as JSON (``fit-b --save-laws``; read back by ``qe --law FILE:LAYER``)."""
        from biper_analysis.laws.lawfile import law_to_dict

        layers = {}
        for row in self.rows:
            fitted = self.laws.get(row["name"], {})
            if fitted:
                layers[row["name"]] = {"best_model": row.get("best_model"),
                                       "laws": {m: law_to_dict(law) for m, law in fitted.items()}}
        return jsonable({"schema_version": SCHEMA_VERSION, "omega0": self.omega0, "layers": layers,
                         "checkpoint": self.checkpoint, "provenance": self.provenance})

    def to_csv(self) -> str:
        buf = io.StringIO()
        # line 1: provenance as a comment (the same convention as sweep CSVs; pandas: comment="#")
        buf.write("# provenance: " + json.dumps({**self.provenance, "schema_version": SCHEMA_VERSION,
                                                 "checkpoint": self.checkpoint}, sort_keys=True, default=str) + "\n")
        extra = [f"{m}_{k}" for m in self.models for k in ("qe_pred", "rel_err", "aic", "ks", "oos_rel_err")]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(list(COLUMNS) + extra)
        for row in self.rows:
            cells = [_csv_cell(row.get(c)) for c in COLUMNS]
            models = row.get("models", {})
            for m in self.models:
                entry = models.get(m, {})
                cells += [_csv_cell(entry.get("qe_pred")), _csv_cell(entry.get("rel_err")),
                          _csv_cell(entry.get("aic")), _csv_cell(entry.get("ks")),
                          _csv_cell(entry.get("oos", {}).get("rel_err"))]
            writer.writerow(cells)
        return buf.getvalue()

    def table(self) -> str:
        """An aligned text table, one row per layer, then the totals and warnings. Headers are the JSON/CSV column
        names; the longer ones are abbreviated and a legend line under the table maps each abbreviation to its
        name. ``rel_err`` columns are fractions ((predicted − measured)/measured), as in the JSON, the CSV and the
        warnings."""
        cols = [("name", "name", "s"), ("n", "n", "d"), ("b_loc0", "b_loc0", ".4g"),
                ("ks_stat", "ks_stat", ".3f"), ("ks_critical", "ks_crit", ".3f"), ("qe_pred", "qe_pred", ".5f"),
                ("qe_emp", "qe_emp", ".5f"), ("qe_emp_se", "qe_se", ".1e"), ("rel_err", "rel_err", "+.3f"),
                ("laplace_verdict", "verdict", "s"), ("near_zero_frac", "nz", ".3f"),
                ("near_zero_frac_laplace", "nz_lap", ".3f"), ("near_crest_frac", "crest", ".3f"),
                ("near_crest_frac_laplace", "crest_lap", ".3f")]
        if len(self.models) > 1:
            cols += [("best_model", "best", "s"), ("best_rel_err", "best_err", "+.3f")]
        if self.reference is not None:
            cols += [("drift_corr", "corr_ref", ".3f"), ("drift_rel_change", "chg_ref", ".3f"),
                     ("ref_rel_err", "ref_err", "+.3f")]
        lines = _aligned([[h for _, h, _ in cols]] + [[_fmt(r.get(k), f) for k, _, f in cols] for r in self.rows])
        lines.append("columns (JSON/CSV names): " + ", ".join(f"{h} = {k}" for k, h, _ in cols if h != k)
                     + "; rel_err columns are fractions")
        t = self.totals
        g = "opt (each side its own γ*)" if self.gamma is None else f"{self.gamma:g}"
        worst = t.get("worst_layer") or {}
        lines += [
            "",
            f"ω0 = {self.omega0:g} ({self.checkpoint.get('omega0_source')}), γ = {g}; {t['n_layers']} layers, "
            f"{t['n_weights']} weights; layers selected by {self.checkpoint.get('layer_selection')}",
            f"Laplace(0, b) closed form: {t['n_misfit']}/{t['n_layers_analysed']} layers misfit (ks_stat above its "
            f"0.1 % critical value, or |qe_pred − qe_emp| above max(3 qe_se, {QE_REL_TOL:.2f} qe_emp)); mean "
            f"|rel_err| {t['mean_abs_rel_err']:.3f} unweighted, {t['mean_abs_rel_err_weighted']:.3f} weighted by "
            f"layer size; worst {worst.get('name', '-')} ({_fmt(worst.get('rel_err'), '+.3f')})",
            f"weighted mean QE: predicted {t['qe_pred_weighted']:.6f}, measured {t['qe_emp_weighted']:.6f} "
            f"(rel_err {t['rel_err_weighted']:+.4f}); Laplace less bad than a Gaussian (AIC) in "
            f"{t['n_laplace_favoured']}/{t['n_layers_analysed']} layers",
            f"official script: summed L1 QE {t['official_l1_sum']:.6f} measured, "
            + ", ".join(f"{m} {v:.6f}" for m, v in t["official_l1_sum_pred"].items())
            + f" predicted; summed mean|w| {t['b_loc0_sum']:.6f}",
        ]
        if len(self.models) > 1:
            lines.append(f"laws (|qe_pred − qe_emp| within max({FIT_REL_TOL:.2f} qe_emp, 2 qe_se) / layers; "
                         "AIC-best count): " + "; ".join(
                f"{m} {t['models'][m]['n_within_tol']}/{t['n_layers_analysed']}, best in "
                f"{t['models'][m]['n_best']}" for m in self.models))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _aligned(table: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in table]


def _fmt(v: Any, f: str) -> str:
    if v is None:
        return "-"
    if f == "s":
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan"
    return format(v, f)


def _csv_cell(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    if isinstance(v, (list, tuple)):
        return "; ".join(str(x) for x in v)
    return "" if v is None else v


def _rel(pred: float, emp: float) -> float:
    return (pred - emp) / emp if emp != 0 and math.isfinite(emp) else math.nan


# ---------------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------------
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
                       f"(rel_err {_rel(qe_pred, qe_emp):+.3f}; tolerance max(3 SE, {QE_REL_TOL:.2f} × measured))")
    return ("misfit" if reasons else "ok"), reasons


def _laplace_qe_se(omega0: float, b: float, gamma: float | None, n: int) -> float:
    """SE of the Laplace prediction from the SE of b̂ = mean|w| (b/√n): |dQE/db|·b/√n = |ω0·dQE/dω0|/√n."""
    return abs(omega0 * float(analytic.dqe_domega0(omega0, b, gamma))) / math.sqrt(n)


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


def _model_entries(models: Sequence[str], s: np.ndarray, omega0: float, gamma: float | None, qe_emp: float,
                   qe_emp_se: float, halves: tuple[np.ndarray, Any], seed: int, max_samples: int
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The laws ``models`` fitted to the layer: parameters, fit quality, predictions and out-of-sample checks.

    The iterative MLEs run on one seeded subsample of ``max_samples`` weights (:func:`biper_analysis.laws.fit_laws`).
    When the layer's first half alone holds that many, the subsample is drawn from it and the same fits are the
    out-of-sample ones (they never saw the second half); smaller layers are fitted twice, on all weights and on the
    first half.
    """
    from biper_analysis import laws

    if not models:
        return {}, {}
    first, second_stats = halves
    big = np.size(first) >= max_samples
    fitted = laws.fit_laws(first if big else s, omega0, models, max_samples=max_samples, seed=seed)
    held_out = fitted if big else laws.fit_laws(first, omega0, models, max_samples=max_samples, seed=seed + 1)
    oos_emp, oos_se = second_stats.qe(gamma), second_stats.qe_se(gamma)
    entries = {}
    for model, law in fitted.items():
        n, k = s.size, laws.n_params(law)
        loglik = laws.loglik(law, s)
        e2, e1 = float(law.expected_sin2(omega0)), float(law.expected_abs_sin(omega0))
        qe_pred = float(analytic.qe_from_moments(e2, e1, gamma))
        other = held_out[model]
        oos_pred = float(analytic.qe_from_moments(float(other.expected_sin2(omega0)),
                                                  float(other.expected_abs_sin(omega0)), gamma))
        entries[model] = {
            "n_params": k, "params": dict(law.params), "loglik": loglik, "aic": 2 * k - 2 * loglik,
            "bic": k * math.log(n) - 2 * loglik, "ks": fitting.ks_distance_sorted(s, law.cdf),
            "e_sin2_pred": e2, "e_abs_sin_pred": e1, "qe_pred": qe_pred, "qe_pred_se": None,
            "official_l1_pred": 1.0 - e1, "rel_err": _rel(qe_pred, qe_emp),
            "within_tol": abs(qe_pred - qe_emp) <= max(FIT_REL_TOL * qe_emp, FIT_SE_K * qe_emp_se),
            "fit_info": dict(getattr(law, "fit_info", {}) or {}),
            "oos": {"n_fit": int(other.fit_info.get("n_fit", np.size(first))), "n_test": second_stats.n,
                    "qe_pred": oos_pred, "qe_emp": oos_emp, "qe_emp_se": oos_se, "rel_err": _rel(oos_pred, oos_emp),
                    "z": (oos_pred - oos_emp) / oos_se if oos_se > 0 else math.nan}}
    return entries, fitted


def _prediction_se(model: str, law: Any, s: np.ndarray, omega0: float, gamma: float | None, seed: int) -> float:
    """SE of a law's QE prediction from the sampling error of its parameters (delta method; closed form for
    Laplace)."""
    from biper_analysis import laws

    if model == "laplace":
        return _laplace_qe_se(omega0, law.b, gamma, s.size)
    return laws.qe_prediction_se(law, s, omega0, gamma, max_samples=SE_SAMPLES, seed=seed)


def _laplace_entry(s: np.ndarray, b: float, omega0: float, gamma: float | None, qe_emp: float, qe_emp_se: float,
                   halves: tuple[Any, Any]) -> tuple[dict[str, Any], Laplace]:
    """The Laplace(0, b) law in closed form (the default model: as fast as the report itself)."""
    n = s.size
    loglik = -n * math.log(2.0 * b) - n            # at the MLE b = mean|w|: Σ|w|/b = n
    e2, e1 = float(analytic.expected_sin2(omega0, b)), float(analytic.expected_abs_sin(omega0, b))
    qe_pred = float(analytic.qe_from_moments(e2, e1, gamma))
    train_stats, test_stats = halves
    oos_pred = float(analytic.qe(omega0, train_stats.b, gamma)) if train_stats.b > 0 else math.nan
    oos_emp, oos_se = test_stats.qe(gamma), test_stats.qe_se(gamma)
    entry = {"n_params": 1, "params": {"b": b}, "loglik": loglik, "aic": 2 - 2 * loglik,
             "bic": math.log(n) - 2 * loglik, "ks": fitting.ks_laplace_sorted(s, 0.0, b),
             "e_sin2_pred": e2, "e_abs_sin_pred": e1, "qe_pred": qe_pred,
             "qe_pred_se": _laplace_qe_se(omega0, b, gamma, n), "official_l1_pred": 1.0 - e1,
             "rel_err": _rel(qe_pred, qe_emp),
             "within_tol": abs(qe_pred - qe_emp) <= max(FIT_REL_TOL * qe_emp, FIT_SE_K * qe_emp_se),
             "fit_info": {"n_fit": n, "method": "closed form b = mean|w|"},
             "oos": {"n_fit": train_stats.n, "n_test": test_stats.n, "qe_pred": oos_pred, "qe_emp": oos_emp,
                     "qe_emp_se": oos_se, "rel_err": _rel(oos_pred, oos_emp),
                     "z": (oos_pred - oos_emp) / oos_se if oos_se > 0 else math.nan}}
    return entry, Laplace(b)


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
    return LayerHistograms(w_edges=w_edges, w_counts=w_counts, sin_counts=stats.sin_counts,
                           phase_counts=stats.phase_counts, phase_probs_laplace=probs)


def _empty_row(name: str, n_nonfinite: int, gamma: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {c: math.nan for c in COLUMNS}
    row.update({"name": name, "n": 0, "n_nonfinite": n_nonfinite, "gamma": "opt" if gamma is None else gamma,
                "laplace_verdict": None, "laplace_reasons": [], "best_model": None, "models": {}})
    return row


def analyze_layer(name: str, w: Any, omega0: float, gamma: float | None, models: Sequence[str] = ("laplace",),
                  *, reference: Any = None, seed: int = 0, max_samples: int = MAX_SAMPLES
                  ) -> tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]:
    """One report row, the histograms for plots, and the fitted laws {model: law} for one layer's weights."""
    s, n_nonfinite = fitting.sorted_finite(w)
    if s.size == 0:
        return _empty_row(name, n_nonfinite, gamma), None, {}
    # the statistics of the two halves (for the out-of-sample checks) pool exactly into the layer's own
    first, second = half_split(w)
    first_stats, second_stats = (weight_stats(h, omega0, histograms=True) for h in (first, second))
    stats = first_stats.pooled(second_stats)
    fit = fitting.fit_layer(s)
    b0 = stats.b
    x = omega0 * b0
    qe_emp, qe_emp_se = stats.qe(gamma), stats.qe_se(gamma)
    row: dict[str, Any] = {"name": name, "n_nonfinite": n_nonfinite, **fit.as_dict(), "b_loc0": b0,
                           "b_ci_low": fit.b_ci[0], "b_ci_high": fit.b_ci[1],
                           "gamma": "opt" if gamma is None else gamma}
    entries: dict[str, Any] = {}
    laws: dict[str, Any] = {}
    if b0 > 0:
        entries["laplace"], laws["laplace"] = _laplace_entry(s, b0, omega0, gamma, qe_emp, qe_emp_se,
                                                             (first_stats, second_stats))
    if b0 > 0:
        more, fitted = _model_entries([m for m in models if m != "laplace"], s, omega0, gamma, qe_emp, qe_emp_se,
                                      (first, second_stats), seed, max_samples)
        entries.update(more)
        laws.update(fitted)
    lap = entries.get("laplace")
    qe_pred = lap["qe_pred"] if lap else (0.0 if gamma is None else gamma * gamma)   # all weights 0: QE = γ²
    ks = lap["ks"] if lap else 1.0
    ks_crit = fitting.ks_critical(s.size)
    verdict, reasons = laplace_verdict(ks, ks_crit, qe_pred, qe_emp, qe_emp_se)
    chosen = [m for m in models if m in entries]
    best = min(chosen, key=lambda m: entries[m]["aic"]) if chosen else None
    if best is not None and best != "laplace":     # the uncertainty of the best law's prediction (Laplace: above)
        entries[best]["qe_pred_se"] = _prediction_se(best, laws[best], s, omega0, gamma, seed)
    row.update({
        "ks_stat": ks, "ks_critical": ks_crit, "gamma_pred": lap["e_abs_sin_pred"] if lap else 0.0,
        "gamma_emp": stats.e_abs_sin, "e_sin2_emp": stats.e_sin2, "mean_w2": stats.mean_w2, "qe_pred": qe_pred,
        "qe_pred_se": lap["qe_pred_se"] if lap else math.nan,
        "qe_emp": qe_emp, "qe_emp_se": qe_emp_se, "qe_emp_se_method": "delta-method" if gamma is None else "direct",
        "rel_err": _rel(qe_pred, qe_emp), "laplace_verdict": verdict, "laplace_reasons": reasons,
        "official_l1": stats.official_l1, "official_l1_pred": lap["official_l1_pred"] if lap else math.nan,
        "near_zero_frac": stats.near_zero_frac,
        "near_zero_frac_laplace": analytic.laplace_near_zero_frac(x) if x > 0 else math.nan,
        "near_crest_frac": stats.near_crest_frac,
        "near_crest_frac_laplace": analytic.laplace_near_crest_frac(x) if x > 0 else math.nan,
        "best_model": best, "best_qe_pred": entries[best]["qe_pred"] if best else math.nan,
        "best_rel_err": entries[best]["rel_err"] if best else math.nan,
        "best_qe_pred_se": entries[best]["qe_pred_se"] if best else math.nan,
        "models": {m: entries[m] for m in chosen},
        "phase_counts": stats.phase_counts.tolist(),
    })
    if reference is not None:
        row.update(_reference_columns(reference, s, w, omega0, gamma))
    return row, _histograms(s, fit, stats, x), {m: laws[m] for m in chosen}


def _reference_columns(reference: Any, s: np.ndarray, w: Any, omega0: float, gamma: float | None) -> dict[str, Any]:
    """Drift from the reference weights of the same layer and the reference's own Laplace comparison."""
    drift = weight_drift(w, reference)
    ref_sorted, _ = fitting.sorted_finite(reference)
    ref = weight_stats(ref_sorted, omega0)
    ref_emp, ref_se = ref.qe(gamma), ref.qe_se(gamma)
    ref_pred = float(analytic.qe(omega0, ref.b, gamma)) if ref.b > 0 else math.nan
    ref_ks = fitting.ks_laplace_sorted(ref_sorted, 0.0, ref.b)
    verdict, _ = laplace_verdict(ref_ks, fitting.ks_critical(ref.n), ref_pred, ref_emp, ref_se)
    return {"drift_corr": drift.correlation, "drift_rel_change": drift.relative_change,
            "ref_b": ref.b, "ref_qe_emp": ref_emp, "ref_qe_pred": ref_pred, "ref_rel_err": _rel(ref_pred, ref_emp),
            "ref_ks_stat": ref_ks, "ref_laplace_verdict": verdict, "ref_near_zero_frac": ref.near_zero_frac,
            "ref_near_crest_frac": ref.near_crest_frac}


# ---------------------------------------------------------------------------------------------------
# Totals and the whole checkpoint
# ---------------------------------------------------------------------------------------------------
def _totals(rows: list[dict[str, Any]], models: Sequence[str]) -> dict[str, Any]:
    ok = [r for r in rows if r["n"] > 0]
    n = sum(r["n"] for r in ok)

    def wmean(key: str) -> float:
        return sum(r[key] * r["n"] for r in ok) / n if n else math.nan

    qp, qm = wmean("qe_pred"), wmean("qe_emp")
    abs_rel = [abs(r["rel_err"]) for r in ok if math.isfinite(r["rel_err"])]
    worst = max((r for r in ok if math.isfinite(r["rel_err"])), key=lambda r: abs(r["rel_err"]), default=None)
    per_model = {m: {"n_within_tol": sum(1 for r in ok if r["models"].get(m, {}).get("within_tol")),
                     "n_best": sum(1 for r in ok if r.get("best_model") == m),
                     "mean_abs_rel_err": _mean([abs(r["models"][m]["rel_err"]) for r in ok if m in r["models"]]),
                     "official_l1_sum_pred": sum(r["models"][m]["official_l1_pred"] for r in ok
                                                 if m in r["models"])}
                 for m in models}
    return {
        "n_layers": len(rows), "n_layers_analysed": len(ok), "n_weights": n,
        "n_nonfinite": sum(int(r["n_nonfinite"]) for r in rows),
        "official_l1_sum": sum(r["official_l1"] for r in ok),
        "official_l1_sum_pred": {m: v["official_l1_sum_pred"] for m, v in per_model.items()},
        "b_loc0_sum": sum(r["b_loc0"] for r in ok),
        "qe_pred_weighted": qp, "qe_emp_weighted": qm, "rel_err_weighted": _rel(qp, qm),
        "mean_abs_rel_err": _mean(abs_rel),
        "mean_abs_rel_err_weighted": (sum(abs(r["rel_err"]) * r["n"] for r in ok if math.isfinite(r["rel_err"]))
                                      / n if n else math.nan),
        "worst_layer": {"name": worst["name"], "rel_err": worst["rel_err"]} if worst else None,
        "n_misfit": sum(1 for r in ok if r["laplace_verdict"] == "misfit"),
        "n_laplace_favoured": sum(1 for r in ok if r["delta_aic"] < 0),
        "max_ks_stat": max((r["ks_stat"] for r in ok), default=math.nan),
        "models": per_model,
    }


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def _reference_arrays(reference: str | Path | None, names: list[str]) -> tuple[dict[str, np.ndarray], dict | None]:
    if reference is None:
        return {}, None
    ref = load_checkpoint(reference, require_omega0=False, require_layers=False)
    tensors = ref.state_dict()
    missing = [n for n in names if n not in tensors]
    if missing:
        raise CheckpointError(f"--reference {reference}: it has no tensor {missing[0]!r}; give the same network's "
                              "initial weights (RUN/init.pth.tar) or another checkpoint of the same run")
    arrays = {}
    for name in names:
        arr = ref.array(name)
        arrays[name] = arr
    return arrays, {"path": str(ref.path), "format": ref.format, "metadata": ref.metadata}


def _layer_job(args: tuple) -> tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]:
    name, w, omega0, gamma, models, ref, seed, max_samples = args
    if ref is not None and np.shape(ref) != np.shape(w):
        raise CheckpointError(f"--reference: layer {name} has shape {np.shape(ref)} there but {np.shape(w)} here; "
                              "give the same network's reference weights")
    return analyze_layer(name, w, omega0, gamma, models, reference=ref, seed=seed, max_samples=max_samples)


def _worker_init() -> None:
    os.environ.update(pinned_environment(threads=1))


def _analyse_layers(ckpt: Any, refs: dict[str, np.ndarray], gamma: float | None, models: Sequence[str], seed: int,
                    max_samples: int, jobs: int) -> list[tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]]:
    """:func:`analyze_layer` for every layer, in worker processes when ``jobs`` > 1 and laws beyond Laplace are
    fitted (each layer's result depends only on its weights and seed, so it is the same either way)."""
    tasks = [(name, w, ckpt.omega0, gamma, models, refs.get(name), seed + 1000 * i, max_samples)
             for i, (name, w) in enumerate(ckpt.iter_layers())]
    if jobs <= 1 or len(tasks) < 2 or tuple(models) == ("laplace",):
        return [_layer_job(t) for t in tasks]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context, initializer=_worker_init) as pool:
        return list(pool.map(_layer_job, tasks))


def analyze_checkpoint(path: str | Path, omega0: float | None = None, layers: str | None = None,
                       gamma: float | str | None = "opt", models: Sequence[str] = ("laplace",), *,
                       reference: str | Path | None = None, seed: int = 0, max_samples: int = MAX_SAMPLES,
                       jobs: int = 1) -> CheckpointReport:
    """Load a checkpoint (any supported format) and build the per-layer report.

    ``gamma``: "opt" (default; each side its own optimal scale) or a number ≥ 0. ``models``: the laws to fit
    (:data:`biper_analysis.laws.MODELS`, or ("all",)); Laplace is always reported. ``reference``: a checkpoint
    of the same network (e.g. ``RUN/init.pth.tar``) to measure drift against. ``jobs``: worker processes for the
    law fits (one thread each; the result does not depend on it). Layers whose weights are all
    NaN/inf are reported with NaNs and a warning; the rest are analysed. Raises
    :class:`biper_analysis.analysis.checkpoints.CheckpointError` (a ValueError) when nothing can be analysed.
    """
    g = parse_gamma(gamma)
    models = model_list(models)
    ckpt = load_checkpoint(path, omega0=omega0, layers=layers)
    assert ckpt.omega0 is not None
    ref_arrays, ref_info = _reference_arrays(reference, ckpt.layers)
    rows, hists, laws, warns = [], {}, {}, []
    for (name, _), (row, hist, fitted) in zip(ckpt.iter_layers(), _analyse_layers(ckpt, ref_arrays, g, models, seed,
                                                                                  max_samples, jobs)):
        rows.append(row)
        if hist is not None:
            hists[name] = hist
        laws[name] = fitted
        warns += _row_warnings(row)
    binarizer = ckpt.metadata.get("binarizer")
    if binarizer in ("sign", "fp"):
        warns.append(f"the checkpoint was trained with binarizer={binarizer!r}; BiPer's QE is evaluated at "
                     f"ω0 = {ckpt.omega0:g} for comparison only")
    if not any(r["n"] > 0 for r in rows):
        raise CheckpointError(f"nothing to analyse in {ckpt.path}: every selected layer's weights are NaN/inf")
    info = describe(ckpt)
    info["qe_emp_se_method"] = ("delta method on (mean S², mean|S|)" if g is None else "direct: sd((|S| − γ)²)/√n")
    config = {"checkpoint": str(ckpt.path), "omega0": ckpt.omega0, "layers": layers,
              "gamma": "opt" if g is None else g, "models": list(models), "reference": str(reference) if reference
              else None, "seed": seed, "max_samples": max_samples}
    return CheckpointReport(omega0=ckpt.omega0, gamma=g, checkpoint=info, rows=rows, totals=_totals(rows, models),
                            models=tuple(models), warnings=warns, histograms=hists, laws=laws, reference=ref_info,
                            provenance=provenance(config, seed, command="fit-b"))


def model_list(models: Sequence[str]) -> tuple[str, ...]:
    """The laws to fit, Laplace first; "all" means every law of :mod:`biper_analysis.laws`."""
    names = [m.strip().lower() for m in models]
    if "all" in names:
        from biper_analysis.laws import MODELS

        return tuple(MODELS)
    if any(m != "laplace" for m in names):
        from biper_analysis.laws import MODELS

        bad = [m for m in names if m not in MODELS]
        if bad:
            raise ValueError(f"unknown model {bad[0]!r}; choose from {', '.join(MODELS)} or all")
    return tuple(dict.fromkeys(["laplace", *names]))


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


def _row_warnings(row: dict[str, Any]) -> list[str]:
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
