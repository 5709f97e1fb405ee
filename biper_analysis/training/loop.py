"""The training loop: one readable loop for BiPer (two stages), the sign baseline and full precision.

Recipe (official BiPer CIFAR scripts): SGD momentum 0.9 with weight decay on every parameter; learning rate
per epoch from the pure :func:`~biper_analysis.training.config.lr_at` (5 warm-up epochs, then cosine); loss =
cross-entropy + τ·Σ_layers mean sin²(ω0 w) (BiPer only); stage 2 starts from stage 1's *best* checkpoint with the
same ω0, a fresh optimiser, and ``beta`` set to the per-channel mean|w| (as ``main_stage2.py``).

``RUN/metrics.jsonl`` holds one JSON line per epoch — loss, train/test accuracy (%), learning rate, and per
binarised layer the statistics of its weights by the package's one definition
(:func:`biper_analysis.theory.weights.weight_stats`) next to the Laplace prediction at the same b (only b for
"fp") — and is rewritten whole, atomically, after every epoch (so it never holds a torn line). ``RUN/init.pth.tar``
holds the initial weights, so every statement about trained weights can be made against them. What the weights did
in between (flips, zero crossings, phase histograms; TensorBoard event files in ``RUN/``) is recorded by
:class:`biper_analysis.training.trajectory.TrajectoryRecorder`, called at three points of the loop.

Determinism: the model is initialised from ``seed`` (:func:`initial_model`); each epoch's data order and
augmentation come from a generator seeded by (seed, stage, epoch[, rank]), so a run resumed from
``checkpoint.pth.tar`` ends with the same weights as an uninterrupted one on CPU. Bit-identical results across
thread counts and machines of one CPU kind need one thread and pinned CPU code paths
(:mod:`biper_analysis._io.reproducible`); the environment is recorded in every checkpoint's provenance.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from biper_analysis._io.atomic import atomic_open, atomic_path
from biper_analysis._io.jsonio import read_jsonl, write_jsonl
from biper_analysis._io.outputs import claim_folder
from biper_analysis._io.provenance import compute_environment, provenance
from biper_analysis.analysis.checkpoints import read_torch_file
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats
from biper_analysis.training import data as image_data
from biper_analysis.training.config import RESUMABLE_FIELDS, TrainConfig, lr_at
from biper_analysis.training.nn.layers import binary_layers
from biper_analysis.training.nn.models import DEFAULT_IN_CHANNELS, binary_layer_names, build_model, set_stage
from biper_analysis.training.trajectory import TrajectoryRecorder

CHECKPOINT = "checkpoint.pth.tar"
INIT = "init.pth.tar"
BEST = "model_best.pth.tar"
CONFIG_TXT = "config.txt"
METRICS = "metrics.jsonl"


# ---------------------------------------------------------------------------------------------------
# Process group (torchrun) and device
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def _init_dist(device: torch.device) -> Dist:
    """Join the torchrun process group (gloo on CPU, nccl on CUDA) when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when available (cuda:LOCAL_RANK under torchrun), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        name = f"cuda:{os.environ['LOCAL_RANK']}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available here; use device 'cpu'")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None


def _all_reduce(values: list[float], dist_info: Dist, device: torch.device) -> list[float]:
    if not dist_info.active:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _barrier(dist_info: Dist) -> None:
    if dist_info.active:
        import torch.distributed as dist

        dist.barrier()


