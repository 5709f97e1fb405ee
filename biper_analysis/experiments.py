"""The main job's training sweep: BiPer at several ω0 plus the sign baseline, several seeds, cached on disk.

``run_training_sweep`` trains every run that is missing (resuming one that was interrupted), analyses each
run's final checkpoint with :func:`biper_analysis.report.analyze_checkpoint`, and writes ``SWEEP/sweep.json``
(with provenance). A second call reuses finished runs, so the main job can be rerun cheaply. Figures and
paper checks read ``sweep.json`` through :func:`load_training_sweep`; they never train.

Layout::

    SWEEP/sweep.json                     plan, per-run summaries and per-layer analysis, provenance
    SWEEP/<binarizer>-w<omega0>-s<seed>/ one run directory each (see biper_analysis.training)
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from biper_analysis.atomic import atomic_open
from biper_analysis.provenance import provenance

SWEEP_FILE = "sweep.json"
RUN_SUMMARY = "summary.json"


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Which runs the training sweep makes. Defaults fit ~15 minutes on 2 CPU cores (small network)."""

    omega0s: tuple[float, ...] = (2.0, 5.0, 20.0, 60.0)  # rad per unit weight; 20 is the published value
    seeds: tuple[int, ...] = (0, 1, 2)                   # ≥ 2 seeds so accuracies carry a spread
    baseline: bool = True                            # also train the sign-STE baseline (ω0 unused by it)
    preset: str = "short"                            # a biper_analysis.training.PRESETS entry (the small CPU net)
    epochs1: int | None = None                       # override the preset's stage-1 epochs
    epochs2: int | None = None                       # override the preset's stage-2 epochs
    train_limit: int | None = None                   # first N training images (None: all 60 000)
    test_limit: int | None = None                    # first N test images (None: all 10 000)
    data_dir: str | None = None                      # None: $BIPER_DATA_DIR or Debian's Fashion-MNIST folder
    device: str = "auto"

    def runs(self) -> list[tuple[str, Any]]:
        """(run name, TrainConfig) for every run in the plan, BiPer first, then the sign baseline."""
        from biper_analysis.training import preset

        overrides = {k: v for k, v in (("epochs1", self.epochs1), ("epochs2", self.epochs2),
                                        ("train_limit", self.train_limit), ("test_limit", self.test_limit),
                                        ("data_dir", self.data_dir), ("device", self.device)) if v is not None}
        out = []
        for omega0 in self.omega0s:
            for seed in self.seeds:
                cfg = preset(self.preset, binarizer="biper", omega0=float(omega0), seed=seed, **overrides)
                out.append((run_name("biper", omega0, seed), cfg))
        if self.baseline:
            for seed in self.seeds:
                cfg = preset(self.preset, binarizer="sign", seed=seed, **overrides)
                out.append((run_name("sign", cfg.omega0, seed), cfg))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_name(binarizer: str, omega0: float, seed: int) -> str:
    """Directory name of one run.

    >>> run_name("biper", 20.0, 1), run_name("sign", 20.0, 0)
    ('biper-w20-s1', 'sign-s0')
    """
    if binarizer == "biper":
        return f"biper-w{omega0:g}-s{seed}"
    return f"{binarizer}-s{seed}"


