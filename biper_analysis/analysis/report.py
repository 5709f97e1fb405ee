r"""fit-b's per-layer report: what the paper's closed form (weights ~ Laplace(0, b)) and each fitted weight law
predict, next to the QE measured on the real weights — and a verdict that says when the Laplace model does not fit.

This module holds the report (:class:`CheckpointReport`: rows, totals, provenance; its JSON, CSV and text table)
and :func:`analyze_checkpoint`, which reads a checkpoint and analyses every layer (in worker processes when asked).
One layer's analysis is :mod:`biper_analysis.analysis.layer`; the verdict rules are
:mod:`biper_analysis.analysis.verdicts`.

Per layer with weights w and S = sin(ω0 w):

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
* ``laplace_verdict`` "ok" | "misfit" with ``laplace_reasons``
  (:func:`biper_analysis.analysis.verdicts.laplace_verdict`). Every misfit layer is named in the ``warnings``.
* ``models`` (the JSON key; the laws of ``laws=`` / ``fit-b --law``, ``laplace`` alone by default): for each fitted
  law its parameters, log-likelihood, AIC, BIC (on one shared subsample), KS distance, predicted moments, QE,
  official L1, in-sample rel. error, and ``oos``: the law fitted on one half of the output channels and scored on
  the other, both ways (:func:`biper_analysis.analysis.verdicts.combine_directions`). ``best_model`` is the law
  with the highest held-out log-likelihood (:func:`~biper_analysis.analysis.verdicts.best_law`); ``best_qe_pred``,
  ``best_rel_err``, ``best_z`` and ``best_within_tol`` are its *out-of-sample* prediction and verdict, and
  ``best_qe_pred_se`` its standard error (delta method on the law's MLE; Laplace: from SE(b) = b/√n). The
  in-sample AIC-best law is kept, labelled, as ``best_model_in_sample`` with ``best_rel_err_in_sample``.
* ``qe_emp_se`` = max(``qe_emp_se_iid``, ``qe_emp_se_channel``): weights of one output channel move together, so
  the channel-clustered SE (:func:`biper_analysis.theory.weights.channel_se`) is the honest one where it is larger.
* with a ``reference`` checkpoint (the run's initial weights, or stage 1's best): ``drift_corr``,
  ``drift_rel_change`` and the reference's own measured QE and Laplace rel. error, so that what training did
  is not confused with what the initialisation already was.

Totals: the official script's *sums* over layers of official_l1 (measured, and predicted by each law) and of
mean|w|; weight-count-weighted QE; the weighted and unweighted mean |rel err| and the worst layer.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.jsonio import jsonable
from biper_analysis._io.provenance import provenance
from biper_analysis._io.reproducible import pinned_pool
from biper_analysis._io.validation import parse_gamma, renamed_argument
from biper_analysis.analysis.checkpoints import CheckpointError, describe, load_checkpoint
from biper_analysis.analysis.layer import COLUMNS, MAX_SAMPLES, LayerHistograms, analyze_layer
from biper_analysis.analysis.verdicts import FIT_REL_TOL, QE_REL_TOL, rel_err, row_warnings
from biper_analysis.laws import law_class, law_names, law_to_dict

__all__ = ["SCHEMA_VERSION", "COLUMNS", "MAX_SAMPLES", "CheckpointReport", "analyze_checkpoint", "law_list"]

#: Version of the JSON/CSV layout (2: verdicts, models, KS against Laplace(0, b_loc0), reference drift; 3: out of
#: sample by default — best_* from the law with the highest held-out log-likelihood, its two-way out-of-sample
#: prediction and SE; channel-clustered SEs; in-sample AIC/BIC on the shared subsample; the in-sample AIC-best as
#: best_model_in_sample).
SCHEMA_VERSION = 3


@dataclass
class CheckpointReport:
    """Rows per layer, totals and provenance; ``to_dict`` is the JSON object the CLI prints (its keys ``models`` and
    ``best_model`` name laws: kept for schema compatibility)."""

    omega0: float
    gamma: float | None
    checkpoint: dict[str, Any]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    law_names: tuple[str, ...] = ("laplace",)
    warnings: list[str] = field(default_factory=list)
    histograms: dict[str, LayerHistograms] = field(default_factory=dict, repr=False)
    laws: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # layer -> law name -> law
    reference: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        """Deprecated name of :attr:`law_names`."""
        return self.law_names

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "omega0": self.omega0,
                "gamma": "opt" if self.gamma is None else self.gamma,
                "models": list(self.law_names),
                "checkpoint": self.checkpoint,
                "reference": self.reference,
                "layers": self.rows,
                "totals": self.totals,
                "warnings": self.warnings,
                "provenance": self.provenance,
            }
        )

    def laws_dict(self) -> dict[str, Any]:
        """The fitted laws as JSON (``fit-b --save-laws``; read back by ``qe --law FILE:LAYER``)."""
        layers = {}
        for row in self.rows:
            fitted = self.laws.get(row["name"], {})
            if fitted:
                layers[row["name"]] = {
                    "best_model": row.get("best_model"),
                    "laws": {m: law_to_dict(law) for m, law in fitted.items()},
                }
        return jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "omega0": self.omega0,
                "layers": layers,
                "checkpoint": self.checkpoint,
                "provenance": self.provenance,
            }
        )

    def to_csv(self) -> str:
        buf = io.StringIO()
        # line 1: provenance as a comment (the same convention as sweep CSVs; pandas: comment="#")
        buf.write(
            "# provenance: "
            + json.dumps(
                {**self.provenance, "schema_version": SCHEMA_VERSION, "checkpoint": self.checkpoint},
                sort_keys=True,
                default=str,
            )
            + "\n"
        )
        extra = [
            f"{m}_{k}"
            for m in self.law_names
            for k in (
                "qe_pred",
                "rel_err",
                "aic",
                "ks",
                "oos_qe_pred",
                "oos_rel_err",
                "oos_z",
                "oos_within_tol",
                "oos_heldout_loglik",
            )
        ]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(list(COLUMNS) + extra)
        for row in self.rows:
            cells = [_csv_cell(row.get(c)) for c in COLUMNS]
            entries = row.get("models", {})
            for m in self.law_names:
                entry = entries.get(m, {})
                oos = entry.get("oos", {})
                cells += [
                    _csv_cell(entry.get("qe_pred")),
                    _csv_cell(entry.get("rel_err")),
                    _csv_cell(entry.get("aic")),
                    _csv_cell(entry.get("ks")),
                    _csv_cell(oos.get("qe_pred")),
                    _csv_cell(oos.get("rel_err")),
                    _csv_cell(oos.get("z")),
                    _csv_cell(oos.get("within_tol")),
                    _csv_cell(oos.get("heldout_loglik")),
                ]
            writer.writerow(cells)
        return buf.getvalue()

    def table(self) -> str:
        """An aligned text table, one row per layer, then the totals and warnings. Headers are the JSON/CSV column
        names; the longer ones are abbreviated and a legend line under the table maps each abbreviation to its
        name. ``rel_err`` columns are fractions ((predicted − measured)/measured), as in the JSON, the CSV and the
        warnings."""
        cols = [
            ("name", "name", "s"),
            ("n", "n", "d"),
            ("b_loc0", "b_loc0", ".4g"),
            ("ks_stat", "ks_stat", ".3f"),
            ("ks_critical", "ks_crit", ".3f"),
            ("qe_pred", "qe_pred", ".5f"),
            ("qe_emp", "qe_emp", ".5f"),
            ("qe_emp_se", "qe_se", ".1e"),
            ("rel_err", "rel_err", "+.3f"),
            ("laplace_verdict", "verdict", "s"),
            ("near_zero_frac", "nz", ".3f"),
            ("near_zero_frac_laplace", "nz_lap", ".3f"),
            ("near_crest_frac", "crest", ".3f"),
            ("near_crest_frac_laplace", "crest_lap", ".3f"),
        ]
        if len(self.law_names) > 1:
            cols += [("best_model", "best", "s"), ("best_rel_err", "best_err", "+.3f")]
        if self.reference is not None:
            cols += [
                ("drift_corr", "corr_ref", ".3f"),
                ("drift_rel_change", "chg_ref", ".3f"),
                ("ref_rel_err", "ref_err", "+.3f"),
            ]
        lines = _aligned([[h for _, h, _ in cols]] + [[_fmt(r.get(k), f) for k, _, f in cols] for r in self.rows])
        lines.append(
            "columns (JSON/CSV names): "
            + ", ".join(f"{h} = {k}" for k, h, _ in cols if h != k)
            + "; rel_err columns are fractions"
        )
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
        if len(self.law_names) > 1:
            lines.append(
                f"best law out of sample (best_model: the highest held-out log-likelihood; fitted on one half "
                f"of the output channels, QE scored on the other, both ways): |best_rel_err| within "
                f"max({FIT_REL_TOL:.2f}, 2 SE) in {t['n_best_within_tol']}/{t['n_layers_analysed']} layers"
            )
            lines.append(
                f"laws out of sample (|rel_err| within max({FIT_REL_TOL:.2f}, 2 SE) / layers; best count; in "
                "sample, AIC-best count): "
                + "; ".join(
                    f"{m} {t['models'][m]['n_within_tol']}/{t['n_layers_analysed']}, best in "
                    f"{t['models'][m]['n_best']}, AIC-best in {t['models'][m]['n_best_in_sample']}"
                    for m in self.law_names
                )
            )
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _aligned(table: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in table
    ]


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


def _totals(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    ok = [r for r in rows if r["n"] > 0]
    n = sum(r["n"] for r in ok)

    def wmean(key: str) -> float:
        return sum(r[key] * r["n"] for r in ok) / n if n else math.nan

    qp, qm = wmean("qe_pred"), wmean("qe_emp")
    abs_rel = [abs(r["rel_err"]) for r in ok if math.isfinite(r["rel_err"])]
    worst = max((r for r in ok if math.isfinite(r["rel_err"])), key=lambda r: abs(r["rel_err"]), default=None)
    per_law = {
        m: {
            "n_within_tol": sum(1 for r in ok if r["models"].get(m, {}).get("oos", {}).get("within_tol")),
            "n_within_tol_in_sample": sum(1 for r in ok if r["models"].get(m, {}).get("within_tol")),
            "n_best": sum(1 for r in ok if r.get("best_model") == m),
            "n_best_in_sample": sum(1 for r in ok if r.get("best_model_in_sample") == m),
            "mean_abs_rel_err": _mean(
                [
                    abs(r["models"][m]["oos"]["rel_err"])
                    for r in ok
                    if m in r["models"] and math.isfinite(r["models"][m]["oos"]["rel_err"])
                ]
            ),
            "mean_abs_rel_err_in_sample": _mean([abs(r["models"][m]["rel_err"]) for r in ok if m in r["models"]]),
            "official_l1_sum_pred": sum(r["models"][m]["official_l1_pred"] for r in ok if m in r["models"]),
        }
        for m in names
    }
    return {
        "n_layers": len(rows),
        "n_layers_analysed": len(ok),
        "n_weights": n,
        "n_nonfinite": sum(int(r["n_nonfinite"]) for r in rows),
        "official_l1_sum": sum(r["official_l1"] for r in ok),
        "official_l1_sum_pred": {m: v["official_l1_sum_pred"] for m, v in per_law.items()},
        "b_loc0_sum": sum(r["b_loc0"] for r in ok),
        "qe_pred_weighted": qp,
        "qe_emp_weighted": qm,
        "rel_err_weighted": rel_err(qp, qm),
        "mean_abs_rel_err": _mean(abs_rel),
        "mean_abs_rel_err_weighted": (
            sum(abs(r["rel_err"]) * r["n"] for r in ok if math.isfinite(r["rel_err"])) / n if n else math.nan
        ),
        "worst_layer": {"name": worst["name"], "rel_err": worst["rel_err"]} if worst else None,
        "n_misfit": sum(1 for r in ok if r["laplace_verdict"] == "misfit"),
        "n_laplace_favoured": sum(1 for r in ok if r["delta_aic"] < 0),
        "max_ks_stat": max((r["ks_stat"] for r in ok), default=math.nan),
        "models": per_law,
        "n_best_within_tol": sum(1 for r in ok if r.get("best_within_tol")),
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
        raise CheckpointError(
            f"--reference {reference}: it has no tensor {missing[0]!r}; give the same network's "
            "initial weights (RUN/init.pth.tar) or another checkpoint of the same run"
        )
    arrays = {}
    for name in names:
        arr = ref.array(name)
        arrays[name] = arr
    return arrays, {"path": str(ref.path), "format": ref.format, "metadata": ref.metadata}


def _layer_job(args: tuple) -> tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]:
    name, w, omega0, gamma, names, ref, seed, max_samples = args
    if ref is not None and np.shape(ref) != np.shape(w):
        raise CheckpointError(
            f"--reference: layer {name} has shape {np.shape(ref)} there but {np.shape(w)} here; "
            "give the same network's reference weights"
        )
    return analyze_layer(name, w, omega0, gamma, names, reference=ref, seed=seed, max_samples=max_samples)


def _analyse_layers(
    ckpt: Any,
    refs: dict[str, np.ndarray],
    gamma: float | None,
    names: Sequence[str],
    seed: int,
    max_samples: int,
    jobs: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[tuple[dict[str, Any], LayerHistograms | None, dict[str, Any]]]:
    """:func:`analyze_layer` for every layer, in worker processes when ``jobs`` > 1 and a law needs an iterative fit
    (each layer's result depends only on its weights and seed, so it is the same either way). A worker knows the
    laws of :mod:`biper_analysis.laws`, not a law registered at run time elsewhere: use ``jobs=1`` for those."""
    tasks = [
        (name, w, ckpt.omega0, gamma, names, refs.get(name), seed + 1000 * i, max_samples)
        for i, (name, w) in enumerate(ckpt.iter_layers())
    ]
    done = progress or (lambda i, n, name: None)
    if jobs <= 1 or len(tasks) < 2 or all(law_class(m).closed_form() for m in names):
        results = []
        for i, t in enumerate(tasks):
            results.append(_layer_job(t))
            done(i + 1, len(tasks), t[0])
        return results
    with pinned_pool(min(jobs, len(tasks))) as pool:
        results = []
        for i, result in enumerate(pool.map(_layer_job, tasks)):  # in order, as each finishes
            results.append(result)
            done(i + 1, len(tasks), tasks[i][0])
        return results


def analyze_checkpoint(
    path: str | Path,
    omega0: float | None = None,
    layers: str | None = None,
    gamma: float | str | None = "opt",
    laws: Sequence[str] | None = None,
    *,
    reference: str | Path | None = None,
    seed: int = 0,
    max_samples: int = MAX_SAMPLES,
    jobs: int = 1,
    models: Sequence[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> CheckpointReport:
    """Load a checkpoint (any supported format) and build the per-layer report.

    ``gamma``: "opt" (default; each side its own optimal scale) or a number ≥ 0. ``laws``: the laws to fit (names
    of :func:`biper_analysis.laws.law_names` that are fittable, or ("all",); default Laplace only; ``models=`` is
    the deprecated name); Laplace is always reported. ``reference``: a checkpoint
    of the same network (e.g. ``RUN/init.pth.tar``) to measure drift against. ``jobs``: worker processes for the
    law fits (one thread each; the result does not depend on it). ``progress(i, n, layer)`` is called as each layer
    is done. Layers whose weights are all NaN/inf, or whose finite weights are all equal, are reported with NaNs and
    a warning naming the fault and are left out of the totals; in the others NaN/inf weights are left out. Raises
    :class:`biper_analysis.analysis.checkpoints.CheckpointError` (a ValueError) when nothing can be analysed.
    """
    g = parse_gamma(gamma)
    names = law_list(renamed_argument(laws, models, "laws", "models", "analyze_checkpoint") or ("laplace",))
    ckpt = load_checkpoint(path, omega0=omega0, layers=layers)
    assert ckpt.omega0 is not None
    ref_arrays, ref_info = _reference_arrays(reference, ckpt.layers)
    rows, hists, fitted_laws, warns = [], {}, {}, []
    for (name, _), (row, hist, fitted) in zip(
        ckpt.iter_layers(), _analyse_layers(ckpt, ref_arrays, g, names, seed, max_samples, jobs, progress)
    ):
        rows.append(row)
        if hist is not None:
            hists[name] = hist
        fitted_laws[name] = fitted
        warns += row_warnings(row)
    binarizer = ckpt.metadata.get("binarizer")
    if binarizer in ("sign", "fp"):
        warns.append(
            f"the checkpoint was trained with binarizer={binarizer!r}; BiPer's QE is evaluated at "
            f"ω0 = {ckpt.omega0:g} for comparison only"
        )
    if not any(r["n"] > 0 for r in rows):
        raise CheckpointError(
            f"nothing to analyse in {ckpt.path}: every selected layer's weights are NaN/inf or all equal"
        )
    info = describe(ckpt)
    info["qe_emp_se_method"] = (
        "delta method on (mean S², mean|S|)" if g is None else "direct: sd((|S| − γ)²)/√n"
    ) + ", or the channel-clustered (CR1) SE where larger"
    config = {
        "checkpoint": str(ckpt.path),
        "omega0": ckpt.omega0,
        "layers": layers,
        "gamma": "opt" if g is None else g,
        "models": list(names),
        "reference": str(reference) if reference else None,
        "seed": seed,
        "max_samples": max_samples,
    }
    return CheckpointReport(
        omega0=ckpt.omega0,
        gamma=g,
        checkpoint=info,
        rows=rows,
        totals=_totals(rows, names),
        law_names=names,
        warnings=warns,
        histograms=hists,
        laws=fitted_laws,
        reference=ref_info,
        provenance=provenance(config, seed, command="fit-b"),
    )


def law_list(names: Sequence[str]) -> tuple[str, ...]:
    """The laws to fit, Laplace first, then in the order given; "all" means every fittable law in the registry's
    order (:func:`biper_analysis.laws.law_names`). ValueError naming an unknown law and the choices.

    >>> law_list(["comb", "gaussian"])
    ('laplace', 'comb', 'gaussian')
    """
    keys = [str(m).strip().lower() for m in names]
    fittable = law_names(fittable=True)
    if "all" in keys:
        return fittable
    bad = [m for m in keys if m not in fittable]
    if bad:
        raise ValueError(f"unknown law {bad[0]!r}; choose from {', '.join(fittable)} or all")
    return tuple(dict.fromkeys(["laplace", *keys]))