# ---------------------------------------------------------------------------------------------------
# Per-epoch metrics: the statistics of the weights, by the package's one definition
# ---------------------------------------------------------------------------------------------------
def layer_metrics(model: nn.Module, binarizer: str, omega0: float) -> list[dict[str, Any]]:
    """Per binarised layer, :func:`biper_analysis.theory.weights.weight_stats` of its latent weights.

    ``b`` = mean|w|; for BiPer the moments of sin(ω0 w) (the paper's QE, whatever the surrogate): ``qe_opt``
    (γ* = mean|sin|), ``qe_gamma1`` (γ = 1, the ±1 weights the network uses), ``official_l1`` and ``qe_laplace``
    (QE_min of Laplace(0, b) at the same b); for the sign baseline the moments of w (``qe_opt`` = mean w² −
    (mean|w|)², ``qe_laplace`` = b²). ``normalised_qe`` = qe_opt / mean(latent²).
    """
    rows = []
    for name, layer in binary_layers(model):
        w = layer.weight.detach().cpu().numpy()
        if binarizer == "fp":
            rows.append({"name": f"{name}.weight", "b": weight_stats(w).b})
            continue
        stats = weight_stats(w, omega0 if binarizer == "biper" else None)
        row: dict[str, Any] = {"name": f"{name}.weight", "b": stats.b}
        if binarizer == "biper":
            row.update(
                {
                    "gamma_opt": stats.e_abs_sin,
                    "qe_opt": stats.qe(),
                    "normalised_qe": stats.normalised_qe(),
                    "qe_gamma1": stats.qe(1.0),
                    "official_l1": stats.official_l1,
                    "qe_laplace": float(analytic.qe(omega0, stats.b)) if stats.b > 0 else None,
                }
            )
        else:
            row.update(
                {
                    "gamma_opt": stats.b,
                    "qe_opt": stats.qe_sign(),
                    "normalised_qe": stats.normalised_qe_sign(),
                    "qe_laplace": float(analytic.qe_sign(stats.b)) if stats.b > 0 else None,
                }
            )
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------
# Files: checkpoints, config.txt, metrics.jsonl (all atomic)
# ---------------------------------------------------------------------------------------------------
def _freq_text(omega0: float) -> str:
    """ω0 as the official stage-2 script parses it (``freq:\\s+(\\d+\\.\\d+)``): '20.0', never '20' or '2e+01'."""
    text = repr(float(omega0))
    return text if "e" not in text else np.format_float_positional(float(omega0), trim="0")


def write_config_txt(path: Path, cfg: TrainConfig, stage: int) -> None:
    """Official-style config.txt: a timestamp line, a blank line, then ``key:  value`` lines."""
    epochs = cfg.stage_epochs(stage)
    items: dict[str, Any] = {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "data_path": cfg.data_dir or "",
        "seed": cfg.seed,
        "lr": cfg.stage_lr(stage),
        "weight_decay": cfg.stage_weight_decay(stage),
        "momentum": cfg.momentum,
        "epochs": epochs,
        "batch_size": cfg.batch_size,
        "batch_size_test": cfg.test_batch_size,
        "lr_type": "cos",
        "optimizer": "sgd",
        "warm_up": cfg.warmup_epochs > 0,
        "freq": _freq_text(cfg.omega0),
        "tau": cfg.stage_tau(stage),
        "stage2": stage == 2,
        "binarizer": cfg.binarizer,
        "surrogate": cfg.surrogate,
        "augment": cfg.augment,
    }
    with atomic_open(path) as fh:
        fh.write(str(datetime.now()) + "\n\n")
        for key, value in items.items():
            fh.write(f"{key}:  {value}\n")


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


# ---------------------------------------------------------------------------------------------------
# One epoch
# ---------------------------------------------------------------------------------------------------
def _epoch_seed(seed: int, stage: int, epoch: int, stream: int) -> int:
    return (seed * 1_000_003 + stage * 10_007 + epoch * 101 + stream) % (2**63 - 1)


def _progress(iterable: Any, desc: str, enabled: bool) -> Any:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


