"""``biper-analysis train``: train one BiPer / sign / fp run (two stages) into a run directory.

Also run under DDP as ``torchrun --nproc_per_node 2 -m biper_analysis.training [same options]``.
"""
from __future__ import annotations

import argparse
import sys

ORDER = 60


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` (shared with ``python -m biper_analysis.training``); defaults from TrainConfig."""
    p.add_argument("--model", default=None,
                   help="resnet20_1w1a | resnet18_1w1a | vgg_small_1w1a | mlp_1w1a (default resnet20_1w1a)")
    p.add_argument("--dataset", default=None, help="fashion-mnist | mnist | cifar10 (default fashion-mnist)")
    p.add_argument("--data-dir", default=None, help="directory with the dataset files (else $BIPER_DATA_DIR, "
                   "else /usr/share/datasets/fashion-mnist)")
    p.add_argument("--binarizer", default=None, help="biper | sign | fp (default biper)")
    p.add_argument("--surrogate", default=None, help="sine | triangle: the periodic latent of BiPer (default sine)")
    p.add_argument("--omega0", type=float, default=None, help="angular frequency ω0 > 0 (default 20)")
    p.add_argument("--epochs1", type=int, default=None, help="stage-1 epochs (default 28)")
    p.add_argument("--epochs2", type=int, default=None, help="stage-2 epochs (default 19)")
    p.add_argument("--batch-size", type=int, default=None, help="global batch size (default 256)")
    p.add_argument("--lr1", type=float, default=None, help="stage-1 peak learning rate (default 0.021)")
    p.add_argument("--lr2", type=float, default=None, help="stage-2 peak learning rate (default 0.0037)")
    p.add_argument("--weight-decay1", type=float, default=None, help="stage-1 weight decay (default 0.0016)")
    p.add_argument("--weight-decay2", type=float, default=None, help="stage-2 weight decay (default 0.00016)")
    p.add_argument("--tau1", type=float, default=None, help="stage-1 τ of the sin² penalty (default 0.037)")
    p.add_argument("--tau2", type=float, default=None, help="stage-2 τ (default 0.0468)")
    p.add_argument("--warmup-epochs", type=int, default=None, help="linear warm-up epochs per stage (default 5)")
    p.add_argument("--no-augment", action="store_true", help="no random crop / flip on the training set")
    p.add_argument("--preset", default=None, help="start from a named preset: short (the small CPU net) | anchor")
    p.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    p.add_argument("--device", default=None, help="auto (CUDA when available) | cpu | cuda | cuda:N")
    p.add_argument("--train-limit", type=int, default=None, help="use the first N training examples")
    p.add_argument("--test-limit", type=int, default=None, help="use the first N test examples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--seed", type=int, default=None, help="seed of init, data order and augmentation (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a BiPer / sign / fp network (two-stage recipe)",
                       description="Train one run into a run directory (stage1/, stage2/, metrics.jsonl).")
    add_train_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):  # -> TrainConfig
    from biper_analysis.training.config import TrainConfig, preset

    fields = {
        "model": args.model, "dataset": args.dataset, "data_dir": args.data_dir, "binarizer": args.binarizer,
        "surrogate": args.surrogate, "omega0": args.omega0, "epochs1": args.epochs1, "epochs2": args.epochs2,
        "batch_size": args.batch_size, "lr1": args.lr1, "lr2": args.lr2, "weight_decay1": args.weight_decay1,
        "weight_decay2": args.weight_decay2, "tau1": args.tau1, "tau2": args.tau2, "warmup_epochs": args.warmup_epochs, "train_limit": args.train_limit,
        "test_limit": args.test_limit, "seed": args.seed, "device": args.device,
    }
    if args.no_augment:
        fields["augment"] = False
    given = {k: v for k, v in fields.items() if v is not None}
    if args.preset is not None:
        return preset(args.preset, **given)
    return TrainConfig(**given)


def run(args: argparse.Namespace) -> int:
    from biper_analysis.training.loop import train_run

    cfg = config_from_args(args)
    summary = train_run(cfg, args.out, resume=args.resume, quiet=args.quiet)
    if summary.get("world_size", 1) == 1 or _rank() == 0:
        parts = [f"stage {s}: best {v['best_acc']:.2f}% last {v['last_acc']:.2f}%"
                 for s, v in summary["stages"].items() if v["best_acc"] is not None]
        sys.stdout.write(f"{args.out}: " + ("; ".join(parts) or "no epochs trained")
                         + f" ({summary['time_s']:.1f} s)\n")
    return 0


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))
