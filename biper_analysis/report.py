r"""Per-layer report: the closed form (paper's model, Laplace(0, b)) next to the QE measured on the real weights.

For each binarised layer with weights w and S = sin(ω0 w):

* ``b`` (Laplace MLE, free location = mean|w − median|) with ``b_ci`` (95 %), ``loc``; ``b_loc0`` = mean|w|
  (MLE of Laplace(0, b), the paper's model); ``ks_stat`` (KS distance to the fitted Laplace), ``gaussian_sigma``,
  ``delta_aic`` = AIC_Laplace − AIC_Gaussian (negative favours Laplace);
* ``qe_pred``: the closed form at b_loc0 (:mod:`biper_analysis.analytic`); with γ = "opt" it is
  QE_min(ω0·b_loc0);
* ``qe_emp``: the same QE on the layer's own weights, from the sample moments through the single definition
  ``analytic._qe_from_moments`` (γ = opt: mean S² − (mean|S|)²); ``qe_emp_se`` its standard error (delta method
  for γ = opt, the direct sd/√n for a fixed γ; ``qe_emp_se_method`` says which), ``rel_err`` =
  (qe_pred − qe_emp)/qe_emp;
* ``official_l1`` = mean|S − sign(S)| (the official script's per-layer "QE", γ = 1, L1);
* ``near_zero_frac`` (phase within π/8 of a zero of sin) next to ``near_zero_frac_laplace`` (what Laplace(0,
  b_loc0) predicts): the sin² penalty's clustering at the zeros shows as the first exceeding the second.

Totals: the official script's *sums* over layers of official_l1 and of mean|w| (to reproduce its printout), and
weight-count-weighted means of qe_pred and qe_emp.

No KS p-value is reported: with the parameters fitted on the same data the textbook p-value is wrong, and at
10⁵–10⁶ weights any test rejects; the KS *distance* (and ΔAIC) is what the table shows.
"""
from __future__ import annotations

import csv
import json
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis import analytic as A
from biper_analysis import fitting as F

