"""laws/fitting.py: dispatch through the registry, one shared subsample, determinism (seed, thread count), the
deprecated model= spelling, and one-line errors for bad input."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from biper_analysis import laws
from biper_analysis.laws import Penalised, fit_law, fit_laws, loglik, n_params
from biper_analysis.theory import analytic
from tests.unit.laws.law_checks import W0


def test_fit_laws_equals_each_law_fitted_alone():
    """One shared subsample and each iterative fit computed once (gennorm → penalised, penalised2 →
    penalised-alpha): the same laws, bit for bit, as fitting each alone; fit_info is each law's own."""
    x = Penalised(0.05, 1.2, 10.0, W0).sample(np.random.default_rng(1), 3000)
    together = fit_laws(x, W0, laws.MODELS, max_samples=1500, seed=2)
    assert list(together) == list(laws.MODELS)
    for name, law in together.items():
        alone = fit_law(x, W0, name, max_samples=1500, seed=2)
        assert alone == law and alone.fit_info == law.fit_info, name
    assert together["gennorm"].fit_info is not together["penalised"].fit_info
    assert together["laplace"].fit_info["n_fit"] == 3000 and together["comb"].fit_info["n_fit"] == 1500


def test_peaked_layer_prefers_peaked_laws_by_aic():
    """A layer whose weights sit in peaks at kπ/ω0 (like the first ResNet stage) is fitted better by comb and
    penalised than by Laplace (AIC), and comb predicts its QE far better than Laplace."""
    rng = np.random.default_rng(5)
    n = 2304
    k = rng.choice([-1, 0, 1], size=n, p=[0.23, 0.54, 0.23])
    off = np.where(k == 0, 0.048, 0.12) * rng.standard_t(4, size=n) / 1.0
    theta = np.where(rng.random(n) < 0.02, rng.uniform(-3 * math.pi, 3 * math.pi, n), k * math.pi + off)
    w = theta / W0
    fitted = fit_laws(w, W0, laws.MODELS)
    aic = {m: 2 * n_params(f) - 2 * loglik(f, w) for m, f in fitted.items()}
    assert aic["comb"] < aic["laplace"] - 100 and aic["penalised"] < aic["laplace"] - 100
    assert aic["penalised2"] < aic["penalised"]
    s = np.sin(W0 * w)
    qe = np.mean(s * s) - np.mean(np.abs(s)) ** 2
    pred = {m: float(analytic.qe_from_moments(*fitted[m].moments(W0), None)) for m in ("comb", "laplace")}
    assert abs(pred["comb"] / qe - 1) < 0.25 < abs(pred["laplace"] / qe - 1)


def test_fit_is_deterministic_and_subsamples():
    x = Penalised(0.05, 1.2, 10.0, W0).sample(np.random.default_rng(1), 50000).astype(np.float32)
    a, b = fit_law(x, W0, "comb", max_samples=5000, seed=4), fit_law(x, W0, "comb", max_samples=5000, seed=4)
    assert a == b and a.fit_info == b.fit_info and a.fit_info["n_fit"] == 5000
    assert fit_law(x, W0, "comb", max_samples=5000, seed=5) != a


def test_fit_is_bit_identical_across_thread_counts():
    code = (
        "import numpy as np, json; from biper_analysis import laws; "
        "x = laws.Penalised(0.05, 1.2, 10.0, 20.0).sample(np.random.default_rng(1), 30000); "
        "print(json.dumps({m: laws.fit_law(x, 20.0, m, max_samples=8000).params for m in laws.MODELS}))"
    )
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        outs.append(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=120
            ).stdout
        )
    assert outs[0] == outs[1] and set(json.loads(outs[0])) == set(laws.MODELS)


def test_model_is_the_deprecated_name_of_law():
    x = [-0.1, 0.3, 0.2]
    with pytest.warns(DeprecationWarning, match="use law="):
        old = fit_law(x, model="laplace")
    assert old == fit_law(x, law="laplace") == fit_law(x, None, "laplace")
    with pytest.warns(DeprecationWarning, match="use laws="):
        assert fit_laws(x, None, models=("gaussian",))["gaussian"] == fit_law(x, law="gaussian")
    with pytest.raises(TypeError, match="law= only"):
        fit_law(x, law="laplace", model="laplace")
    assert fit_law(np.array([0.1, -0.2, 0.3, 0.05]), W0).name == "penalised"  # the default law


@pytest.mark.parametrize(
    "weights, kwargs, needle",
    [
        ([], {}, "empty"),
        ([0.1, float("nan")], {}, "non-finite"),
        ([0.1, 0.2, -0.3], {"law": "penalised"}, "omega0"),
        ([0.1, 0.2, -0.3], {"law": "comb"}, "omega0"),
        ([0.1, 0.2, -0.3], {"law": "comb", "omega0": -1.0}, "omega0 must be > 0"),
        ([0.1, 0.2, -0.3], {"law": "student"}, "unknown law"),
        ([0.1, 0.2, -0.3], {"law": "student-t"}, "cannot be fitted"),
        ([0.0, 0.0], {"law": "laplace"}, "every weight is 0"),
        ([0.0, 0.0], {"law": "gaussian"}, "every weight is 0"),
        ([0.0, 0.0, 0.1], {"law": "gennorm"}, "non-zero weight"),
        ([0.1, 0.2, -0.3], {"law": "gennorm", "max_samples": 1}, "max_samples"),
        (["a", "b"], {}, "real numbers"),
    ],
)
def test_bad_input_raises_one_line(weights, kwargs, needle):
    with pytest.raises(ValueError) as e:
        fit_law(weights, **kwargs)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
