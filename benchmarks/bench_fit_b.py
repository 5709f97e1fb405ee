"""Whole-process time of ``biper-analysis fit-b`` vs a hand-written torch.load + scipy fit + kstest loop, and of
``fit-b --law all`` (every weight law) vs the default Laplace-only ``fit-b``.

On an 11 M-weight ResNet-18-shaped checkpoint (official names and dict keys, binarised conv weights drawn from
Laplace(0, b)), the Laplace-only ``fit-b`` should take no longer than

    ck = torch.load(path, map_location="cpu", weights_only=True)
    for each binarised weight: scipy.stats.laplace.fit(w); scipy.stats.kstest(w, "laplace", args=...)

over the same layers, both run as separate processes on the same machine, interleaved, median of --repeats.
``fit-b`` does more (Gaussian fit and KS, AIC, CI, sine moments, QE closed form, verdicts, out-of-sample check,
phase histogram, JSON). Two files are timed: the official dict with SGD momentum buffers (what the official script
saves) and the same without optimizer state. On the second, ``fit-b --law all`` (maximum likelihood of every law
on a seeded subsample of ``report.MAX_SAMPLES`` weights per layer; moments, KS and log-likelihood on all weights)
should take at most 3× the Laplace-only ``fit-b``.

    .venv/bin/python benchmarks/bench_fit_b.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from biper_analysis.analysis.report import MAX_SAMPLES

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BASELINE = r"""
import sys
import scipy.stats as st
import torch

ck = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
sd = ck["state_dict"]
for k, v in sd.items():
    if k.endswith(".weight") and k[: -len("weight")] + "alpha" in sd:
        w = v.numpy().ravel()
        loc, scale = st.laplace.fit(w)
        d = st.kstest(w, "laplace", args=(loc, scale)).statistic
        print(k, w.size, loc, scale, d)
"""


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one child process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from tests.checkpoint_factory import binarised_conv_names, save_official

    arch = "resnet18_1w1a"
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        # b per layer spread around the published ω0 = 20 regime (x = ω0 b from 0.2 to 1.6)
        bs = [0.01 + 0.07 * i / 15 for i in range(16)]
        files["with optimizer state"] = save_official(Path(tmp) / "opt", arch, omega0=20.0, b=bs, optimizer_state=True)
        files["state_dict + metadata only"] = save_official(Path(tmp) / "noopt", arch, omega0=20.0, b=bs)
        import torch

        sd = torch.load(files["state_dict + metadata only"], map_location="cpu", weights_only=True)["state_dict"]
        n = sum(sd[k].numel() for k in binarised_conv_names(arch))
        total = sum(v.numel() for v in sd.values())
        print(
            f"{arch}: {len(binarised_conv_names(arch))} binarised convs, {n:,} binarised weights, "
            f"{total:,} parameters in the state_dict; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
        )
        script = Path(tmp) / "baseline.py"
        script.write_text(BASELINE)
        for label, path in files.items():
            ours, base = [], []
            out = Path(tmp) / "report.json"
            for _ in range(args.repeats):
                base.append(_time([sys.executable, str(script), str(path)]))
                ours.append(_time([sys.executable, "-m", "biper_analysis", "fit-b", str(path), "--json", str(out)]))
            mo, mb = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in base)
            co, cb = statistics.median(c for _, c in ours), statistics.median(c for _, c in base)
            size = path.stat().st_size / 2**20
            print(f"[{label}, {size:.0f} MiB] median of {args.repeats}, interleaved")
            print(
                f"  fit-b                                   wall {mo:6.2f} s  cpu {co:6.2f} s  "
                f"(wall runs {', '.join(f'{t:.2f}' for t, _ in ours)})"
            )
            print(
                f"  torch.load + laplace.fit + kstest loop  wall {mb:6.2f} s  cpu {cb:6.2f} s  "
                f"(wall runs {', '.join(f'{t:.2f}' for t, _ in base)})"
            )
            print(f"  ratio fit-b / baseline: wall {mo / mb:.2f}x, cpu {co / cb:.2f}x")
        path = files["state_dict + metadata only"]
        laplace, every = [], []
        for _ in range(args.repeats):
            laplace.append(
                _time([sys.executable, "-m", "biper_analysis", "fit-b", str(path), "--json", str(Path(tmp) / "l.json")])
            )
            every.append(
                _time(
                    [
                        sys.executable,
                        "-m",
                        "biper_analysis",
                        "fit-b",
                        str(path),
                        "--law",
                        "all",
                        "--json",
                        str(Path(tmp) / "a.json"),
                    ]
                )
            )
        ml, ma = statistics.median(t for t, _ in laplace), statistics.median(t for t, _ in every)
        cl, ca = statistics.median(c for _, c in laplace), statistics.median(c for _, c in every)
        print(
            f"[every law vs Laplace only, {path.stat().st_size / 2**20:.0f} MiB] median of {args.repeats}, "
            f"interleaved (subsample of {MAX_SAMPLES} weights per layer for the iterative fits)"
        )
        print(
            f"  fit-b --law all     wall {ma:6.2f} s  cpu {ca:6.2f} s  (wall runs "
            f"{', '.join(f'{t:.2f}' for t, _ in every)})"
        )
        print(
            f"  fit-b (laplace)     wall {ml:6.2f} s  cpu {cl:6.2f} s  (wall runs "
            f"{', '.join(f'{t:.2f}' for t, _ in laplace)})"
        )
        print(
            f"  ratio all / laplace: wall {ma / ml:.2f}x (target <= 3x), cpu {ca / cl:.2f}x (the workers' CPU "
            "included: the ratio on one core)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
