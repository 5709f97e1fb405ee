"""Benchmark ``biper-analysis sweep`` as a whole process against the math and a direct write, side by side in one run.

    .venv/bin/python benchmarks/bench_sweep.py [--points 1e6,1e7] [--formats csv,parquet,npz] [--huge 1e8]
                                               [--dir DIR] [--repeat 1]

For each grid size N (``--omega0 1:200:N --b 0.05``, all 15 columns) and each format, every measurement runs in a
child process of its own, so that its peak memory (ru_maxrss from ``os.wait4``) is its own:

* ``sweep``      — the whole command, ``python -m biper_analysis sweep ... --out DIR/sweep.FMT``: interpreter
  start, imports, evaluation in chunks, the write, the rename. Wall time of the process.
* ``math``       — (a) the closed form alone over the same grid: the 15 columns from the public functions of
  :mod:`biper_analysis.theory.analytic`, all N rows at once in memory. Time of the computation inside the child.
* ``write``      — (b) a direct write of that same in-memory table (time of the write alone, inside the child):
  ``pyarrow.parquet.write_table`` (pyarrow's defaults, and again with the options the sweep uses: dictionary
  encoding of the low-cardinality columns, snappy), ``pyarrow.csv.write_csv``, and ``numpy.savez`` for .npz.

Targets (issue 18; 2 idle cores): .parquet sweep ≤ 2 × (math + direct Parquet write with the sweep's options);
.csv sweep ≤ 1.5 × the direct pyarrow CSV write; peak memory of the sweep ≤ 300 MB at 10⁷ points in every format.
``--huge 1e8`` also runs a 10⁸-point Parquet sweep to the end and reports its time, size and peak memory.
Timings on a loaded machine are provisional: re-run on idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_TABLE = r"""
import json, resource, sys, time
import numpy as np
from biper_analysis.theory import analytic

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

n, what, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0, c0 = time.perf_counter(), cpu()
om = np.linspace(1.0, 200.0, n)
b = 0.05
e2 = analytic.expected_sin2(om, b)
e1 = analytic.expected_abs_sin(om, b)
cols = {"scale": np.full(n, b), "df": np.full(n, np.nan), "omega0": om, "x": om * b, "gamma": e1,
        "gamma_is_optimal": np.ones(n, dtype=bool), "qe": analytic.qe(om, b), "qe_min": analytic.qe_min(om, b),
        "gamma_opt": e1, "e_sin2": e2, "e_abs_sin": e1, "official_l1": analytic.official_l1(om, b),
        "normalised_qe": analytic.normalised_qe(om, b), "dqe_domega0": analytic.dqe_domega0(om, b)}
math_s, math_cpu = time.perf_counter() - t0, cpu() - c0
write_s = write_cpu = None
if what != "math":
    if what == "npz":
        t0, c0 = time.perf_counter(), cpu()
        np.savez(path, prior=np.full(n, "laplace"), **cols)
        write_s, write_cpu = time.perf_counter() - t0, cpu() - c0
    else:
        import pyarrow as pa
        prior = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["laplace"]))
        table = pa.table({"prior": prior, **cols})
        t0, c0 = time.perf_counter(), cpu()
        if what == "csv":
            import pyarrow.csv as pacsv
            pacsv.write_csv(table, path)
        elif what == "parquet-default":
            import pyarrow.parquet as pq
            pq.write_table(table, path)
        else:
            import pyarrow.parquet as pq
            pq.write_table(table, path, compression="snappy", row_group_size=1 << 17,
                           use_dictionary=["prior", "scale", "df", "gamma_is_optimal"])
        write_s, write_cpu = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"math_s": math_s, "math_cpu": math_cpu, "write_s": write_s, "write_cpu": write_cpu}))
"""


def run_child(cmd: list[str]) -> dict:
    """Run ``cmd``; its wall time, peak resident memory (MB) and, if it printed one, its JSON line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}): {err.strip()[-500:]}")
    result = {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}
    last = out.strip().splitlines()[-1] if out.strip() else ""
    if last.startswith("{"):
        result.update(json.loads(last))
    return result


def best(cmd: list[str], repeat: int) -> dict:
    """The fastest of ``repeat`` runs (by wall time; the peak memory is the largest seen)."""
    runs = [run_child(cmd) for _ in range(repeat)]
    fastest = min(runs, key=lambda r: r["wall_s"])
    return {**fastest, "peak_mb": max(r["peak_mb"] for r in runs)}


def sweep_cmd(n: int, path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "biper_analysis",
        "sweep",
        "--omega0",
        f"1:200:{n}",
        "--b",
        "0.05",
        "--out",
        str(path),
    ]


def table_cmd(n: int, what: str, path: Path) -> list[str]:
    return [sys.executable, "-c", _TABLE, str(n), what, str(path)]


