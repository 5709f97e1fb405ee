"""Train BiPer networks: data, the frozen config, the loop, checkpoint evaluation.

Run directory layout (what ``biper-analysis train`` and :func:`train_run` write, what the analysis reads)::

    RUN/metrics.jsonl                 one JSON line per epoch (stage, epoch, lr, loss, accuracies, per-layer b/QE)
    RUN/stage1/checkpoint.pth.tar     last epoch of stage 1  (official keys + omega0, stage, binarizer, ...)
    RUN/stage1/model_best.pth.tar     best test accuracy of stage 1
    RUN/stage1/config.txt             official style: timestamp line, then ``key:  value`` (freq as 20.0)
    RUN/stage2/...                    the same for stage 2 (biper and sign runs)

The "fp" baseline has one stage only: ``RUN/stage1/`` trained for epochs1 + epochs2 epochs with the stage-1
learning rate and weight decay; readers take ``RUN/stage2/model_best.pth.tar`` and fall back to the highest
stage present. Checkpoints hold only plain python types and tensors (``torch.load(weights_only=True)``).

>>> from biper_analysis.training import TrainConfig, lr_at
>>> TrainConfig().omega0, round(lr_at(0, 0.021, 28), 4)
(20.0, 0.0042)
"""
from biper_analysis.training.config import PRESETS, TrainConfig, lr_at, preset
from biper_analysis.training.evaluate import evaluate_checkpoint, find_checkpoint
from biper_analysis.training.loop import layer_metrics, read_config_txt, train_run

__all__ = ["TrainConfig", "lr_at", "preset", "PRESETS", "train_run", "evaluate_checkpoint", "find_checkpoint",
           "layer_metrics", "read_config_txt"]
