"""The main job's training sweep: BiPer at several ω0 plus the sign baseline, several seeds, cached on disk.

:func:`run_training_sweep` trains every run that is missing (resuming one that was interrupted) in parallel
worker processes — spawned, one thread each, CPU code path pinned before torch loads
(:mod:`biper_analysis._io.reproducible`) — so a run's weights are the same whatever ``--jobs``, OMP_NUM_THREADS or the
machine load are. It then analyses each run (fit-b with every weight law, against the run's initial weights;
cached in ``RUN/analysis.json``, keyed by the checkpoint's SHA-256, :data:`ANALYSIS_VERSION` and every fittable
law's name and version from the law registry) and writes
``SWEEP/sweep.json``: every run the folder holds, group summaries, and provenance with the compute environment.
A second call reuses finished runs and cached analyses. Figures and paper checks read ``sweep.json`` through
:func:`load_training_sweep`; they never train.

A folder holds one *recipe* (preset, epochs, data limits): a sweep with another grid of the same recipe adds its
runs to the folder (the folder is never shrunk); another recipe is refused.

Layout::

    SWEEP/sweep.json                      recipe, every run (accuracies, analysis, drift), groups, provenance
    SWEEP/<binarizer>-w<omega0>-s<seed>/  one run folder each (see biper_analysis.training), plus
                                          summary.json (the finished run) and analysis.json (the cached analysis)
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.errors import UsageError
from biper_analysis._io.jsonio import dumps, jsonable, read_json
from biper_analysis._io.outputs import claim_folder
from biper_analysis._io.provenance import compute_environment, provenance
from biper_analysis._io.reproducible import pinned_environment, pinned_pool
from biper_analysis.paper import PUBLISHED_OMEGA0

__all__ = ["SWEEP_FILE", "RUN_SUMMARY", "ANALYSIS_FILE", "ANALYSIS_VERSION", "RECIPE_FIELDS", "SweepPlan",
           "run_name", "run_training_sweep", "load_training_sweep", "mean_std_se", "group_summary",
           "paired_difference", "normalised_layer_qe"]

SWEEP_FILE = "sweep.json"
RUN_SUMMARY = "summary.json"
ANALYSIS_FILE = "analysis.json"
#: Bump when the analysis of a run changes, so cached analyses are recomputed. A new law, or a law whose numbers
#: changed, needs no bump: the registry's (name, version) list is part of the cache key.
ANALYSIS_VERSION = 6
#: Training fields that define a folder's recipe (everything but what varies across runs and where they run).
RECIPE_FIELDS = ("model", "dataset", "epochs1", "epochs2", "batch_size", "test_batch_size", "lr1", "lr2",
                 "weight_decay1", "weight_decay2", "tau1", "tau2", "momentum", "warmup_epochs", "augment", "width",
                 "train_limit", "test_limit", "surrogate", "in_channels")


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Which runs the training sweep makes. The defaults fit the main job's budget on 2 CPU cores.

    ``seeds`` are used for BiPer at ``paired_omega0`` and for the sign baseline (paired by seed, for the
    BiPer-vs-sign claim); ``side_seeds`` for the other ω0 (the QE-vs-ω0 claims need ω0 coverage more than seeds).
    """

    omega0s: tuple[float, ...] = (2.0, 5.0, 20.0, 60.0)  # rad per unit weight; 20 is the published value
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)             # paired seeds: BiPer at paired_omega0 and sign
    side_seeds: tuple[int, ...] = (0, 1)                 # seeds of the other ω0
    paired_omega0: float = PUBLISHED_OMEGA0
    baseline: bool = True                                # also train the sign-STE baseline
    preset: str = "short"                                # a biper_analysis.training.PRESETS entry
    epochs1: int | None = None                           # override the preset's stage-1 epochs
    epochs2: int | None = None                           # override the preset's stage-2 epochs
    train_limit: int | None = None                       # first N training images (None: all 60 000)
    test_limit: int | None = None                        # first N test images (None: all 10 000)
    data_dir: str | None = None                          # None: $BIPER_DATA_DIR or Debian's Fashion-MNIST folder
    device: str = "cpu"

    def runs(self) -> list[tuple[str, Any]]:
        """(run name, TrainConfig) for every run in the plan, BiPer first, then the sign baseline."""
        from biper_analysis.training.config import preset

        overrides = {k: v for k, v in (("epochs1", self.epochs1), ("epochs2", self.epochs2),
                                        ("train_limit", self.train_limit), ("test_limit", self.test_limit),
                                        ("data_dir", self.data_dir), ("device", self.device)) if v is not None}
        out = []
        for omega0 in self.omega0s:
            seeds = self.seeds if math.isclose(omega0, self.paired_omega0) else self.side_seeds
            for seed in seeds:
                cfg = preset(self.preset, binarizer="biper", omega0=float(omega0), seed=seed, **overrides)
                out.append((run_name("biper", omega0, seed), cfg))
        if self.baseline:
            for seed in self.seeds:
                cfg = preset(self.preset, binarizer="sign", seed=seed, **overrides)
                out.append((run_name("sign", cfg.omega0, seed), cfg))
        return out

    def recipe(self) -> dict[str, Any]:
        """The recipe shared by every run of the plan (see :data:`RECIPE_FIELDS`)."""
        runs = self.runs()
        if not runs:
            raise UsageError("the sweep plan has no runs; give --omega0 and --seeds (or drop --no-baseline)")
        if self.baseline and not any(math.isclose(w, self.paired_omega0) for w in self.omega0s):
            raise UsageError(f"--paired-omega0 {self.paired_omega0:g} is not among --omega0 "
                             f"{','.join(f'{w:g}' for w in self.omega0s)}: the sign baseline would have no BiPer "
                             "partner; add it to --omega0, pass --paired-omega0 with one of them, or --no-baseline")
        config = runs[0][1].to_dict()
        return {"preset": self.preset, **{k: config[k] for k in RECIPE_FIELDS}}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_name(binarizer: str, omega0: float, seed: int) -> str:
    """Folder name of one run.

    >>> run_name("biper", 20.0, 1), run_name("sign", 20.0, 0)
    ('biper-w20-s1', 'sign-s0')
    """
    if binarizer == "biper":
        return f"biper-w{omega0:g}-s{seed}"
    return f"{binarizer}-s{seed}"


