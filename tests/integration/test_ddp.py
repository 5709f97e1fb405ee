"""DistributedDataParallel under torchrun: 2 CPU processes (gloo) on a tiny subset, global batch split in two."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.fake_datasets import write_fashion_mnist


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_torchrun_two_cpu_processes(tmp_path):
    data = write_fashion_mnist(tmp_path / "data", n_train=64, n_test=32)
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    cmd = ([torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]) + [
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "biper_analysis.training",
        "--model",
        "mlp_1w1a",
        "--data-dir",
        str(data),
        "--epochs1",
        "1",
        "--epochs2",
        "1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("stage 2: best") == 1  # only rank 0 reports
    ckpt = torch.load(tmp_path / "run" / "stage2" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["world_size"] == 2 and ckpt["epoch"] == 1
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
