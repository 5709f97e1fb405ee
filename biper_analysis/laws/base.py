r"""The law protocol (:class:`Law`) and the registry of weight laws.

A weight law is a symmetric law of one layer's weights w, centred at 0 (BiPer's weights are), that predicts
E sin²(ωw), E|sin(ωw)| and so the quantisation error QE = E sin² − 2γE|sin| + γ²
(:func:`biper_analysis.theory.analytic.qe_from_moments`). The priors of the closed form (Laplace, Gaussian,
Student-t, the empirical law of a sample) and the laws fitted to trained weights are the same kind of object:

* class attributes: ``name`` (the registry key, also the JSON/CSV/CLI spelling), ``PARAMS`` (the parameters in
  order with their admissible ranges; ``params``, ``n_params`` and the checks on construction derive from it),
  ``order`` (position in law lists: tables, CSV columns, legends), ``style`` ((colour, line style) in every
  figure), ``version`` (bump it when the law's numbers change: cached analyses are keyed by it), ``fittable``
  (offered by :func:`~biper_analysis.laws.fitting.fit_law` and ``fit-b --law``), ``is_symmetric``;
* a law that depends on the training frequency has a dataclass field ``omega0`` (``needs_omega0`` is derived from
  it); the others say ``omega0 = None``;
* ``pdf``, ``logpdf``, ``cdf`` (monotone), ``sample(rng, size)``, ``variance()``, ``scale``, and the private hook
  ``_moments(omega)`` → (E sin²(ωw), E|sin(ωw)|) from which :meth:`Law.moments`, :meth:`Law.expected_sin2` and
  :meth:`Law.expected_abs_sin` are defined once (ω may differ from ω0); ``characteristic_function`` and the
  cancellation-free ``one_minus_cf`` (defaults from E sin², exact identities);
* ``to_dict()`` (inverted exactly by :func:`~biper_analysis.laws.lawfile.law_from_dict`);
* the maximum-likelihood fit (location fixed at 0): a closed form from the weight statistics,
  ``fit_stats(stats) → (law, fit_info)`` (on every weight, from
  :func:`biper_analysis.theory.weights.weight_stats`), or an iterative one on the seeded subsample shared by all
  laws, ``fit_sample(sample, omega0, fitted) → (law, fit_info)``, where ``fitted(name)`` returns another law's fit on
  the same subsample (computed once: penalised starts from gennorm, penalised-alpha from penalised2).

Adding a law is one module in :mod:`biper_analysis.laws` (every public module there is imported with the package)::

    @register
    @dataclass(frozen=True)
    class Uniform(Law):
        a: float
        name, order, style, version, fittable, omega0 = "uniform", 80, ("C8", "--"), "1", True, None
        PARAMS = {"a": POSITIVE}
        def logpdf(self, w): ...              # and cdf, sample, variance, scale, _moments
        @classmethod
        def fit_sample(cls, sample, omega0, fitted): return cls(float(np.abs(sample).max())), {...}

plus its reference values and its test. ``fit-b --law``, the law file, the figures and the analysis cache key read
the registry (:func:`law_names`, :func:`law_class`, :func:`law_style`, :func:`law_versions`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from biper_analysis._io import validation

__all__ = [
    "Law",
    "Bounds",
    "POSITIVE",
    "SHAPE",
    "SHARPNESS",
    "FRACTION",
    "check_param",
    "closed_form_info",
    "register",
    "unregister",
    "registered",
    "law_class",
    "law_info",
    "law_names",
    "law_versions",
    "law_style",
    "LawInfo",
]

#: A parameter's admissible range: (low, high, low included?); high is never included.
Bounds = tuple[float, float, bool]
POSITIVE: Bounds = (0.0, math.inf, False)
SHAPE: Bounds = (0.0, 1e3, False)
SHARPNESS: Bounds = (0.0, 1e8, True)
FRACTION: Bounds = (0.0, 1.0, True)
#: Colour and line style of a law whose class names none.
DEFAULT_STYLE = ("C7", "-")
#: Elements of an array a law evaluates at once (bounds temporary memory to a few MiB per array).
CHUNK = 1 << 18


def _range_text(bounds: Bounds) -> str:
    lo, hi, closed_lo = bounds
    if hi == math.inf:
        return f"{'>=' if closed_lo else '>'} {lo:g}"
    return f"in {'[' if closed_lo else '('}{lo:g}, {hi:g})"


def check_param(name: str, value: Any, bounds: Bounds = POSITIVE) -> float:
    """``value`` as a float inside ``bounds``; ValueError naming the parameter, the value and the range.

    >>> check_param("b", 0.05)
    0.05
    >>> check_param("eps", 1.5, FRACTION)
    Traceback (most recent call last):
    ...
    ValueError: eps must be in [0, 1), got 1.5; pass a finite value in that range
    """
    if np.ndim(value):
        raise ValueError(f"{name} must be a single number, got an array of shape {np.shape(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    lo, hi, closed_lo = bounds
    if not (math.isfinite(v) and (v >= lo if closed_lo else v > lo) and v < hi):
        raise ValueError(f"{name} must be {_range_text(bounds)}, got {value!r}; pass a finite value in that range")
    return v


def closed_form_info(n: int, method: str) -> dict[str, Any]:
    """The ``fit_info`` of a closed-form fit on ``n`` weights."""
    return {"n_fit": int(n), "converged": True, "iterations": 0, "method": method}


class Law:
    """Base class of every weight law (module docstring: the protocol). Subclasses are frozen dataclasses of their
    parameters (and ``omega0`` where the law depends on it), registered with :func:`register`."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 1000
    style: ClassVar[tuple[str, str]] = DEFAULT_STYLE
    version: ClassVar[str] = "1"
    fittable: ClassVar[bool] = False
    is_symmetric: ClassVar[bool] = True
    PARAMS: ClassVar[dict[str, Bounds]] = {}

    def __post_init__(self) -> None:
        checks = dict(self.PARAMS)
        if self.needs_omega0():
            checks["omega0"] = POSITIVE  # the frequency the law was fitted at
        for nm, bounds in checks.items():
            object.__setattr__(self, nm, check_param(nm, getattr(self, nm), bounds))

    # -------------------------------------------------------------------------------- parameters
    @classmethod
    def needs_omega0(cls) -> bool:
        """Whether the law depends on the training frequency (it has an ``omega0`` field)."""
        return "omega0" in getattr(cls, "__dataclass_fields__", {})

    @classmethod
    def closed_form(cls) -> bool:
        """Whether the maximum-likelihood fit is a closed form of the weight statistics (no subsample, no
        iterations)."""
        return cls.fit_stats.__func__ is not Law.fit_stats.__func__

    @property
    def params(self) -> dict[str, float]:
        return {nm: float(getattr(self, nm)) for nm in self.PARAMS}

    @property
    def n_params(self) -> int:
        """The number of fitted parameters (ω0 is given, not fitted)."""
        return len(self.PARAMS)

    @property
    def fit_info(self) -> dict[str, Any]:
        """How the law was fitted (n_fit, converged, iterations, method); empty for a law built by hand. Not a
        parameter: two laws with the same parameters are equal whatever their fit_info."""
        return self.__dict__.setdefault("_fit_info", {})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly {"name", "params", "omega0"}; :func:`~biper_analysis.laws.lawfile.law_from_dict` rebuilds
        the law exactly."""
        omega0 = getattr(self, "omega0", None)
        return {
            "name": self.name,
            "params": {k: float(v) for k, v in self.params.items()},
            "omega0": None if omega0 is None else float(omega0),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any], omega0: Any = None) -> Law:
        """The law with these parameters (and ω0 when it needs one); the inverse of :meth:`to_dict`."""
        kwargs = {k: params[k] for k in cls.PARAMS}
        if cls.needs_omega0():
            kwargs["omega0"] = omega0
        return cls(**kwargs)

    # -------------------------------------------------------------------------------- density
    def logpdf(self, w: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no logpdf")

    def pdf(self, w: Any) -> np.ndarray:
        return np.exp(self.logpdf(w))

    def cdf(self, w: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no sampler")

    def variance(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    # -------------------------------------------------------------------------------- sine moments
    def _moments(self, omega: np.ndarray) -> tuple[Any, Any]:
        """(E sin²(ωw), E|sin(ωw)|) for a validated float64 array ω > 0, each of ω's shape."""
        raise NotImplementedError(f"{type(self).__name__} has no sine moments")

    def moments(self, omega: Any) -> tuple[float | np.ndarray, float | np.ndarray]:
        """(E sin²(ωw), E|sin(ωw)|), vectorised over ω (floats for a scalar ω); one evaluation for both."""
        om = validation.positive("omega", omega)
        e2, e1 = self._moments(om)
        return (validation.scalar_or_array(np.asarray(e2), omega), validation.scalar_or_array(np.asarray(e1), omega))

    def expected_sin2(self, omega: Any) -> float | np.ndarray:
        """E sin²(ωw), vectorised over ω."""
        return self.moments(omega)[0]

    def expected_abs_sin(self, omega: Any) -> float | np.ndarray:
        """E|sin(ωw)|, vectorised over ω."""
        return self.moments(omega)[1]

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = 2 E sin²(t w/2) (no cancellation at small t)."""
        t = np.abs(validation.as_float_array("t", t))
        out = np.zeros(t.shape)
        nz = t > 0
        if np.any(nz):
            out[nz] = 2.0 * np.asarray(self.expected_sin2(0.5 * t[nz]))
        return out

    def characteristic_function(self, t: Any) -> np.ndarray:
        """φ(t) = E cos(t w) = 1 − 2 E sin²(t w/2) (accurate to ~1e-15 absolute)."""
        return 1.0 - self.one_minus_cf(t)

    # -------------------------------------------------------------------------------- fitting
    @classmethod
    def fit_stats(cls, stats: Any) -> tuple[Law, dict[str, Any]]:
        """Closed-form MLE from :class:`biper_analysis.theory.weights.WeightStats` (laws that have one)."""
        raise NotImplementedError(f"{cls.__name__} has no closed-form fit")

    @classmethod
    def fit_sample(
        cls, sample: np.ndarray, omega0: float | None, fitted: Callable[[str], tuple[Law, dict[str, Any]]]
    ) -> tuple[Law, dict[str, Any]]:
        """Iterative MLE on a float64 subsample; ``fitted(name)`` is another law's fit on the same subsample."""
        raise NotImplementedError(f"{cls.__name__} has no iterative fit")

    @classmethod
    def fit(cls, samples: Any) -> Law:
        """The closed-form maximum-likelihood fit on every given weight, location fixed at 0 (laws with
        ``fit_stats``; the iterative ones: :func:`biper_analysis.laws.fitting.fit_law`)."""
        if not cls.closed_form():
            raise TypeError(
                f"{cls.__name__} has no closed-form fit; use biper_analysis.laws.fit_law(w, omega0, {cls.name!r})"
            )
        from biper_analysis.theory.weights import weight_stats

        w = validation.as_float_array("samples", samples).ravel()
        if w.size == 0:
            raise ValueError("samples is empty; pass at least one weight")
        law, info = cls.fit_stats(weight_stats(w))
        law.fit_info.update(info)
        return law

    def loglik_of_stats(self, stats: Any) -> float | None:
        """Σ log pdf over the weights the statistics describe, when the statistics suffice (else None)."""
        return None

    def _qe_se_closed_form(self, omega0: float, gamma: float | None, n: int) -> float | None:
        """Standard error of the predicted QE from the MLE's sampling error on n weights, when it has a closed
        form (else None: :func:`biper_analysis.laws.uncertainty.qe_prediction_se` uses the delta method)."""
        return None