def _finished_summary(run_dir: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The cached summary of a finished run with exactly this config, else None."""
    path = run_dir / RUN_SUMMARY
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    return summary if summary.get("config") == config else None


def train_or_reuse(run_dir: Path, cfg: Any, quiet: bool = True) -> tuple[dict[str, Any], bool]:
    """Train one run unless a finished one with the same config is cached; resume a partial one.

    Returns (summary, reused).
    """
    from biper_analysis.commands._args import jsonable
    from biper_analysis.training import train_run

    config = jsonable(cfg.to_dict())
    cached = _finished_summary(run_dir, config)
    if cached is not None:
        return cached, True
    resume = (run_dir / "stage1" / "checkpoint.pth.tar").exists()
    if run_dir.exists() and not resume:
        raise FileExistsError(f"{run_dir} exists but holds no finished run or checkpoint; remove it and rerun")
    summary = jsonable(train_run(cfg, run_dir, resume=resume, quiet=quiet))
    summary["config"] = config
    with atomic_open(run_dir / RUN_SUMMARY) as fh:
        json.dump(summary, fh, indent=2, allow_nan=False)
    return summary, False


def analyse_run(run_dir: Path) -> dict[str, Any]:
    """Per-layer analysis of a run's final checkpoint (BiPer QE at the run's ω0, and the sign-baseline view)."""
    from biper_analysis.commands._args import jsonable
    from biper_analysis.report import analyze_checkpoint

    analysis = jsonable(analyze_checkpoint(run_dir).to_dict())
    for row in analysis["layers"]:
        if row["n"] > 0:
            row["normalised"] = normalised_layer_qe(row, analysis["omega0"])
    return analysis


def run_training_sweep(out_dir: str | Path, plan: SweepPlan = SweepPlan(), quiet: bool = True,
                       log: Any = None) -> dict[str, Any]:
    """Train (or reuse) every run of ``plan`` under ``out_dir``, analyse each, write ``sweep.json``."""
    out_dir = Path(out_dir)  # created by the first run trained (nothing is made if the data are missing)
    runs = []
    for name, cfg in plan.runs():
        run_dir = out_dir / name
        summary, reused = train_or_reuse(run_dir, cfg, quiet=quiet)
        if log is not None:
            log(f"{name}: {'reused' if reused else 'trained'}; best {summary['best_acc']:.2f}% "
                f"last {summary['last_acc']:.2f}% ({summary.get('time_s', float('nan')):.0f} s)")
        runs.append({"name": name, "binarizer": cfg.binarizer, "omega0": cfg.omega0, "seed": cfg.seed,
                     "best_acc": summary["best_acc"], "last_acc": summary["last_acc"],
                     "time_s": summary.get("time_s"), "reused": reused, "analysis": analyse_run(run_dir)})
    from biper_analysis.commands._args import jsonable

    sweep = jsonable({"plan": plan.to_dict(), "runs": runs, "groups": group_summary(runs),
                      "provenance": provenance(plan.to_dict())})  # NaN (one-seed spreads) → null: valid JSON
    with atomic_open(out_dir / SWEEP_FILE) as fh:
        json.dump(sweep, fh, indent=2, allow_nan=False)
    return sweep


def load_training_sweep(out_dir: str | Path) -> dict[str, Any]:
    """Read ``sweep.json``; FileNotFoundError naming the command that makes it."""
    path = Path(out_dir) / SWEEP_FILE
    if not path.exists():
        raise FileNotFoundError(f"no training sweep at {str(path)!r}; make it with "
                                f"`biper-analysis train-sweep --out {out_dir}`")
    return json.loads(path.read_text())


def mean_std_se(values: Iterable[float]) -> dict[str, float]:
    """n, mean, sample standard deviation (ddof=1) and standard error of the mean.

    >>> mean_std_se([1.0, 3.0])
    {'n': 2, 'mean': 2.0, 'std': 1.4142135623730951, 'se': 1.0}
    """
    arr = np.asarray(list(values), dtype=np.float64)
    n = arr.size
    std = float(arr.std(ddof=1)) if n > 1 else math.nan
    return {"n": n, "mean": float(arr.mean()) if n else math.nan, "std": std,
            "se": std / math.sqrt(n) if n > 1 else math.nan}


def group_summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy (best and last, over seeds) and weighted mean QE per (binarizer, ω0) group."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in runs:
        key = (r["binarizer"], r["omega0"] if r["binarizer"] == "biper" else math.nan)
        groups.setdefault(key, []).append(r)
    out = []
    for (binarizer, omega0), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        totals = [m["analysis"]["totals"] for m in members]
        out.append({
            "binarizer": binarizer, "omega0": None if math.isnan(omega0) else omega0,
            "seeds": [m["seed"] for m in members],
            "best_acc": mean_std_se(m["best_acc"] for m in members),
            "last_acc": mean_std_se(m["last_acc"] for m in members),
            "qe_emp_weighted": mean_std_se(t["qe_emp_weighted"] for t in totals),
            "qe_pred_weighted": mean_std_se(t["qe_pred_weighted"] for t in totals),
        })
    return out


def normalised_layer_qe(row: dict[str, Any], omega0: float) -> dict[str, float]:
    """Unit-free QE / E[latent²] of one analysed layer, for BiPer and for the sign baseline, at γ*.

    BiPer (latent sin(ω0 w)): predicted QE_min(x)/E sin²(x) at x = ω0·b_loc0 (analytic.normalised_qe);
    measured qe_emp / mean sin² with mean sin² = qe_emp + (mean|sin|)² (the row's γ*-side moments).
    Sign (latent w): predicted 1/2 under Laplace (analytic.normalised_qe_sign); measured
    1 − (mean|w|)²/mean w², mean w² = σ² + μ² of the row's Gaussian fit.
    """
    from biper_analysis import analytic

    e_sin2_emp = row["qe_emp"] + row["gamma_emp"] ** 2
    mean_w2 = row["gaussian_sigma"] ** 2 + row["gaussian_mu"] ** 2
    return {
        "biper_pred": float(analytic.normalised_qe(omega0, row["b_loc0"])),
        "biper_emp": row["qe_emp"] / e_sin2_emp,
        "sign_pred": float(analytic.normalised_qe_sign(row["b_loc0"])),
        "sign_emp": 1.0 - row["b_loc0"] ** 2 / mean_w2,
    }