#: Row columns, in table / CSV order.
COLUMNS = ("name", "n", "n_nonfinite", "loc", "b", "b_ci_low", "b_ci_high", "b_loc0", "ks_stat", "ks_gaussian",
           "gaussian_sigma", "delta_aic", "gamma", "gamma_pred", "gamma_emp", "qe_pred", "qe_emp", "qe_emp_se",
           "rel_err", "official_l1", "near_zero_frac", "near_zero_frac_laplace")
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
    warnings: list[str] = field(default_factory=list)
    histograms: dict[str, LayerHistograms] = field(default_factory=dict, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"omega0": self.omega0, "gamma": "opt" if self.gamma is None else self.gamma,
                "checkpoint": self.checkpoint, "layers": self.rows, "totals": self.totals,
                "warnings": self.warnings, "provenance": self.provenance}

    def to_csv(self) -> str:
        buf = io.StringIO()
        # line 1: provenance as a comment (the same convention as sweep CSVs; pandas: comment="#")
        buf.write("# provenance: " + json.dumps({"omega0": self.omega0, "checkpoint": self.checkpoint,
                                                 **self.provenance}, sort_keys=True, default=str) + "\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in self.rows:
            writer.writerow([_csv_cell(row.get(c)) for c in COLUMNS])
        return buf.getvalue()

    def table(self) -> str:
        """An aligned text table, one row per layer, then the totals."""
        cols = [("name", "layer", "s"), ("n", "n", "d"), ("b", "b", ".4g"), ("b_loc0", "b_loc0", ".4g"),
                ("loc", "loc", ".2e"), ("ks_stat", "KS_lap", ".4f"), ("ks_gaussian", "KS_gau", ".4f"),
                ("delta_aic", "dAIC", ".4g"), ("qe_pred", "qe_pred", ".5f"), ("qe_emp", "qe_emp", ".5f"),
                ("qe_emp_se", "se", ".1e"), ("rel_err", "rel_err", "+.3f"), ("official_l1", "off_L1", ".4f"),
                ("near_zero_frac", "nz_emp", ".3f"), ("near_zero_frac_laplace", "nz_lap", ".3f")]
        body = [[_fmt(r.get(k), f) for k, _, f in cols] for r in self.rows]
        header = [h for _, h, _ in cols]
        widths = [max(len(header[i]), *(len(b[i]) for b in body)) if body else len(header[i])
                  for i in range(len(cols))]
        lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
        for b in body:
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
        t = self.totals
        g = "opt (each side its own γ*)" if self.gamma is None else f"{self.gamma:g}"
        lines += [
            "",
            f"ω0 = {self.omega0:g} ({self.checkpoint.get('omega0_source')}), γ = {g}; "
            f"{t['n_layers']} layers, {t['n_weights']} weights; layers selected by {self.checkpoint.get('layer_selection')}",
            f"weighted mean QE: predicted {t['qe_pred_weighted']:.6f}, measured {t['qe_emp_weighted']:.6f} "
            f"(rel err {t['rel_err_weighted']:+.4f}); Laplace favoured by AIC in {t['n_laplace_favoured']}"
            f"/{t['n_layers']} layers",
            f"official script: summed L1 QE {t['official_l1_sum']:.6f}, summed mean|w| {t['b_loc0_sum']:.6f}",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


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
    return "" if v is None else v


def _safe_rel(pred: float, emp: float) -> float:
    return (pred - emp) / emp if emp != 0 and math.isfinite(emp) else math.nan


def analyze_layer(name: str, w: np.ndarray, omega0: float, gamma: float | None
                  ) -> tuple[dict[str, Any], LayerHistograms | None]:
    """One report row (and the histograms for plots) for one layer's weights."""
    fit, s = F.fit_layer(w)
    row: dict[str, Any] = {"name": name, **fit.as_dict()}
    row["b_ci_low"], row["b_ci_high"] = fit.b_ci
    row["gamma"] = "opt" if gamma is None else gamma
    if fit.n == 0:
        for k in COLUMNS:
            row.setdefault(k, math.nan)
        return row, None
    st = F.sin_stats(s, omega0)
    x = omega0 * fit.b_loc0
    gamma_pred = float(A.optimal_gamma(omega0, fit.b_loc0)) if fit.b_loc0 > 0 else 0.0
    if fit.b_loc0 > 0:
        qe_pred = float(A.qe_min(omega0, fit.b_loc0)) if gamma is None else float(A.qe(omega0, fit.b_loc0, gamma))
    else:   # all weights exactly 0: S = 0, QE = γ²
        qe_pred = 0.0 if gamma is None else gamma * gamma
    qe_emp = float(A._qe_from_moments(st.e_sin2, st.e_abs_sin, gamma))
    se, method = st.qe_emp_se(gamma)
    edges = np.linspace(0.0, math.pi, st.phase_counts.size + 1)
    probs = F.laplace_phase_probs(x, edges) if x > 0 else np.zeros(st.phase_counts.size)
    row.update({
        "gamma_pred": gamma_pred, "gamma_emp": st.e_abs_sin, "qe_pred": qe_pred, "qe_emp": qe_emp,
        "qe_emp_se": se, "qe_emp_se_method": method, "rel_err": _safe_rel(qe_pred, qe_emp),
        "official_l1": st.official_l1, "near_zero_frac": st.near_zero_frac,
        "near_zero_frac_laplace": F.laplace_near_zero_frac(x) if x > 0 else math.nan,
        "phase_counts": st.phase_counts.tolist(),
    })
    # weight histogram over a robust range (the fitted Laplace's 1e-4 … 1−1e-4 quantiles, clipped to the data)
    half = max(fit.b * math.log(0.5 / 1e-4), 3 * fit.gaussian_sigma) if fit.b > 0 else 1.0
    lo_w, hi_w = max(float(s[0]), fit.loc - half), min(float(s[-1]), fit.loc + half)
    if not hi_w > lo_w:
        lo_w, hi_w = lo_w - 0.5, hi_w + 0.5
    w_edges = np.linspace(lo_w, hi_w, W_HIST_BINS + 1)
    positions = np.searchsorted(s, w_edges.astype(s.dtype))   # s is sorted: counts by bisection, no second pass
    w_counts = np.diff(positions)
    hist = LayerHistograms(w_edges=w_edges, w_counts=w_counts, sin_counts=st.sin_counts,
                           phase_counts=st.phase_counts, phase_probs_laplace=probs)
    return row, hist


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["n"] > 0]
    n = sum(r["n"] for r in ok)

    def wmean(key: str) -> float:
        return sum(r[key] * r["n"] for r in ok) / n if n else math.nan

    qp, qm = wmean("qe_pred"), wmean("qe_emp")
    return {
        "n_layers": len(rows), "n_layers_analysed": len(ok), "n_weights": n,
        "n_nonfinite": sum(int(r["n_nonfinite"]) for r in rows),
        "official_l1_sum": sum(r["official_l1"] for r in ok),
        "b_loc0_sum": sum(r["b_loc0"] for r in ok),
        "qe_pred_weighted": qp, "qe_emp_weighted": qm, "rel_err_weighted": _safe_rel(qp, qm),
        "n_laplace_favoured": sum(1 for r in ok if r["delta_aic"] < 0),
        "max_ks_stat": max((r["ks_stat"] for r in ok), default=math.nan),
    }


def analyze_checkpoint(path: str | Path, omega0: float | None = None, layers: str | None = None,
                       gamma: float | str | None = "opt") -> CheckpointReport:
    """Load a checkpoint (any supported format) and build the per-layer report.

    ``gamma``: "opt" (default; each side its own optimal scale) or a number ≥ 0. Layers whose weights are
    all NaN/inf are reported with NaNs and a warning; the rest are analysed. Raises
    :class:`biper_analysis.checkpoints.CheckpointError` (a ValueError) when nothing can be analysed.
    """
    from biper_analysis import checkpoints as C
    from biper_analysis.provenance import provenance

    g: float | None
    if gamma is None or (isinstance(gamma, str) and gamma.strip().lower() in ("opt", "optimal", "none")):
        g = None
    else:
        g = float(gamma)
        if not math.isfinite(g) or g < 0:
            raise ValueError(f"gamma must be 'opt' or a finite number >= 0, got {gamma!r}")
    ckpt = C.load_checkpoint(path, omega0=omega0, layers=layers)
    assert ckpt.omega0 is not None
    rows, hists, warns = [], {}, []
    for name, w in ckpt.iter_layers():
        row, hist = analyze_layer(name, w, ckpt.omega0, g)
        rows.append(row)
        if hist is not None:
            hists[name] = hist
        if row["n_nonfinite"]:
            what = "all" if row["n"] == 0 else f"{row['n_nonfinite']} of {row['n'] + row['n_nonfinite']}"
            warns.append(f"layer {name}: {what} weights are NaN/inf"
                         + (" (layer not analysed)" if row["n"] == 0 else " (left out; the rest analysed)"))
    binarizer = ckpt.metadata.get("binarizer")
    if binarizer in ("sign", "fp"):
        warns.append(f"the checkpoint was trained with binarizer={binarizer!r}; BiPer's QE is evaluated at "
                     f"ω0 = {ckpt.omega0:g} for comparison only")
    if not any(r["n"] > 0 for r in rows):
        raise C.CheckpointError(f"nothing to analyse in {ckpt.path}: every selected layer's weights are NaN/inf")
    info = C.describe(ckpt)
    info["qe_emp_se_method"] = ("delta method on (mean S², mean|S|)" if g is None
                                else "direct: sd((|S| − γ)²)/√n")
    config = {"checkpoint": str(ckpt.path), "omega0": ckpt.omega0, "layers": layers,
              "gamma": "opt" if g is None else g}
    return CheckpointReport(omega0=ckpt.omega0, gamma=g, checkpoint=info, rows=rows, totals=_totals(rows),
                            warnings=warns, histograms=hists, provenance=provenance(config))