# ---------------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------------
_REGISTRY: dict[str, type[Law]] = {}


@dataclass(frozen=True)
class LawInfo:
    """What the registry knows about one law (derived from its class)."""

    name: str
    cls: type[Law]
    n_params: int
    needs_omega0: bool
    fittable: bool
    closed_form: bool
    style: tuple[str, str]
    version: str
    order: int


def register(cls: type[Law]) -> type[Law]:
    """Class decorator: add a law to the registry under ``cls.name`` (refusing a name another class holds)."""
    if not (isinstance(cls, type) and issubclass(cls, Law)):
        raise TypeError(f"{cls!r} is not a Law subclass")
    name = cls.name
    if not name or name != name.strip().lower() or name == "all" or "," in name or ":" in name:
        raise ValueError(f"law name {name!r}: use a lower-case word without ',' or ':' (not 'all')")
    held = _REGISTRY.get(name)
    if held is not None and held is not cls:
        raise ValueError(f"law name {name!r} is already registered by {held.__module__}.{held.__qualname__}")
    if cls.fittable and not (cls.closed_form() or cls.fit_sample.__func__ is not Law.fit_sample.__func__):
        raise TypeError(f"law {name!r} is fittable but defines neither fit_stats nor fit_sample")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a law from the registry (a law registered by a test, say)."""
    _REGISTRY.pop(name, None)


@contextmanager
def registered(cls: type[Law]) -> Iterator[type[Law]]:
    """Register ``cls`` for the duration of a ``with`` block (tests: the registry is left as it was)."""
    if cls.name in _REGISTRY:
        raise ValueError(f"law name {cls.name!r} is already registered")
    register(cls)
    try:
        yield cls
    finally:
        unregister(cls.name)


def _key(name: Any) -> str:
    return str(name).strip().lower()


def law_names(*, fittable: bool | None = None) -> tuple[str, ...]:
    """Registered law names in their ``order`` (only the fittable ones, or only the others, when asked).

    >>> law_names(fittable=True)[:2]
    ('laplace', 'gaussian')
    """
    classes = sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))
    return tuple(c.name for c in classes if fittable is None or c.fittable == fittable)


def law_class(name: str, *, fittable: bool = False) -> type[Law]:
    """The law class registered as ``name`` (case-insensitive); ValueError listing the choices otherwise.
    ``fittable=True``: only laws that :func:`~biper_analysis.laws.fitting.fit_law` can fit."""
    cls = _REGISTRY.get(_key(name))
    if cls is None or (fittable and not cls.fittable):
        choices = law_names(fittable=True if fittable else None)
        what = "unknown law" if cls is None else "law that cannot be fitted"
        raise ValueError(f"{what} {name!r}; choose one of {', '.join(choices)}")
    return cls


def law_info(name: str) -> LawInfo:
    """The registry's entry for ``name``."""
    cls = law_class(name)
    return LawInfo(
        name=cls.name,
        cls=cls,
        n_params=len(cls.PARAMS),
        needs_omega0=cls.needs_omega0(),
        fittable=cls.fittable,
        closed_form=cls.closed_form(),
        style=tuple(cls.style),
        version=str(cls.version),
        order=cls.order,
    )


def law_versions(*, fittable: bool | None = None) -> list[list[str]]:
    """[[name, version], ...] of the registered laws (the fittable ones when asked): part of the cache key of an
    analysis that fits laws, so that a new law, or a law whose numbers changed (its ``version`` bumped),
    invalidates cached analyses."""
    return [[name, str(_REGISTRY[name].version)] for name in law_names(fittable=fittable)]


def law_style(name: str) -> tuple[str, str]:
    """(colour, line style) of a law in every figure; a grey solid line for a name not registered."""
    cls = _REGISTRY.get(_key(name))
    return tuple(cls.style) if cls is not None else DEFAULT_STYLE
