"""``biper-analysis eval RUN|FILE``: test accuracy of one of our checkpoints or an official one."""

from __future__ import annotations

import argparse
import sys

from biper_analysis._io.jsonio import write_json
from biper_analysis.analysis.checkpoints import RUN_FOLDER_RULE
from biper_analysis.commands._args import count, positive_float

__all__ = ["register", "run"]

ORDER = 61


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="test accuracy of a checkpoint (ours or official), beside the accuracy it stores",
        description=f"Evaluate a checkpoint file or a run folder ({RUN_FOLDER_RULE}). Official files "
        "take ω0, model and stage from the config.txt beside them. An option that "
        "contradicts the file is applied as asked, with a warning naming both values.",
    )
    p.add_argument("path", help="run folder or .pth.tar checkpoint")
    p.add_argument("--dataset", default=None, help="fashion-mnist | mnist | cifar10 (default: from the checkpoint)")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files")
    p.add_argument("--test-limit", type=count, default=None, help="use the first N test examples")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--threads", type=count, default=1, help="CPU threads (default 1: the same result on every run of one CPU kind)"
    )
    p.add_argument("--model", default=None, help="override the model name")
    p.add_argument(
        "--omega0",
        type=positive_float,
        default=None,
        help="override ω0 (needed when no config.txt is beside an official file)",
    )
    p.add_argument("--stage", type=int, choices=(1, 2), default=None, help="override the stage")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from biper_analysis._io.reproducible import use_threads
    from biper_analysis.training.data import spec
    from biper_analysis.training.evaluate import evaluate_checkpoint

    if args.dataset is not None:
        spec(args.dataset)
    use_threads(args.threads)
    result = evaluate_checkpoint(
        args.path,
        dataset=args.dataset,
        data_dir=args.data_dir,
        test_limit=args.test_limit,
        device=args.device,
        model=args.model,
        omega0=args.omega0,
        stage=args.stage,
    )
    for warning in result["warnings"]:
        sys.stderr.write(f"biper-analysis eval: warning: {warning}\n")
    if args.json:
        write_json(result, "-")
        return 0
    stored = result["stored_acc"]
    beside = "" if stored is None else (f"; the file says {stored:.2f}% ({result['test_acc'] - stored:+.2f} pp)")
    sys.stdout.write(
        f"{result['checkpoint']}: {result['model']} ω0={result['omega0']} stage {result['stage']} "
        f"({result['binarizer']}, {result['format']}) on {result['dataset']} "
        f"({result['n_test']} test images): top-1 {result['test_acc']:.2f}%{beside}, "
        f"loss {result['test_loss']:.4f}\n"
    )
    return 0