# ---------------------------------------------------------------------------------------------------
# One run: trained (or reused) and analysed in a worker process
# ---------------------------------------------------------------------------------------------------
def _finished_summary(run_dir: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The cached summary of a finished run with exactly this config, else None."""
    path = run_dir / RUN_SUMMARY
    if not path.exists():
        return None
    summary = read_json(path)
    stored = {k: v for k, v in summary.get("config", {}).items() if k not in ("device", "data_dir")}
    wanted = {k: v for k, v in config.items() if k not in ("device", "data_dir")}
    return summary if stored == wanted else None


def _train_or_reuse(run_dir: Path, cfg: Any) -> tuple[dict[str, Any], bool]:
    """Train one run unless a finished one with the same config is cached; resume a partial one."""
    from biper_analysis.training.loop import train_run

    config = jsonable(cfg.to_dict())
    cached = _finished_summary(run_dir, config)
    if cached is not None:
        return cached, True
    resume = (run_dir / "stage1" / "checkpoint.pth.tar").exists()
    if run_dir.exists() and not resume and any(run_dir.iterdir()):
        raise UsageError(f"{run_dir} exists but holds no finished run or checkpoint; remove it and rerun")
    summary = jsonable(train_run(cfg, run_dir, resume=resume, quiet=True))
    summary["config"] = config
    summary["environment"] = jsonable(compute_environment())
    with atomic_open(run_dir / RUN_SUMMARY) as fh:
        fh.write(dumps(summary))
    return summary, False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _analyse(run_dir: Path) -> dict[str, Any]:
    """fit-b of the run's final checkpoint with every law, against its initial weights, plus the stage-2 drift
    from stage 1's best; cached by checkpoint hash, analysis version and the laws' versions."""
    from biper_analysis.analysis.checkpoints import load_checkpoint, resolve_checkpoint_path
    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.laws import law_names, law_versions
    from biper_analysis.theory.weights import weight_drift

    ckpt_path = resolve_checkpoint_path(run_dir)
    key = {"checkpoint_sha256": _sha256(ckpt_path), "analysis_version": ANALYSIS_VERSION,
           "laws": law_versions(fittable=True)}
    cache = run_dir / ANALYSIS_FILE
    if cache.exists():
        cached = read_json(cache)
        if all(cached.get(k) == v for k, v in key.items()):
            return cached["analysis"]
    init = run_dir / "init.pth.tar"
    analysis = analyze_checkpoint(run_dir, laws=law_names(fittable=True),
                                  reference=init if init.exists() else None).to_dict()
    for row in analysis["layers"]:
        if row["n"] > 0:
            row["normalised"] = normalised_layer_qe(row, analysis["omega0"])
    stage1 = run_dir / "stage1" / "model_best.pth.tar"
    if ckpt_path.parent.name == "stage2" and stage1.exists():
        final, first = load_checkpoint(ckpt_path), load_checkpoint(stage1, omega0=analysis["omega0"])
        for row in analysis["layers"]:
            drift = weight_drift(final.array(row["name"]), first.array(row["name"]))
            row["drift_stage1_corr"], row["drift_stage1_rel_change"] = drift.correlation, drift.relative_change
    with atomic_open(cache) as fh:
        fh.write(dumps({**key, "analysis": analysis}))
    return analysis


def _run_one(name: str, run_dir: str, cfg: Any) -> dict[str, Any]:
    """Train (or reuse) and analyse one run; the record sweep.json keeps for it."""
    path = Path(run_dir)
    summary, reused = _train_or_reuse(path, cfg)
    return {"name": name, "binarizer": cfg.binarizer, "omega0": cfg.omega0, "seed": cfg.seed,
            "best_acc": summary["best_acc"], "last_acc": summary["last_acc"], "time_s": summary.get("time_s"),
            "reused": reused, "curve": _curve(path), "environment": summary.get("environment"),
            "analysis": _analyse(path)}


def _curve(run_dir: Path) -> list[dict[str, Any]]:
    """Per-epoch test accuracy and loss (for convergence plots)."""
    from biper_analysis._io.jsonio import read_jsonl

    return [{"stage": r["stage"], "epoch": r["epoch"], "test_acc": r["test_acc"], "train_loss": r["train_loss"]}
            for r in read_jsonl(run_dir / "metrics.jsonl")]


# ---------------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------------
#: The names run_name() gives: biper-w<ω0>-s<seed>, sign-s<seed>, fp-s<seed>.
_RUN_NAME = re.compile(r"^(biper-w[0-9.e+-]+|sign|fp)-s[0-9]+$")


def _check_folder(out_dir: Path, recipe: dict[str, Any], names: Sequence[str] = ()) -> dict[str, Any] | None:
    """The folder's existing sweep.json (same recipe), None for a new folder; refuse a different recipe, and a
    folder without sweep.json that holds anything but this plan's run folders (an interrupted first sweep)."""
    claim_folder(out_dir, option="--out")
    path = out_dir / SWEEP_FILE
    if not path.exists():
        # hidden names are left alone (a temporary file of an interrupted write must not block the rerun), and so
        # are run folders of any plan (an interrupted first sweep rerun with another grid)
        foreign = sorted(p.name for p in out_dir.iterdir()
                         if p.name not in names and not p.name.startswith(".") and not _RUN_NAME.match(p.name)) \
            if out_dir.is_dir() else []
        if foreign:
            raise UsageError(f"--out {out_dir} is not a training-sweep folder (it holds {foreign[0]!r}, and no "
                             f"{SWEEP_FILE}); choose a new folder")
        return None
    try:
        existing = read_json(path)
    except ValueError:
        raise UsageError(f"{path} is not a sweep file written by biper-analysis train-sweep; choose another --out") \
            from None
    old = existing.get("recipe")
    if not isinstance(old, dict) or existing.get("provenance", {}).get("producer") != "biper-analysis train-sweep":
        raise UsageError(f"{path} was written by an older or another program; choose a new --out folder")
    diff = [k for k in recipe if old.get(k) != recipe[k]]
    if diff:
        k = diff[0]
        raise UsageError(f"--out {out_dir} holds runs with {k} = {old.get(k)!r}, not {recipe[k]!r}; a folder holds one "
                         "recipe (runs are added, never replaced): choose another --out for this recipe")
    return existing


def run_training_sweep(out_dir: str | Path, plan: SweepPlan = SweepPlan(), jobs: int | None = None,
                       log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or reuse) every run of ``plan`` under ``out_dir`` in ``jobs`` worker processes (default: the number of
    cores), analyse each, and write ``sweep.json`` holding every run of the folder."""
    out_dir = Path(out_dir)
    runs = plan.runs()
    recipe = plan.recipe()
    existing = _check_folder(out_dir, recipe, [name for name, _ in runs])
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(runs)))
    out_dir.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {r["name"]: r for r in (existing or {}).get("runs", [])}
    with pinned_pool(jobs, torch_threads=True) as pool:
        futures = [(name, pool.submit(_run_one, name, str(out_dir / name), cfg)) for name, cfg in runs]
        for name, future in futures:
            record = future.result()
            records[name] = record
            if log is not None:
                log(f"{name}: {'reused' if record['reused'] else 'trained'}; best {record['best_acc']:.2f}% "
                    f"last {record['last_acc']:.2f}% ({record.get('time_s') or float('nan'):.0f} s)")
    ordered = sorted(records.values(), key=lambda r: (r["binarizer"] != "biper", r["omega0"], r["seed"]))
    environment = {**compute_environment(), "pinned": pinned_environment(threads=1), "torch_threads": 1,
                   "jobs": jobs}
    environment.pop("torch_cpu_capability", None)   # the workers', not this process's, is in each run's summary
    sweep = {"recipe": recipe, "plan": plan.to_dict(), "runs": ordered, "groups": group_summary(ordered),
             "provenance": provenance(plan.to_dict(), command="train-sweep", environment=environment)}
    with atomic_open(out_dir / SWEEP_FILE) as fh:
        fh.write(dumps(sweep))
    return sweep


def load_training_sweep(out_dir: str | Path) -> dict[str, Any]:
    """Read ``sweep.json``; FileNotFoundError naming the command that makes it."""
    path = Path(out_dir) / SWEEP_FILE
    if not path.exists():
        raise FileNotFoundError(f"no training sweep at {str(path)!r}; make it with "
                                f"`biper-analysis train-sweep --out {out_dir}`")
    sweep = read_json(path)
    sweep["_dir"] = str(out_dir)
    return sweep


# ---------------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------------
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


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> dict[str, Any]:
    """Paired-by-seed difference a − b over the seeds both have: per-seed values, mean, SD and the Student-t
    confidence interval at ``level``.

    >>> d = paired_difference({0: 2.0, 1: 3.0, 2: 4.0}, {0: 1.0, 1: 1.5, 2: 2.0})
    >>> d["mean"], [round(v, 3) for v in d["ci"]]
    (1.5, [0.258, 2.742])
    """
    seeds = sorted(set(a) & set(b))
    diffs = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    n = diffs.size
    mean = float(diffs.mean()) if n else math.nan
    sd = float(diffs.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n) if n > 1 else math.nan
    return {"seeds": seeds, "a": [a[s] for s in seeds], "b": [b[s] for s in seeds], "diff": diffs.tolist(),
            "n": n, "mean": mean, "sd": sd, "level": level, "ci": [mean - half, mean + half]}


def group_summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
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
    measured QE_min / mean sin² of the weights. Sign (latent w): predicted 1/2 under Laplace
    (analytic.normalised_qe_sign); measured 1 − (mean|w|)²/mean w².
    """
    from biper_analysis.theory import analytic

    return {
        "biper_pred": float(analytic.normalised_qe(omega0, row["b_loc0"])),
        "biper_emp": row["qe_emp"] / row["e_sin2_emp"],
        "sign_pred": float(analytic.normalised_qe_sign(row["b_loc0"])),
        "sign_emp": 1.0 - row["b_loc0"] ** 2 / row["mean_w2"],
    }