def train_one_epoch(
    model: nn.Module,
    core: nn.Module,
    opt: torch.optim.Optimizer,
    train: image_data.ImageData,
    cfg: TrainConfig,
    stage: int,
    epoch: int,
    tau: float,
    channels: int,
    device: torch.device,
    dist_info: Dist,
    show_progress: bool,
    on_step: Any = None,
) -> tuple[float, float]:
    """One pass over the training set; returns (mean loss incl. penalty, accuracy %) over all processes.
    ``on_step()`` is called after every optimiser step (the trajectory recorder)."""
    model.train()
    order = torch.Generator().manual_seed(_epoch_seed(cfg.seed, stage, epoch, 0))
    aug = torch.Generator().manual_seed(_epoch_seed(cfg.seed, stage, epoch, 1 + dist_info.rank))
    batches = image_data.batch_indices(len(train), cfg.batch_size, order, dist_info.rank, dist_info.world_size)
    layers = [m for _, m in binary_layers(core)] if tau > 0 else []
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)  # accumulated on the device: no sync per step
    correct = torch.zeros((), dtype=torch.float64, device=device)
    count = 0.0
    for idx in _progress(batches, f"stage {stage} epoch {epoch + 1}", show_progress):
        images = train.images[idx]
        if cfg.augment:
            images = image_data.augment(images, aug)
        x = image_data.to_input(images, train.mean, train.std, channels).to(device, non_blocking=True)
        y = train.labels[idx].to(device, non_blocking=True)
        out = model(x)
        loss = F.cross_entropy(out, y)
        if layers:
            loss = loss + tau * torch.stack([m.sin2_penalty() for m in layers]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step()
        n = y.numel()
        loss_sum += loss.detach() * n
        correct += (out.detach().argmax(1) == y).sum()
        count += n
    loss_total, correct_total, count = _all_reduce([float(loss_sum), float(correct), count], dist_info, device)
    return loss_total / max(count, 1.0), 100.0 * correct_total / max(count, 1.0)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: image_data.ImageData,
    channels: int,
    device: torch.device,
    batch_size: int = 1000,
    dist_info: Dist = Dist(),
) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy %) on ``data``; under torchrun each process takes a shard."""
    model.eval()
    idx_all = torch.arange(dist_info.rank, len(data), dist_info.world_size)
    loss_sum, correct = 0.0, 0.0
    for start in range(0, idx_all.numel(), batch_size):
        idx = idx_all[start : start + batch_size]
        x = image_data.to_input(data.images[idx], data.mean, data.std, channels).to(device)
        y = data.labels[idx].to(device)
        out = model(x)
        loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
        correct += float((out.argmax(1) == y).sum())
    loss_sum, correct = _all_reduce([loss_sum, correct], dist_info, device)
    return loss_sum / len(data), 100.0 * correct / len(data)


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------
def _stage_done(stage_dir: Path) -> int:
    """Epochs completed in a stage directory (0 when it holds no checkpoint)."""
    ckpt = stage_dir / CHECKPOINT
    return int(read_torch_file(ckpt)["epoch"]) if ckpt.exists() else 0


def check_run_dir(out: Path, resume: bool) -> None:
    """Refuse to overwrite a run, or to resume one that has no checkpoint (before anything is written)."""
    has_ckpt = any((out / f"stage{s}" / CHECKPOINT).exists() for s in (1, 2))
    if resume and not has_ckpt:
        raise FileNotFoundError(
            f"cannot resume: no checkpoint in {str(out)!r} (looked for stage1/{CHECKPOINT}); "
            "start the run without resume"
        )
    if not resume and has_ckpt:
        raise ValueError(f"{str(out)!r} already holds a run; resume it or choose a new run folder")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the run folder {str(out)!r} is a file; choose a directory path")
    if not resume and out.is_dir() and (out / METRICS).exists():
        # metrics of an earlier run (interrupted before its first checkpoint): never overwrite them silently
        raise ValueError(f"{str(out)!r} already holds {METRICS} from another run; remove it or choose a new run folder")
    held = sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.is_dir() else []
    if not resume and held:
        # a run writes a folder of its own: never in among a dataset, another run's stage files or anything else
        raise ValueError(
            f"the run folder {str(out)!r} is not empty (it holds {held[0]!r}); a run needs a new or empty folder"
        )


def finished_epochs(out: str | os.PathLike[str], stages: tuple[int, ...] = (1, 2)) -> dict[int, int]:
    """Epochs completed per stage of the run in ``out``, read from its checkpoints (0 where there is none)."""
    return {s: _stage_done(Path(out) / f"stage{s}") for s in stages}


def remove_unfinished_run(out: Path, stages: tuple[int, ...], created: bool) -> None:
    """Remove what a new run wrote before its first checkpoint: init.pth.tar, metrics.jsonl, the stage folders'
    config.txt and model_best.pth.tar, the stage folders once empty, and ``out`` if this run created it and it is
    empty. Nothing else is touched (the folder was new or empty when the run started: :func:`check_run_dir`)."""
    if any((out / f"stage{s}" / CHECKPOINT).exists() for s in stages):
        return
    for name in (INIT, METRICS):
        (out / name).unlink(missing_ok=True)
    for s in stages:
        folder = out / f"stage{s}"
        for name in (CONFIG_TXT, BEST):
            (folder / name).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    if created and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def _duration(seconds: float) -> str:
    """'45 s', '12 min', '2.3 h'.

    >>> _duration(45), _duration(720), _duration(8280)
    ('45 s', '12 min', '2.3 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _check_same_config(out: Path, cfg: TrainConfig, done: dict[int, int]) -> None:
    """A resumed run must continue the same recipe: any other change would break "same weights as uninterrupted"."""
    stage = max((s for s, n in done.items() if n > 0), default=1)
    stored = read_torch_file(out / f"stage{stage}" / CHECKPOINT).get("config", {})
    for key, value in cfg.to_dict().items():
        if key not in RESUMABLE_FIELDS and key in stored and stored[key] != value:
            raise ValueError(
                f"cannot resume {str(out)!r}: it was started with {key}={stored[key]!r}, not "
                f"{value!r}; resume with {key}={stored[key]!r} (the original configuration)"
            )


def checkpoint_record(
    core: nn.Module,
    opt: torch.optim.Optimizer,
    cfg: TrainConfig,
    stage: int,
    epochs_done: int,
    best: float,
    lr: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Official keys (epoch, model, state_dict, best_prec1, optimizer, lr_scheduler) plus ours."""
    config = cfg.to_dict()
    return {
        "epoch": epochs_done,
        "model": cfg.model,
        "state_dict": {k: v.detach().cpu() for k, v in core.state_dict().items()},
        "best_prec1": float(best),
        "optimizer": opt.state_dict(),
        "lr_scheduler": {
            "last_epoch": epochs_done - 1,
            "base_lr": cfg.stage_lr(stage),
            "last_lr": lr,
            "T_max": max(cfg.stage_epochs(stage) - max(cfg.warmup_epochs - 1, 0), 1),
            "warmup_epochs": cfg.warmup_epochs,
        },
        "omega0": float(cfg.omega0),
        "stage": stage,
        "binarizer": cfg.binarizer,
        "surrogate": cfg.surrogate,
        "binarized_layers": binary_layer_names(core),
        "config": config,
        "seed": cfg.seed,
        "provenance": provenance(config, cfg.seed, command="train", stage=stage, environment=compute_environment()),
        **extra,
    }


def initial_model(cfg: TrainConfig, num_classes: int, in_channels: int) -> nn.Module:
    """The model a run starts from: seeded with ``cfg.seed``, built at stage 1 (the one definition, so that
    ``RUN/init.pth.tar`` can be rebuilt bit for bit from the seed)."""
    torch.manual_seed(cfg.seed)
    return build_model(
        cfg.model,
        num_classes=num_classes,
        in_channels=in_channels,
        omega0=cfg.omega0,
        stage=1,
        binarizer=cfg.binarizer,
        surrogate=cfg.surrogate,
        **cfg.model_kwargs(),
    )


def initial_record(core: nn.Module, cfg: TrainConfig) -> dict[str, Any]:
    """``RUN/init.pth.tar``: the initial weights with the run's metadata (stage 0: before any training)."""
    config = cfg.to_dict()
    return {
        "epoch": 0,
        "model": cfg.model,
        "state_dict": {k: v.detach().cpu().clone() for k, v in core.state_dict().items()},
        "omega0": float(cfg.omega0),
        "stage": 0,
        "binarizer": cfg.binarizer,
        "surrogate": cfg.surrogate,
        "binarized_layers": binary_layer_names(core),
        "config": config,
        "seed": cfg.seed,
        "provenance": provenance(
            config, cfg.seed, command="train", what="initial weights", environment=compute_environment()
        ),
    }


def train_run(
    cfg: TrainConfig, out: str | os.PathLike[str], *, resume: bool = False, quiet: bool = False
) -> dict[str, Any]:
    """Train one run (both stages, or one for "fp") into ``out``; return a summary dict.

    ``out/stage1/`` and ``out/stage2/`` each get ``checkpoint.pth.tar`` (last), ``model_best.pth.tar`` and an
    official-style ``config.txt``; ``out/metrics.jsonl`` gets one line per epoch. Bad input (options, data files,
    an unwritable folder) raises a ValueError / FileNotFoundError before anything is created. Interrupted or failed
    before its first checkpoint, a new run removes what it wrote (:func:`remove_unfinished_run`); after it, the
    checkpoints stay and ``resume=True`` continues (:func:`finished_epochs` says how far it got).
    """
    t_start = time.perf_counter()
    out = Path(out)
    device = resolve_device(cfg.device)
    check_run_dir(out, resume)
    claim_folder(out, option="--out")  # a folder that cannot be written: one line now, before any work
    train = image_data.load_split(cfg.dataset, "train", cfg.data_dir, cfg.train_limit)
    test = image_data.load_split(cfg.dataset, "test", cfg.data_dir, cfg.test_limit)
    channels = cfg.in_channels or DEFAULT_IN_CHANNELS[cfg.model]
    if train.images.shape[1] not in (1, channels):
        raise ValueError(
            f"{cfg.dataset} images have {train.images.shape[1]} channels but {cfg.model} takes "
            f"{channels}; pass in_channels={train.images.shape[1]} or choose another model"
        )
    dist_info = _init_dist(device)
    if cfg.batch_size < 2 * dist_info.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} is the global batch; it must be >= 2 per process")
    show_progress = not quiet and dist_info.is_main and sys.stderr.isatty()
    if not quiet and dist_info.is_main:  # after every check: bad input stays one line
        what = cfg.binarizer + (f" ω0={cfg.omega0:g}" if cfg.binarizer == "biper" else "")
        lengths = ", ".join(f"stage {s}: {cfg.stage_epochs(s)} epochs" for s in cfg.stages)
        sys.stderr.write(
            f"training {cfg.model} ({what}) on {cfg.dataset} ({len(train)} training, {len(test)} test "
            f"images) into {out} ({lengths}){'; resuming' if resume else ''}; one line per epoch "
            "follows\n"
        )

    created = not out.exists()
    recorder = None
    try:
        core = initial_model(cfg, train.num_classes, channels).to(device)
        model: nn.Module = core
        if dist_info.active:
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(core, device_ids=[device.index] if device.type == "cuda" else None)

        if dist_info.is_main:
            for s in cfg.stages:
                (out / f"stage{s}").mkdir(parents=True, exist_ok=True)
            if not (out / INIT).exists():
                _save(initial_record(core, cfg), out / INIT)
        _barrier(dist_info)
        metrics_path = out / METRICS
        done = {s: _stage_done(out / f"stage{s}") for s in cfg.stages} if resume else {s: 0 for s in cfg.stages}
        records = (
            [r for r in read_jsonl(metrics_path) if r.get("epoch", 0) <= done.get(r.get("stage", 0), 0)]
            if resume
            else []
        )

        if resume:
            _check_same_config(out, cfg, done)
        recorder = TrajectoryRecorder.for_run(
            core,
            cfg,
            out,
            records,
            len(train),
            main=dist_info.is_main,
            world_size=dist_info.world_size,
            layer_stats=lambda: layer_metrics(core, cfg.binarizer, cfg.omega0),
        )
        summary: dict[str, Any] = {"run_dir": str(out), "config": cfg.to_dict(), "stages": {}}
        epoch_times: list[float] = []
        for stage in cfg.stages:
            stage_dir = out / f"stage{stage}"
            epochs = cfg.stage_epochs(stage)
            tau = cfg.stage_tau(stage)
            if stage == 2:
                set_stage(core, 2)
                if done[2] == 0:  # initialise from stage 1's best (official main_stage2.py)
                    core.load_state_dict(read_torch_file(out / "stage1" / BEST)["state_dict"])
                    with torch.no_grad():
                        for _, layer in binary_layers(core):
                            dims = tuple(range(1, layer.weight.dim()))
                            layer.beta.copy_(layer.weight.abs().mean(dims).view_as(layer.beta))
            opt = torch.optim.SGD(
                core.parameters(),
                lr=cfg.stage_lr(stage),
                momentum=cfg.momentum,
                weight_decay=cfg.stage_weight_decay(stage),
            )
            best, start = 0.0, done[stage]
            if start > 0:
                ckpt = read_torch_file(stage_dir / CHECKPOINT)
                core.load_state_dict(ckpt["state_dict"])
                opt.load_state_dict(ckpt["optimizer"])
                best = float(ckpt["best_prec1"])
            elif dist_info.is_main:
                write_config_txt(stage_dir / CONFIG_TXT, cfg, stage)
            for _, layer in binary_layers(core):
                layer.tau.fill_(tau)  # stored like the official code (unused in the forward pass)
            for epoch in range(start, epochs):
                t0 = time.perf_counter()
                recorder.start_epoch(stage, epoch)
                lr = lr_at(epoch, cfg.stage_lr(stage), epochs, cfg.warmup_epochs)
                for group in opt.param_groups:
                    group["lr"] = lr
                train_loss, train_acc = train_one_epoch(
                    model,
                    core,
                    opt,
                    train,
                    cfg,
                    stage,
                    epoch,
                    tau,
                    channels,
                    device,
                    dist_info,
                    show_progress,
                    on_step=recorder.after_step,
                )
                if dist_info.active:
                    import torch.distributed as dist

                    for buf in core.buffers():  # one set of BatchNorm statistics (rank 0's) for eval and the file
                        dist.broadcast(buf, 0)
                test_loss, test_acc = evaluate(core, test, channels, device, cfg.test_batch_size, dist_info)
                is_best = test_acc > best
                best = max(best, test_acc)
                record = {
                    "stage": stage,
                    "epoch": epoch + 1,
                    "lr": lr,
                    "train_loss": train_loss,
                    "train_acc": train_acc,
                    "test_loss": test_loss,
                    "test_acc": test_acc,
                    "best_acc": best,
                    "time_s": time.perf_counter() - t0,
                    "tau": tau,
                    "layers": layer_metrics(core, cfg.binarizer, cfg.omega0),
                }
                recorder.finish_epoch(record)
                records.append(record)
                if dist_info.is_main:
                    ckpt = checkpoint_record(
                        core,
                        opt,
                        cfg,
                        stage,
                        epoch + 1,
                        best,
                        lr,
                        {"test_acc": test_acc, "world_size": dist_info.world_size},
                    )
                    # best, then metrics, then the resume point last: a crash in between never leaves a checkpoint
                    # that claims an epoch whose best model or metrics line was not written
                    if is_best or not (stage_dir / BEST).exists():
                        _save(ckpt, stage_dir / BEST)
                    write_jsonl(metrics_path, records)
                    recorder.write_events(record)
                    _save(ckpt, stage_dir / CHECKPOINT)
                    if not quiet:
                        epoch_times.append(record["time_s"])
                        left = sum(
                            cfg.stage_epochs(t) - (epoch + 1 if t == stage else 0) for t in cfg.stages if t >= stage
                        )
                        sys.stderr.write(
                            f"stage {stage} epoch {epoch + 1}/{epochs}: loss {train_loss:.4f} "
                            f"train {train_acc:.2f}% test {test_acc:.2f}% (best {best:.2f}%) "
                            f"lr {lr:.3g} {record['time_s']:.1f}s"
                            + (f"; about {_duration(left * float(np.mean(epoch_times)))} left" if left else "")
                            + "\n"
                        )
                _barrier(dist_info)
            stage_records = [r for r in records if r["stage"] == stage]
            summary["stages"][stage] = {
                "epochs": epochs,
                "best_acc": max((r["test_acc"] for r in stage_records), default=None),
                "last_acc": stage_records[-1]["test_acc"] if stage_records else None,
            }
            _barrier(dist_info)
        recorder.close()
        final = summary["stages"][cfg.stages[-1]]
        summary.update(
            {
                "best_acc": final["best_acc"],
                "last_acc": final["last_acc"],
                "layers": records[-1]["layers"] if records else [],
                "time_s": time.perf_counter() - t_start,
                "world_size": dist_info.world_size,
            }
        )
        return summary
    except BaseException:
        if recorder is not None:
            recorder.close()  # flush the event files written so far (a resume rewrites them anyway)
        # interrupted or failed before a first checkpoint: nothing to resume from, so nothing is left behind (a
        # folder holding only init.pth.tar could be neither resumed nor reused); a run with a checkpoint is kept
        if dist_info.is_main and not resume:
            remove_unfinished_run(out, cfg.stages, created)
        raise


__all__ = [
    "train_run",
    "evaluate",
    "layer_metrics",
    "lr_at",
    "write_config_txt",
    "check_run_dir",
    "finished_epochs",
    "remove_unfinished_run",
    "resolve_device",
    "train_one_epoch",
    "initial_model",
    "initial_record",
    "CHECKPOINT",
    "BEST",
    "CONFIG_TXT",
    "METRICS",
    "INIT",
]