def measure(n: int, formats: list[str], folder: Path, repeat: int) -> list[dict]:
    rows = []
    closed = best(table_cmd(n, "math", folder / "none"), repeat)
    rows.append(
        {
            "points": n,
            "what": "(a) math: closed form, 15 columns, in memory",
            "time_s": closed["math_s"],
            "cpu_s": closed["math_cpu"],
            "wall_s": closed["wall_s"],
            "peak_mb": closed["peak_mb"],
        }
    )
    labels = {
        "csv": "pyarrow.csv.write_csv",
        "parquet-default": "pyarrow.parquet.write_table, pyarrow's defaults",
        "parquet-same": "pyarrow.parquet.write_table, the sweep's options",
        "npz": "numpy.savez",
    }
    for fmt in formats:
        target = folder / f"sweep.{fmt}"
        sweep = best(sweep_cmd(n, target), repeat)
        size = target.stat().st_size
        target.unlink()
        rows.append(
            {
                "points": n,
                "what": f"sweep → .{fmt} (whole process)",
                "time_s": sweep["wall_s"],
                "cpu_s": sweep["cpu_s"],
                "wall_s": sweep["wall_s"],
                "peak_mb": sweep["peak_mb"],
                "size_mb": size / 1e6,
            }
        )
        direct = {}
        for what in {"csv": ["csv"], "parquet": ["parquet-default", "parquet-same"], "npz": ["npz"]}[fmt]:
            path = folder / f"direct.{fmt}"
            direct[what] = best(table_cmd(n, what, path), repeat)
            size = path.stat().st_size
            path.unlink()
            rows.append(
                {
                    "points": n,
                    "what": f"(b) direct write → .{fmt}: {labels[what]}",
                    "time_s": direct[what]["write_s"],
                    "cpu_s": direct[what]["write_cpu"],
                    "wall_s": direct[what]["wall_s"],
                    "peak_mb": direct[what]["peak_mb"],
                    "size_mb": size / 1e6,
                }
            )

        def ratio(what: str, with_math: bool, direct: dict = direct, sweep: dict = sweep) -> tuple[float, float]:
            wall = direct[what]["write_s"] + (closed["math_s"] if with_math else 0.0)
            cpu = direct[what]["write_cpu"] + (closed["math_cpu"] if with_math else 0.0)
            return sweep["wall_s"] / wall, sweep["cpu_s"] / cpu

        if fmt == "parquet":
            rows.append(
                {
                    "points": n,
                    "what": "RATIO .parquet: sweep / (a + b, the sweep's options)",
                    "ratio": ratio("parquet-same", True),
                    "target": 2.0,
                }
            )
            rows.append(
                {
                    "points": n,
                    "what": "ratio .parquet: sweep / (a + b, pyarrow's defaults)",
                    "ratio": ratio("parquet-default", True),
                }
            )
        elif fmt == "csv":
            rows.append({"points": n, "what": "RATIO .csv: sweep / b", "ratio": ratio("csv", False), "target": 1.5})
        else:
            rows.append({"points": n, "what": "ratio .npz: sweep / (a + numpy.savez)", "ratio": ratio("npz", True)})
        if n >= 10_000_000:
            rows.append(
                {
                    "points": n,
                    "what": f"PEAK memory of the sweep → .{fmt} (MB)",
                    "ratio": (sweep["peak_mb"], float("nan")),
                    "target": 300,
                }
            )
    return rows


def startup(folder: Path) -> dict:
    """A 10-point sweep: the fixed cost of every sweep (interpreter, imports, the file's claim)."""
    target = folder / "tiny.parquet"
    r = best(sweep_cmd(10, target), 3)
    target.unlink()
    return {
        "points": 10,
        "what": "sweep → .parquet, 10 points: start-up and imports (best of 3)",
        "time_s": r["wall_s"],
        "cpu_s": r["cpu_s"],
        "wall_s": r["wall_s"],
        "peak_mb": r["peak_mb"],
    }


def show(rows: list[dict]) -> None:
    print("| points | what | wall (s) | CPU (s) | process wall (s) | peak memory (MB) | file (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "ratio" in r:
            wall, cpu = r["ratio"]
            met = (
                ""
                if "target" not in r
                else (" — met" if wall <= r["target"] else " — NOT met") + f" (target ≤ {r['target']:g})"
            )
            cpu_text = "" if cpu != cpu else f"{cpu:.2f}"
            print(f"| {r['points']:.0e} | **{r['what']}** | **{wall:.2f}**{met} | {cpu_text} | | | |")
        else:
            size = f"{r['size_mb']:.1f}" if "size_mb" in r else ""
            print(
                f"| {r['points']:.0e} | {r['what']} | {r['time_s']:.2f} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} "
                f"| {r['peak_mb']:.0f} | {size} |"
            )
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", default="1e6,1e7", help="grid sizes, comma-separated")
    ap.add_argument("--formats", default="csv,parquet,npz")
    ap.add_argument("--huge", type=float, default=None, help="also run one Parquet sweep of this many points")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest is reported")
    ap.add_argument("--dir", default=None, help="scratch folder (default: a new temporary folder)")
    args = ap.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-sweep-"))
    folder.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(
        f"# bench_sweep: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} at start; python {platform.python_version()}; scratch {folder}"
    )
    rows: list[dict] = [startup(folder)]
    show(rows)
    for n in (int(float(p)) for p in args.points.split(",")):
        rows += measure(n, args.formats.split(","), folder, args.repeat)
        show([r for r in rows if r["points"] == n])
    if args.huge:
        n = int(args.huge)
        target = folder / "huge.parquet"
        r = run_child(sweep_cmd(n, target))
        print(
            f"\n{n:.0e}-point Parquet sweep (15 columns): {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
            f"{target.stat().st_size / 1e9:.2f} GB, peak memory {r['peak_mb']:.0f} MB"
        )
        target.unlink()
    print(f"# load average at the end {os.getloadavg()[0]:.1f} (provisional when well above 0)")


if __name__ == "__main__":
    main()
