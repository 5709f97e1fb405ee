"""Train BiPer networks: data, the frozen config, the loop, checkpoint evaluation.

Run directory layout (what ``biper-analysis train`` and :func:`train_run` write, what the analysis reads)::

    RUN/init.pth.tar                  the initial weights (seeded; rebuilt bit for bit by initial_model)
    RUN/metrics.jsonl                 one JSON line per epoch (stage, epoch, lr, loss, accuracies, per-layer b/QE,
                                      flips, zero crossings and phase histogram: biper_analysis.training.trajectory)
    RUN/events.out.tfevents.*         the same as TensorBoard event files (``tensorboard --logdir RUN``)
    RUN/stage1/checkpoint.pth.tar     last epoch of stage 1  (official keys + omega0, stage, binarizer, ...)
    RUN/stage1/model_best.pth.tar     best test accuracy of stage 1
    RUN/stage1/config.txt             official style: timestamp line, then ``key:  value`` (freq as 20.0)
    RUN/stage2/...                    the same for stage 2 (biper and sign runs)

The "fp" baseline has one stage only: ``RUN/stage1/`` trained for epochs1 + epochs2 epochs with the stage-1
learning rate and weight decay. Readers take the highest stage's ``model_best.pth.tar``, else its
``checkpoint.pth.tar`` (:func:`biper_analysis.analysis.checkpoints.resolve_checkpoint_path`). Checkpoints hold only
plain python types and tensors (``torch.load(weights_only=True)``).

>>> from biper_analysis.training import TrainConfig, lr_at
>>> TrainConfig().omega0, round(lr_at(0, 0.021, 28), 4)
(20.0, 0.0042)
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; resolved on first use, so that importing the (torch-free) training options of
# biper_analysis.training.config does not load torch
_LAZY = {
    "TrainConfig": "config",
    "lr_at": "config",
    "preset": "config",
    "PRESETS": "config",
    "train_run": "loop",
    "initial_model": "loop",
    "layer_metrics": "loop",
    "evaluate_checkpoint": "evaluate",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'biper_analysis.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"biper_analysis.training.{_LAZY[name]}"), name)
