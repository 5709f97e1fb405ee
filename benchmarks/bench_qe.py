"""Benchmark the closed form, its quadrature witness and Monte Carlo, measured side by side in one run.

    .venv/bin/python benchmarks/bench_qe.py [--n 10000000] [--reps 7] [--skip quad,mc]

Prints ratios (no timed asserts in the tests). Each timing is the median of several interleaved repetitions, so
load from other processes hits both sides of a ratio alike; still, run it on idle cores (the load average is
printed) — on a loaded machine a long call is preempted more often than a short one and the ratios grow.

1. The closed form over n (ω0, b) points (QE at a fixed γ, QE_min, E|sin|) against one ``np.exp`` pass over an
   array of the same size, both allocating their result. Two columns: the closed form single-threaded, and with
   its two worker threads (``analytic._THREADS = 2``: each thread evaluates half of the chunks); ``np.exp`` is
   single-threaded in numpy, so both columns divide by the same single-threaded pass. Targets: ≤ 2.5× (1 thread)
   and ≤ 1.5× (2 threads). For scale: one ``np.tanh`` pass (the one transcendental of the closed form) and the
   closed form composed from the kernels of x over whole arrays (no chunks: every step a pass over memory). If
   numexpr is installed, the same QE as one numexpr expression (the alternative to plain numpy), 1 and 2 threads.
   The single-threaded rows also show the ratio of CPU times (less sensitive to other processes; wall time is the
   measure).
2. closed form vs scipy quadrature, per point.
3. Monte Carlo samples per second: numpy (float64, float32) vs torch (float32/float64 on CPU, CUDA if present).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, reps: int, cpu: dict | None = None) -> dict:
    """Median wall time of each function, the repetitions interleaved (ABCABC...) after one warm-up call each.

    With ``cpu`` (a dict), also the median CPU time of the calling thread into it: for a single-threaded call it
    leaves out the time the thread waited for a core, so it varies less with the load of a shared machine."""
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    cpu_times: dict = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            times[k].append(time.perf_counter() - t0)
            cpu_times[k].append(time.thread_time() - c0)
    if cpu is not None:
        cpu.update({k: statistics.median(v) for k, v in cpu_times.items()})
    return {k: statistics.median(v) for k, v in times.items()}


def bench_closed_form(n: int, reps: int) -> None:
    from biper_analysis.theory import analytic

    rng = np.random.default_rng(0)
    omega0 = rng.uniform(1.0, 200.0, n)  # the ω0 range of the paper's sweeps
    b = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), n))  # Laplace scales of trained BNN layers
    h = 0.5 * np.pi / (omega0 * b)
    default_threads = analytic._THREADS
    load = os.getloadavg()[0]
    print(
        f"[1] closed form on {n:.0e} (ω0, b) points  (x = ω0·b in [{(omega0 * b).min():.2g}, "
        f"{(omega0 * b).max():.3g}]; {os.cpu_count()} CPUs, load average {load:.1f}"
        f"{'' if load < 0.5 else ': NOT idle, ratios provisional'})"
    )

    def with_threads(k, fn):
        def run():
            analytic._THREADS = k
            try:
                fn()
            finally:
                analytic._THREADS = default_threads

        return run

    def composed():  # the textbook: each kernel of x, then qe_from_moments, over whole arrays
        x = omega0 * b
        return analytic.qe_from_moments(analytic.e_sin2_of_x(x), analytic.e_abs_sin_of_x(x), 0.6)

    cases = {
        "qe(ω0, b, 0.6)": lambda: analytic.qe(omega0, b, 0.6),
        "qe(ω0, b) = QE_min": lambda: analytic.qe(omega0, b),
        "expected_abs_sin(ω0, b)": lambda: analytic.expected_abs_sin(omega0, b),
    }
    fns = {("np.exp pass", 1): lambda: np.exp(omega0), ("np.tanh pass", 1): lambda: np.tanh(h)}
    for name, fn in cases.items():
        for k in (1, 2):
            fns[(name, k)] = with_threads(k, fn)
    numexpr_qe = _numexpr_qe(omega0, b, 0.6)
    if numexpr_qe is not None:
        for k in (1, 2):
            fns[("numexpr, qe(ω0, b, 0.6)", k)] = numexpr_qe(k)
    fns[("composed kernels of x", 1)] = with_threads(1, composed)
    cpu: dict = {}
    t = interleaved(fns, reps, cpu)
    base, cpu_base = t[("np.exp pass", 1)], cpu[("np.exp pass", 1)]
    print(
        f"    {'median of ' + str(reps) + ', ratio to np.exp':28s} {'1 thread':>17s} {'(CPU time)':>10s} "
        f"{'2 threads':>17s}"
    )
    for name in dict.fromkeys(name for name, _ in t):
        one, two = t[(name, 1)], t.get((name, 2))
        print(
            f"    {name:28s} {one * 1e3:7.1f} ms {one / base:5.2f}× {f'({cpu[(name, 1)] / cpu_base:.2f}×)':>10s} "
            + (f"{two * 1e3:7.1f} ms {two / base:5.2f}×" if two else "")
        )
    print(
        "    targets for the three closed-form rows: ≤ 2.5× (1 thread), ≤ 1.5× (2 threads)"
        + ("" if numexpr_qe else "; numexpr not installed, its row skipped")
    )


def _numexpr_qe(omega0, b, gamma):
    """The alternative measured side by side: QE at γ as one numexpr expression ((γ − γ*)² + QE_min, as analytic),
    evaluated with k threads (numexpr splits the blocks; the values do not depend on k). None without numexpr."""
    try:
        import numexpr
    except ImportError:
        return None
    h = "(1.5707963267948966 / (omega0 * b))"  # π/(2x)
    e_abs_sin = f"(1.5707963267948966 * {h} / (tanh({h}) * ({h} * {h} + 2.4674011002723395)))"
    e_sin2 = f"(4.934802200544679 / ({h} * {h} + 9.869604401089358))"
    qe_min = f"({e_sin2} - {e_abs_sin} ** 2)"
    expr = f"(gamma - {e_abs_sin}) ** 2 + where({qe_min} > 0, {qe_min}, 0.0)"

    def with_threads(k):
        def run():
            previous = numexpr.set_num_threads(k)
            try:
                return numexpr.evaluate(expr, local_dict={"omega0": omega0, "b": b, "gamma": gamma})
            finally:
                numexpr.set_num_threads(previous)

        return run

    return with_threads


def bench_quadrature(points: int) -> None:
    from biper_analysis.theory import analytic, quadrature

    xs = np.geomspace(1e-4, 1e4, points)
    t_quad = median_time(lambda: [quadrature.qe(float(x), 1.0, 0.6) for x in xs], 3) / points
    t_scalar = median_time(lambda: [analytic.qe(float(x), 1.0, 0.6) for x in xs], 5) / points
    t_vec = median_time(lambda: analytic.qe(xs, 1.0, 0.6), 20) / points
    worst = max(abs(quadrature.qe(float(x), 1.0, 0.6) / analytic.qe(float(x), 1.0, 0.6) - 1) for x in xs)
    print(f"[2] closed form vs scipy quadrature ({points} points, x from 1e-4 to 1e4; worst rel diff {worst:.1e})")
    print(f"    quadrature      {t_quad * 1e6:10.1f} µs/point")
    print(f"    closed, scalar  {t_scalar * 1e6:10.2f} µs/point   quadrature/closed = {t_quad / t_scalar:8.0f}×")
    print(f"    closed, array   {t_vec * 1e9:10.1f} ns/point   quadrature/closed = {t_quad / t_vec:8.0f}×")


def bench_montecarlo(n: int) -> None:
    from biper_analysis.theory import analytic, montecarlo

    exact = analytic.qe(20.0, 0.05, 0.6)
    configs = [("numpy", "float64", None, None), ("numpy", "float32", None, None)]
    try:
        import torch

        cores = os.cpu_count() or 1
        configs += [
            ("torch", "float32", "cpu", 1),
            ("torch", "float32", "cpu", min(2, cores)),
            ("torch", "float64", "cpu", min(2, cores)),
        ]
        if torch.cuda.is_available():
            configs += [("torch", "float32", "cuda", None), ("torch", "float64", "cuda", None)]
        print(f"[3] Monte Carlo, {n:.0e} samples, ω0 = 20, b = 0.05, γ = 0.6")
    except ImportError:
        print(f"[3] Monte Carlo, {n:.0e} samples (torch not installed)")
    rates = {}
    for backend, dtype, device, threads in configs:
        kw = {"device": device, "threads": threads} if device else {}
        montecarlo.abs_sin_sums(20.0, 0.05, n=min(n, 2_000_000), seed=0, backend=backend, dtype=dtype, **kw)  # warm-up
        t0 = time.perf_counter()
        sums = montecarlo.abs_sin_sums(20.0, 0.05, n=n, seed=1, backend=backend, dtype=dtype, **kw)
        dt = time.perf_counter() - t0
        r = sums.qe(0.6)
        key = f"{backend}/{dtype}" + (f"/{device}" if device else "") + (f"/{threads}thr" if threads else "")
        rates[key] = n / dt
        print(f"    {key:28s} {n / dt / 1e6:8.1f} M samples/s   z = {r.z(exact):+.2f}  (SE {r.se:.1e})")
    base = rates["numpy/float64"]
    print("    ratios vs numpy/float64: " + ", ".join(f"{k} {v / base:.2f}×" for k, v in rates.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000, help="points for the closed-form timing")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--quad-points", type=int, default=200)
    p.add_argument("--mc-samples", type=int, default=20_000_000)
    p.add_argument("--skip", default="", help="comma list of sections to skip: closed,quad,mc")
    args = p.parse_args()
    skip = set(args.skip.split(","))
    if "closed" not in skip:
        bench_closed_form(args.n, args.reps)
    if "quad" not in skip:
        bench_quadrature(args.quad_points)
    if "mc" not in skip:
        bench_montecarlo(args.mc_samples)


if __name__ == "__main__":
    main()
