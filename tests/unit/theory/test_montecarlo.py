"""Monte Carlo witness: statistical agreement (|MC − exact| < K·SE, K = 4), correct standard errors,
reproducibility, streaming memory bound, numpy and torch backends."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from biper_analysis.theory import analytic, montecarlo

K = 4.0  # |z| threshold; P(|z| > 4) ≈ 6e-5 per assertion for a correct estimator (seeds are fixed anyway)
N = 200_000


def exact_var_y(x: float, g: float) -> float:
    """Var (|S| − γ)² from the analytic moments (symbolic.py derives E|S|³ and E S⁴)."""
    xa = np.array(x)
    kernels = (analytic.e_abs_sin_of_x, analytic.e_sin2_of_x, analytic.e_abs_sin3_of_x, analytic.e_sin4_of_x)
    e1, e2, e3, e4 = (float(f(xa)) for f in kernels)
    q = e2 - 2 * g * e1 + g * g
    return e4 - 4 * g * e3 + 6 * g * g * e2 - 4 * g**3 * e1 + g**4 - q * q


def exact_var_of_var(x: float) -> float:
    """μ4 − σ⁴ of A = |S| (the delta-method variance of the QE_min estimator, times n)."""
    xa = np.array(x)
    kernels = (analytic.e_abs_sin_of_x, analytic.e_sin2_of_x, analytic.e_abs_sin3_of_x, analytic.e_sin4_of_x)
    e1, e2, e3, e4 = (float(f(xa)) for f in kernels)
    mu4 = e4 - 4 * e1 * e3 + 6 * e1 * e1 * e2 - 3 * e1**4
    s2 = e2 - e1 * e1
    return mu4 - s2 * s2


@pytest.mark.statistical
@pytest.mark.parametrize("x", [1e-3, 0.1, 0.9548825, 5.0, 300.0])
def test_numpy_backend_agrees_within_k_se_and_se_is_right(x):
    b = 0.05
    sums = montecarlo.abs_sin_sums(x / b, b, n=N, seed=12345)
    for g in (0.3, 0.6, 1.0):
        r = sums.qe(g)
        assert abs(r.z(analytic.qe(x / b, b, g))) < K
        assert r.se == pytest.approx(math.sqrt(exact_var_y(x, g) / N), rel=0.05)
    r = sums.qe(None)
    assert abs(r.z(analytic.qe_min(x / b, b))) < K
    assert r.se == pytest.approx(math.sqrt(exact_var_of_var(x) / N), rel=0.05)
    assert abs(sums.e_sin2().z(analytic.expected_sin2(x / b, b))) < K
    assert abs(sums.e_abs_sin().z(analytic.expected_abs_sin(x / b, b))) < K


@pytest.mark.statistical
def test_float32_sampling_and_prior_sample_path():
    r = montecarlo.qe(20.0, 0.05, 0.6, n=N, seed=7, dtype="float32")
    assert abs(r.z(analytic.qe(20.0, 0.05, 0.6))) < K

    class LaplaceSampler:  # a prior known only through .sample: exercises the general path
        name = "laplace-sampler"

        def sample(self, rng, size):
            return rng.laplace(0.0, 0.05, size)

    r = montecarlo.qe(20.0, gamma=0.6, prior=LaplaceSampler(), n=N, seed=8)
    assert abs(r.z(analytic.qe(20.0, 0.05, 0.6))) < K


@pytest.mark.statistical
def test_gaussian_prior_if_available():
    from biper_analysis.laws import priors

    sigma, w = 0.04, 20.0
    r = montecarlo.expected_sin2(w, prior=priors.Gaussian(sigma), n=N, seed=3)
    assert abs(r.z(-math.expm1(-2 * (w * sigma) ** 2) / 2)) < K


def test_reproducible_and_chunking_invariant():
    a = montecarlo.qe(20.0, 0.05, 0.6, n=5000, seed=1)
    b = montecarlo.qe(20.0, 0.05, 0.6, n=5000, seed=np.random.default_rng(1))
    assert a == b
    c = montecarlo.qe(20.0, 0.05, 0.6, n=5000, seed=1, chunk_size=777)  # same stream, other chunking
    assert c.mean == pytest.approx(a.mean, rel=1e-12) and c.n == 5000
    assert montecarlo.qe(20.0, 0.05, 0.6, n=5000, seed=2) != a


def test_memory_is_bounded_by_the_chunk():
    tracemalloc.start()
    try:
        montecarlo.qe(20.0, 0.05, 0.6, n=2_000_000, seed=0, chunk_size=1 << 14)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # 2e6 float64 samples would be 16 MB; chunks of 2^14 need well under 2 MB


def test_bad_arguments():
    with pytest.raises(TypeError):
        montecarlo.qe(20.0, 0.05, 0.6, n=1000)  # seed is required
    with pytest.raises(ValueError, match="seed"):
        montecarlo.qe(20.0, 0.05, 0.6, n=1000, seed=-1)
    with pytest.raises(ValueError, match="backend"):
        montecarlo.qe(20.0, 0.05, 0.6, n=1000, seed=0, backend="jax")
    with pytest.raises(ValueError, match="n "):
        montecarlo.qe(20.0, 0.05, 0.6, n=1, seed=0)
    with pytest.raises(ValueError, match="b"):
        montecarlo.qe(20.0, -0.05, 0.6, n=1000, seed=0)
    with pytest.raises(ValueError, match="gamma"):
        montecarlo.qe(20.0, 0.05, -0.6, n=1000, seed=0)


@pytest.mark.statistical
def test_torch_backend_cpu():
    for dtype in ("float32", "float64"):
        sums = montecarlo.abs_sin_sums(20.0, 0.05, n=N, seed=11, backend="torch", device="cpu", dtype=dtype, threads=1)
        assert abs(sums.qe(0.6).z(analytic.qe(20.0, 0.05, 0.6))) < K
        assert abs(sums.qe(None).z(analytic.qe_min(20.0, 0.05))) < K
        assert sums.qe(0.6).se == pytest.approx(math.sqrt(exact_var_y(1.0, 0.6) / N), rel=0.05)
    a = montecarlo.qe(20.0, 0.05, 0.6, n=50_000, seed=5, backend="torch", device="cpu")
    assert a == montecarlo.qe(20.0, 0.05, 0.6, n=50_000, seed=5, backend="torch", device="cpu")

    class Sampler:
        def sample(self, rng, size):
            return rng.normal(0.0, 0.05, size)

    with pytest.raises(ValueError, match="numpy"):
        montecarlo.qe(20.0, gamma=0.6, prior=Sampler(), n=1000, seed=0, backend="torch")


@pytest.mark.cuda
@pytest.mark.statistical
def test_torch_backend_cuda():
    sums = montecarlo.abs_sin_sums(20.0, 0.05, n=4_000_000, seed=11, backend="torch", device="cuda")
    assert abs(sums.qe(0.6).z(analytic.qe(20.0, 0.05, 0.6))) < K
    assert abs(sums.qe(None).z(analytic.qe_min(20.0, 0.05))) < K


@pytest.mark.slow
@pytest.mark.statistical
def test_large_run_relative_accuracy():
    r = montecarlo.qe(20.0, 0.05, None, n=50_000_000, seed=99, backend="torch", device="cpu")
    assert abs(r.z(analytic.qe_min(20.0, 0.05))) < K
    assert r.se / r.mean < 1.5e-4  # 5e7 samples: relative SE ≈ 1.1e-4 at x = 1
