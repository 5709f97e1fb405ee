"""``biper-analysis eval RUN_DIR|FILE``: test accuracy of one of our checkpoints or an official one."""
from __future__ import annotations

import argparse
import sys

ORDER = 61


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="test accuracy of a checkpoint (ours or official)",
                       description="Evaluate a run directory (stage2/model_best.pth.tar, else the highest stage) "
                                   "or a checkpoint file. Official files take ω0, model and stage from the "
                                   "config.txt beside them.")
    p.add_argument("path", help="run directory or .pth.tar checkpoint")
    p.add_argument("--dataset", default=None, help="fashion-mnist | mnist | cifar10 (default: from the checkpoint)")
    p.add_argument("--data-dir", default=None, help="directory with the dataset files")
    p.add_argument("--test-limit", type=int, default=None, help="use the first N test examples")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--model", default=None, help="override the model name")
    p.add_argument("--omega0", type=float, default=None, help="override ω0 (needed when no config.txt is beside an "
                   "official file)")
    p.add_argument("--stage", type=int, choices=(1, 2), default=None, help="override the stage")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from biper_analysis.commands._args import write_json
    from biper_analysis.training.data import spec
    from biper_analysis.training.evaluate import evaluate_checkpoint

    if args.dataset is not None:
        spec(args.dataset)
    if args.omega0 is not None and not args.omega0 > 0:
        raise ValueError(f"--omega0 must be > 0, got {args.omega0}")
    if args.test_limit is not None and args.test_limit < 1:
        raise ValueError(f"--test-limit must be >= 1, got {args.test_limit}")
    result = evaluate_checkpoint(args.path, dataset=args.dataset, data_dir=args.data_dir, test_limit=args.test_limit,
                                 device=args.device, model=args.model, omega0=args.omega0, stage=args.stage)
    if args.json:
        write_json(result, "-")
        return 0
    sys.stdout.write(f"{result['checkpoint']}: {result['model']} ω0={result['omega0']} stage {result['stage']} "
                     f"({result['binarizer']}, {result['format']}) on {result['dataset']} "
                     f"({result['n_test']} test images): top-1 {result['test_acc']:.2f}% "
                     f"loss {result['test_loss']:.4f}\n")
    return 0
