"""CDFs of the exponential-power laws (GenNorm and the penalised laws) from piecewise-Chebyshev tables.

:class:`_CdfTable` holds G(u) = ∫_0^u e^{-t^β − κ(t)|sin(a t)|^α} dt on [0, u_max], on the pieces of the quadrature
(:mod:`~biper_analysis.laws._quadrature`); :class:`TableCdf` turns it into F(w) = ½ ± G(|w|/s)/(2I) for a law.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from biper_analysis.laws._quadrature import _PEAK_T, SinePolynomial, _direct, _edges, _has_phase, _u_end
from biper_analysis.laws.base import CHUNK as _CHUNK

_NC = 24
_CT = np.cos(math.pi * (np.arange(_NC) + 0.5) / _NC)  # Chebyshev points (first kind)
_CM = (2.0 / _NC) * np.cos(np.outer(np.arange(_NC), math.pi * (np.arange(_NC) + 0.5) / _NC))
_CM[0] *= 0.5  # values -> Chebyshev coefficients
#: Most pieces a CDF table may hold (~40 MiB); beyond it the CDF is integrated point by point.
_MAX_TABLE_PIECES = 200_000


class _CdfTable:
    """G(u) = ∫_0^u e^{-t^β − κ(t)|sin(a t)|^α} dt on [0, u_max] (κ(t) = κ0 on the central half-period when given):
    per piece the antiderivative of the degree-23 Chebyshev interpolant (pieces as in the quadrature), anchored at
    the running sum of the piece integrals."""

    def __init__(
        self,
        beta: float,
        kappa: float | SinePolynomial,
        a: float,
        u_max: float,
        kappa0: float | SinePolynomial | None = None,
        alpha: float = 2.0,
    ) -> None:
        if isinstance(kappa, SinePolynomial):
            edges = _edges(0.0, u_max, beta, kappa, a, None, False, True)
            if kappa0 is not None:
                edges = np.unique(np.concatenate([edges, _edges(0.0, u_max, beta, kappa0, a, None, False, True)]))
        else:
            edges = _edges(0.0, u_max, beta, max(kappa, kappa0 or 0.0), a, None, False, True, alpha=alpha)
        central = 0.5 * math.pi / a
        if kappa0 is not None and central < u_max:
            edges = np.unique(np.concatenate([edges, [central]]))
        lo, hi = edges[:-1], edges[1:]
        half = 0.5 * (hi - lo)
        f = np.empty((lo.size, _NC))
        per = max(1, _CHUNK // _NC)
        for i in range(0, lo.size, per):
            mid = 0.5 * (lo[i : i + per] + hi[i : i + per])
            u = mid[:, None] + half[i : i + per, None] * _CT[None, :]
            if isinstance(kappa, SinePolynomial):
                v = kappa.value(a * u)
                if kappa0 is not None:
                    v = np.where((mid < central)[:, None], kappa0.value(a * u), v)
                f[i : i + per] = np.exp(-np.power(u, beta) - v)
                continue
            k = kappa if kappa0 is None else np.where(mid < central, kappa0, kappa)[:, None]
            sa = np.abs(np.sin(a * u))
            f[i : i + per] = np.exp(-np.power(u, beta) - k * (sa * sa if alpha == 2.0 else np.power(sa, alpha)))
        coef = np.sum(f[:, None, :] * _CM[None], axis=2)  # (P, NC)
        anti = np.polynomial.chebyshev.chebint(coef, lbnd=-1.0, axis=1) * half[:, None]  # (P, NC+1)
        piece = np.polynomial.chebyshev.chebval(1.0, anti.T)  # integral per piece
        self.lo, self.hi, self.half, self.anti_t = lo, hi, half, np.ascontiguousarray(anti.T)
        self.start = np.concatenate([[0.0], np.cumsum(piece)[:-1]])
        self.end = self.start + piece
        self.u_max = float(u_max)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(self.hi, u, side="left"), 0, self.lo.size - 1)
        x = np.clip((u - self.lo[idx]) / self.half[idx] - 1.0, -1.0, 1.0)
        c = self.anti_t[:, idx]  # (NC+1, n)
        x2 = 2.0 * x
        b1, b2 = c[-1].copy(), np.zeros_like(x)
        for j in range(c.shape[0] - 2, 0, -1):  # Clenshaw
            t = x2 * b1
            t -= b2
            t += c[j]
            b1, b2 = t, b1
        val = x * b1
        val -= b2
        val += c[0]
        start = self.start[idx]
        return np.clip(start + np.maximum(val, 0.0), start, self.end[idx])


class TableCdf:
    """CDF of e^{-|w/s|^β − κ(w)|sin(ω0 w)|^α} (GenNorm: κ = 0) from a piecewise-Chebyshev table of
    G(u) = ∫_0^u e^{-t^β − κ(t)|sin(a t)|^α} dt (:class:`_CdfTable`): F(w) = ½ ± G(|w|/s)/(2I); monotone, ~1e-15
    absolute (tails are not resolved relative to their own size)."""

    s: float
    beta: float

    def _kappa_a(self) -> tuple[float, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _kappa0(self) -> float | None:
        return None

    def _alpha(self) -> float:
        return 2.0

    def _total(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @cached_property
    def _tables(self) -> list:
        return []

    @cached_property
    def _u_cut(self) -> float:
        return _u_end(self.beta, ("1",))

    def _table(self, u_need: float) -> _CdfTable:
        """The table on [0, u_max], u_max the power of 2 above u_need (or the cut-off, or the largest power of 2
        within the piece budget). Powers of 2 are always piece edges, so a larger table has the same pieces on
        the smaller one's range: the CDF does not depend on which points were asked for before."""
        kappa, a = self._kappa_a()
        u_max = min(self._u_cut, 2.0 ** math.ceil(math.log2(max(u_need, 1.0))))
        peaks = 2 if isinstance(kappa, SinePolynomial) else 1  # zeros, and crests, per half-period
        per_unit = a / math.pi * peaks * (2 * _PEAK_T.size + 2) if _has_phase(kappa) else 0.0
        if u_max * per_unit > _MAX_TABLE_PIECES:
            u_max = 2.0 ** math.floor(math.log2(max(_MAX_TABLE_PIECES / per_unit, 2.0)))
        tabs = self._tables
        if not tabs or tabs[-1].u_max < u_max:
            tabs[:] = [_CdfTable(self.beta, kappa, a, u_max, self._kappa0(), self._alpha())]
        return tabs[-1]

    def sample_by_inversion(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """w = F⁻¹(U), U uniform: |w|/s by bisection of the tabulated G (60 halvings: to the last bit of the
        table's pieces), a random sign. Any shape of peak, at a cost independent of how narrow the peaks are."""
        target = rng.random(size) * self._total()
        sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
        table = self._table(self._u_cut)
        lo, hi = np.zeros(size), np.full(size, table.u_max)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = table(mid) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return sign * self.s * 0.5 * (lo + hi)

    def cdf(self, w: Any) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        u = np.minimum(np.abs(w) / self.s, self._u_cut)
        flat = u.ravel()
        umax = float(flat.max()) if flat.size else 0.0
        tabs = self._tables
        table = tabs[-1] if tabs and tabs[-1].u_max >= umax else self._table(umax)
        if flat.size <= _CHUNK:
            G = table(flat)
        else:
            G = np.empty(flat.shape)
            for i in range(0, flat.size, _CHUNK):
                G[i : i + _CHUNK] = table(flat[i : i + _CHUNK])
        if umax > table.u_max:
            kappa, a = self._kappa_a()
        for i in np.flatnonzero(flat > table.u_max):  # beyond the piece budget (millions of peaks): one by one
            G[i] = self._total() - float(
                _direct(
                    float(flat[i]),
                    self._u_cut,
                    self.beta,
                    kappa,
                    a,
                    None,
                    ("one",),
                    ("1",),
                    grade=False,
                    alpha=self._alpha(),
                )[0, 0]
            )
        half = np.minimum(G.reshape(u.shape) / (2.0 * self._total()), 0.5)
        return np.where(w < 0, 0.5 - half, 0.5 + half)
