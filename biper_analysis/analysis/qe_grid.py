r"""QE grids: QE and its moments over ω0 × weight laws (scales) × γ — evaluated and written in chunks, so a grid of
any size runs in bounded memory (``biper-analysis sweep``), and read back; ``biper-analysis qe`` prints one row.

Every column only *calls* the single definitions: for Laplace(0, b) (pdf :math:`e^{-|w|/b}/(2b)`) the closed
forms of :mod:`biper_analysis.theory.analytic` with b as an array; for any other law its ``expected_sin2`` /
``expected_abs_sin``; both combined by :func:`biper_analysis.theory.analytic.qe_from_moments`.
``official_l1`` = 1 − E|sin|; ``normalised_qe`` = QE / E sin²; ``dqe_domega0`` for Laplace only (NaN otherwise).

A grid is three lazy axes (:class:`Axis`: a list, or N points from START to STOP, never materialised) and rows in
law-major order: law (scale), then γ, then ω0 fastest — one contiguous curve QE(ω0) per (law, γ). γ = NaN on the
axis stands for the optimal γ* of each row (``gamma_is_optimal``).

Files (:func:`write_grid`, the format from the suffix; every write is atomic: a temporary file renamed at the end):

* ``.csv`` — line 1 ``# provenance: {json}``, line 2 the header, then one row per grid point; NaN is an empty
  field. Written by pyarrow's CSV writer block by block when pyarrow is installed (shortest round-trip text,
  e.g. ``100``), else formatted column by column in Python (``repr``: ``100.0``); both read back exactly.
* ``.parquet`` (needs pyarrow: ``pip install 'biper-analysis[parquet]'``) — one row group per chunk; the
  provenance record as JSON under the key ``provenance`` of the file's key-value metadata; ``prior`` is
  dictionary-encoded.
* ``.npz`` — numpy's format, uncompressed: one ``COLUMN.npy`` member per column plus ``provenance`` (a 0-d
  string array holding the JSON record); written straight into its final layout, no second copy.

>>> t = qe_sweep([20.0], [0.05], gamma=0.6)
>>> f"{t['qe'][0]:.12f}"
'0.105801153564'
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io import validation
from biper_analysis._io.atomic import atomic_path
from biper_analysis._io.errors import UsageError
from biper_analysis.theory import analytic

__all__ = [
    "COLUMNS",
    "FORMATS",
    "PARQUET_HINT",
    "Axis",
    "LawFamily",
    "LawList",
    "QEGrid",
    "qe_table",
    "qe_point",
    "qe_sweep",
    "grid_table",
    "parse_columns",
    "grid_format",
    "require_format",
    "estimate_bytes",
    "check_room",
    "human_bytes",
    "write_grid",
    "read_grid",
    "CHUNK_ROWS",
    "DISK_RESERVE_BYTES",
]

#: Every column, in the default order.
COLUMNS = (
    "prior",
    "scale",
    "df",
    "omega0",
    "x",
    "gamma",
    "gamma_is_optimal",
    "qe",
    "qe_min",
    "gamma_opt",
    "e_sin2",
    "e_abs_sin",
    "official_l1",
    "normalised_qe",
    "dqe_domega0",
)
#: Output formats by file suffix.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".npz": "npz"}
#: The one-line fix when a format needs pyarrow and it is missing.
PARQUET_HINT = "install biper-analysis[parquet] (pip install 'biper-analysis[parquet]', which adds pyarrow)"
#: Rows evaluated and written at once: ~250 bytes of working memory per row (15 columns, indices, scratch), so
#: ~30 MB per chunk and at most three chunks alive (:func:`_evaluated_ahead`); one Parquet row group each.
CHUNK_ROWS = 1 << 17
#: ω0 values whose moments are computed once per law and reused across the γ axis (laws other than Laplace only;
#: 16 bytes each, 16 MiB at most).
_MOMENT_CACHE_POINTS = 1 << 20
_BOOL_COLUMNS = frozenset({"gamma_is_optimal"})
_TEXT_COLUMNS = frozenset({"prior"})


# ---------------------------------------------------------------------------------------------------------
# Axes and the grid
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Axis:
    """The values of one grid axis, produced on demand: an explicit array (``values``), or ``n`` points from
    ``start`` to ``stop`` — equally spaced, or geometric when ``log`` — exactly as :func:`numpy.linspace` /
    :func:`numpy.geomspace` would give them, without ever holding all of them.

    >>> a = Axis.between(1.0, 100.0, 3, log=True)
    >>> a.size, a.take(np.arange(3)).tolist()
    (3, [1.0, 10.0, 100.0])
    >>> Axis.of([0.5, 0.25]).take(np.array([1])).tolist()
    [0.25]
    """

    values: np.ndarray | None = None
    start: float = math.nan
    stop: float = math.nan
    n: int = 0
    log: bool = False

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray | float) -> Axis:
        """An axis holding ``values`` (NaN allowed on the γ axis, where it means the optimal γ*)."""
        arr = np.array(values, dtype=np.float64).ravel()
        if arr.size < 1:
            raise ValueError("an axis needs at least 1 value")
        arr.flags.writeable = False
        return cls(values=arr)

    @classmethod
    def between(cls, start: float, stop: float, n: int, log: bool = False) -> Axis:
        if int(n) < 1:
            raise ValueError(f"an axis needs at least 1 point, got {n}")
        if log and not (start > 0 and stop > 0):
            raise ValueError(f"a geometric axis needs start, stop > 0, got {start:g}, {stop:g}")
        return cls(start=float(start), stop=float(stop), n=int(n), log=bool(log))

    def check(self, name: str, optimal_allowed: bool = False) -> None:
        """ValueError (naming ``name``) unless every value is finite and > 0 — or, with ``optimal_allowed`` (the γ
        axis), NaN (γ*) or finite and >= 0."""
        ends = self.values if self.values is not None else np.array([self.start, self.stop])
        if optimal_allowed:
            validation.nonnegative(name, ends[~np.isnan(ends)])
        else:
            validation.positive(name, ends)

    @property
    def size(self) -> int:
        return self.values.size if self.values is not None else self.n

    def describe(self) -> list[float | None] | str:
        """The axis as given: the list (None for γ*), or 'START:STOP:N' (with ' log' for a geometric one)."""
        if self.values is not None:
            return [None if math.isnan(v) else v for v in self.values.tolist()]
        return f"{self.start!r}:{self.stop!r}:{self.n}" + (" log" if self.log else "")

    def has_nan(self) -> bool:
        return self.values is not None and bool(np.isnan(self.values).any())

    def take(self, index: np.ndarray) -> np.ndarray:
        """float64 values at the integer positions ``index``."""
        index = np.asarray(index, dtype=np.int64)
        if self.values is not None:
            return self.values[index]
        if self.log:
            # numpy.geomspace: 10 ** linspace(log10 start, log10 stop), endpoints set to start and stop exactly
            out = np.power(10.0, _linspace_at(math.log10(self.start), math.log10(self.stop), self.n, index))
            out[index == 0] = self.start
        else:
            out = _linspace_at(self.start, self.stop, self.n, index)
        if self.n > 1:
            out[index == self.n - 1] = self.stop
        return out

    def sample(self, most: int = 1000) -> np.ndarray:
        """At most ``most`` of the values, evenly spread, first and last included."""
        thin = self.thinned(most)
        return thin.take(np.arange(thin.size))

    def thinned(self, most: int) -> Axis:
        """At most ``most`` of the values, evenly spread, first and last included (for a figure)."""
        if self.size <= most:
            return self
        return Axis.of(self.take(np.unique(np.linspace(0, self.size - 1, most).round().astype(np.int64))))


def _linspace_at(start: float, stop: float, n: int, index: np.ndarray) -> np.ndarray:
    """Element ``index`` of numpy.linspace(start, stop, n), by numpy's own arithmetic (i·step + start)."""
    y = index.astype(np.float64)
    if n > 1:
        step = (stop - start) / (n - 1)
        if step == 0:  # numpy's path for a step that underflows
            y /= n - 1
            y *= stop - start
        else:
            y *= step
    else:
        y *= stop - start
    y += start
    return y


@dataclass(frozen=True, eq=False)
class LawFamily:
    """A named weight-law family ('laplace', 'gaussian', 'student-t') over an axis of scales; the law objects are
    made one at a time when needed (Laplace needs none: its closed forms take the scale b as an array)."""

    prior: str
    scales: Axis
    df: float | None = None

    @property
    def size(self) -> int:
        return self.scales.size

    @property
    def names(self) -> tuple[str, ...]:
        return (self.prior,)

    def law(self, i: int) -> Any:
        from biper_analysis.laws.priors import make_prior

        return make_prior(self.prior, float(self.scales.take(np.array([i]))[0]), self.df)


@dataclass(frozen=True)
class LawList:
    """Explicit law objects (priors of :mod:`biper_analysis.laws.priors` or fitted laws of
    :mod:`biper_analysis.laws`)."""

    laws: tuple[Any, ...]

    @property
    def size(self) -> int:
        return len(self.laws)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(law.name for law in self.laws))

    def law(self, i: int) -> Any:
        return self.laws[i]


@dataclass(frozen=True, eq=False)
class QEGrid:
    """The grid laws × γ × ω0 (rows in that order, ω0 fastest). ``gamma`` holds NaN for the optimal γ*.

    >>> g = QEGrid(Axis.between(1.0, 200.0, 5), LawFamily("laplace", Axis.of([0.01, 0.05])), Axis.of([np.nan, 0.6]))
    >>> g.size, g.columns_at(0, g.size, ("qe",))["qe"].shape
    (20, (20,))
    """

    omega0: Axis
    laws: LawFamily | LawList
    gamma: Axis = field(default_factory=lambda: Axis.of([math.nan]))
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.omega0.check("omega0")
        self.gamma.check("gamma", optimal_allowed=True)
        if self.laws.size < 1:
            raise ValueError("a QE grid needs at least one weight law")
        if isinstance(self.laws, LawFamily):
            self.laws.scales.check("scale (b)")

    @property
    def size(self) -> int:
        return self.laws.size * self.gamma.size * self.omega0.size

    @property
    def curves(self) -> int:
        """Number of (law, γ) curves, each over the whole ω0 axis."""
        return self.laws.size * self.gamma.size

    def thinned(self, most_omega0: int) -> QEGrid:
        """The same grid on at most ``most_omega0`` of its ω0 values (a figure's worth)."""
        return QEGrid(self.omega0.thinned(most_omega0), self.laws, self.gamma)

    def chunk_rows(self) -> int:
        """Rows per chunk: :data:`CHUNK_ROWS` for the Laplace closed form; fewer for other laws, whose moments take
        more memory (series) or time (quadrature) per point, so that memory stays bounded and progress moves."""
        laplace = isinstance(self.laws, LawFamily) and self.laws.prior == "laplace"
        return CHUNK_ROWS if laplace else CHUNK_ROWS >> 4

    def has_optimal_gamma(self) -> bool:
        return self.gamma.has_nan()

    def columns_at(self, start: int, stop: int, columns: Sequence[str] = COLUMNS) -> dict[str, np.ndarray]:
        """The columns of rows [start, stop). ``prior`` comes as int32 codes into ``self.laws.names``."""
        rows = np.arange(start, stop, dtype=np.int64)
        n_w, n_g = self.omega0.size, self.gamma.size
        if n_g == 1 and self.laws.size == 1:
            i_w, i_g, i_law = rows, np.zeros_like(rows), np.zeros_like(rows)
        else:
            i_w, rest = np.divmod(rows, n_w)[::-1]
            i_law, i_g = np.divmod(rest, n_g)
        return _Rows(self, i_w, i_g, i_law).columns(columns)

    def moments_cached(self, i_law: int, law: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """E sin² and E|sin| of ``law`` over the whole ω0 axis, computed once (None when the axis is too long)."""
        if self.omega0.size > _MOMENT_CACHE_POINTS or self.gamma.size == 1:
            return None
        if self._cache.get("law") != i_law:
            e2, e1 = np.empty(self.omega0.size), np.empty(self.omega0.size)
            for lo, hi in _chunk_ranges(self.omega0.size, self.chunk_rows()):  # bounded: a law's series is 2-D
                e2[lo:hi], e1[lo:hi] = _law_moments(law, self.omega0.take(np.arange(lo, hi)))
            self._cache.update(law=i_law, moments=(e2, e1))
        return self._cache["moments"]


def _law_moments(law: Any, om: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = om.size
    e2 = np.asarray(law.expected_sin2(om), dtype=np.float64).reshape(n)
    e1 = np.asarray(law.expected_abs_sin(om), dtype=np.float64).reshape(n)
    return e2, e1


class _Rows:
    """The quantities of a block of rows, each computed once and only when a requested column needs it."""

    def __init__(self, grid: QEGrid, i_w: np.ndarray, i_g: np.ndarray, i_law: np.ndarray) -> None:
        self.grid, self.i_w, self.i_g, self.i_law = grid, i_w, i_g, i_law
        self.n = i_w.size
        self.memo: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self.memo:
            self.memo[name] = getattr(self, "_" + name)()
        return self.memo[name]

    def columns(self, columns: Sequence[str]) -> dict[str, np.ndarray]:
        out = {c: self.get(c) for c in columns}
        return {c: np.ascontiguousarray(v) for c, v in out.items()}

    # -- the axes
    def _omega0(self) -> np.ndarray:
        return self.grid.omega0.take(self.i_w)

    def _g(self) -> np.ndarray:  # γ per row, NaN = optimal
        return self.grid.gamma.take(self.i_g)

    def _gamma_is_optimal(self) -> np.ndarray:
        return np.isnan(self.get("g"))

    def _laplace(self) -> bool:
        """Every row's law is Laplace(0, b): the closed forms run on arrays of b."""
        laws = self.grid.laws
        if isinstance(laws, LawFamily):
            return laws.prior == "laplace"
        from biper_analysis.laws.priors import Laplace

        return all(isinstance(law, Laplace) for law in laws.laws)

    def _segments(self) -> list[tuple[int, int, int]]:
        """(law index, first row, end row) runs of one law (rows are law-major)."""
        cut = np.flatnonzero(np.diff(self.i_law)) + 1
        edges = [0, *cut.tolist(), self.n]
        return [(int(self.i_law[a]), a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def _scale(self) -> np.ndarray:
        laws = self.grid.laws
        if isinstance(laws, LawFamily):
            return laws.scales.take(self.i_law)
        scales = np.array([float(law.scale) for law in laws.laws])
        return scales[self.i_law]

    def _prior(self) -> np.ndarray:
        laws = self.grid.laws
        if isinstance(laws, LawFamily):
            return np.zeros(self.n, dtype=np.int32)
        names = laws.names
        codes = np.array([names.index(law.name) for law in laws.laws], dtype=np.int32)
        return codes[self.i_law]

    def _df(self) -> np.ndarray:
        laws = self.grid.laws
        if isinstance(laws, LawFamily):
            return np.full(self.n, math.nan if laws.df is None else float(laws.df))
        dfs = np.array([float(getattr(law, "df", math.nan)) for law in laws.laws])
        return dfs[self.i_law]

    def _x(self) -> np.ndarray:
        return self.get("omega0") * self.get("scale")

    # -- the moments
    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        om = self.get("omega0")
        if self.get("laplace"):
            b = self.get("scale")
            return (
                np.asarray(analytic.expected_sin2(om, b), dtype=np.float64),
                np.asarray(analytic.expected_abs_sin(om, b), dtype=np.float64),
            )
        e2, e1 = np.empty(self.n), np.empty(self.n)
        for i, a, b in self.get("segments"):
            law = self.grid.laws.law(i)
            cached = self.grid.moments_cached(i, law)
            if cached is not None:
                e2[a:b], e1[a:b] = cached[0][self.i_w[a:b]], cached[1][self.i_w[a:b]]
            else:
                e2[a:b], e1[a:b] = _law_moments(law, om[a:b])
        return e2, e1

    def _e_sin2(self) -> np.ndarray:
        return self.get("moments")[0]

    def _e_abs_sin(self) -> np.ndarray:
        return self.get("moments")[1]

    def _gamma_opt(self) -> np.ndarray:
        return self.get("e_abs_sin")

    def _official_l1(self) -> np.ndarray:
        return 1.0 - self.get("e_abs_sin")

    def _gamma(self) -> np.ndarray:
        g, opt = self.get("g"), self.get("gamma_is_optimal")
        return np.where(opt, self.get("e_abs_sin"), g) if opt.any() else g

    def _qe_min(self) -> np.ndarray:
        return np.asarray(analytic.qe_from_moments(self.get("e_sin2"), self.get("e_abs_sin"), None), dtype=np.float64)

    def _qe(self) -> np.ndarray:
        opt = self.get("gamma_is_optimal")
        if opt.all():
            return self.get("qe_min")
        # at γ = γ* the term (γ − γ*)² is exactly 0, so those rows equal qe_min bit for bit
        return np.asarray(
            analytic.qe_from_moments(self.get("e_sin2"), self.get("e_abs_sin"), self.get("gamma")), dtype=np.float64
        )

    def _by_gamma(self, fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None], Any]) -> np.ndarray:
        """``fn(ω0, b, γ)`` of :mod:`analytic` per row: γ = None (the optimal) where the row asks for it."""
        om, b, g, opt = self.get("omega0"), self.get("scale"), self.get("g"), self.get("gamma_is_optimal")
        with np.errstate(divide="ignore", invalid="ignore"):  # E sin² underflows only for ω0·b ≲ 1e-154
            if opt.all():
                return np.asarray(fn(om, b, None), dtype=np.float64)
            if not opt.any():
                return np.asarray(fn(om, b, g), dtype=np.float64)
            out = np.empty(self.n)
            out[opt] = fn(om[opt], b[opt], None)
            out[~opt] = fn(om[~opt], b[~opt], g[~opt])
            return out

    def _normalised_qe(self) -> np.ndarray:
        if self.get("laplace"):
            return self._by_gamma(analytic.normalised_qe)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.get("qe") / self.get("e_sin2")

    def _dqe_domega0(self) -> np.ndarray:
        if self.get("laplace"):
            return self._by_gamma(analytic.dqe_domega0)
        return np.full(self.n, math.nan)


# ---------------------------------------------------------------------------------------------------------
# In-memory tables (small grids): the qe command's row, figures, tests
# ---------------------------------------------------------------------------------------------------------
def grid_table(grid: QEGrid, columns: Sequence[str] = COLUMNS) -> dict[str, np.ndarray]:
    """Every row of a (small) grid in memory, ``prior`` as Python strings."""
    out = grid.columns_at(0, grid.size, columns)
    if "prior" in out:
        out["prior"] = np.array(grid.laws.names, dtype=object)[out["prior"]]
    return out


def qe_table(
    omega0: Sequence[float] | np.ndarray, laws: Sequence[Any], gamma: float | None = None
) -> dict[str, np.ndarray]:
    """QE and its moments on the grid ω0 × laws (law-major order) at one ``gamma`` (None = γ* per row), in memory.

    ``laws``: prior or law objects (:mod:`biper_analysis.laws.priors`, :mod:`biper_analysis.laws`). Returns a dict of
    equal-length columns named as :data:`COLUMNS` (``prior`` as Python strings).
    """
    om = np.atleast_1d(validation.positive("omega0", omega0)).ravel()
    g = validation.parse_gamma(gamma)
    if not laws:
        raise ValueError("qe_table needs at least one weight law")
    return grid_table(QEGrid(Axis.of(om), LawList(tuple(laws)), Axis.of([math.nan if g is None else g])))


def qe_point(omega0: float, law: Any, gamma: float | None = None) -> dict[str, Any]:
    """One row of :func:`qe_table` as plain Python values (``b`` is the Laplace scale, None for other laws).

    >>> from biper_analysis.laws.priors import Laplace
    >>> r = qe_point(20.0, Laplace(0.05), 0.6)
    >>> f"{r['qe']:.12f}", r["b"]
    ('0.105801153564', 0.05)
    """
    from biper_analysis.laws.priors import Laplace

    table = qe_table([omega0], [law], gamma)
    row: dict[str, Any] = {}
    for c in COLUMNS:
        value = table[c][0]
        row[c] = value.item() if isinstance(value, np.generic) else value
    row["b"] = float(law.b) if isinstance(law, Laplace) else None
    for key in ("df", "dqe_domega0"):
        if isinstance(row[key], float) and math.isnan(row[key]):
            row[key] = None
    return row


def qe_sweep(
    omega0: Sequence[float] | np.ndarray,
    scales: Sequence[float],
    gamma: float | None = None,
    prior: str = "laplace",
    df: float | None = None,
) -> dict[str, np.ndarray]:
    """:func:`qe_table` for a named family at several scales (scale-major order), in memory."""
    from biper_analysis.laws.priors import PRIOR_NAMES

    if prior not in PRIOR_NAMES:
        raise ValueError(f"prior must be one of {', '.join(PRIOR_NAMES)}, got {prior!r}")
    if prior != "student-t" and df is not None:
        raise ValueError(f"df applies only to the student-t prior, not {prior!r}; drop it")
    if prior == "student-t" and df is None:
        raise ValueError("the student-t prior needs df (degrees of freedom > 0), e.g. df=4")
    sc = np.atleast_1d(validation.positive("scale (b)", scales)).ravel()
    om = np.atleast_1d(validation.positive("omega0", omega0)).ravel()
    g = validation.parse_gamma(gamma)
    grid = QEGrid(Axis.of(om), LawFamily(prior, Axis.of(sc), df), Axis.of([math.nan if g is None else g]))
    return grid_table(grid)


# ---------------------------------------------------------------------------------------------------------
# Columns, formats and sizes
# ---------------------------------------------------------------------------------------------------------
def parse_columns(text: str | None) -> tuple[str, ...]:
    """'omega0,qe' → ('omega0', 'qe'); None → every column. One clear message for an unknown or repeated name.

    >>> parse_columns("omega0, qe")
    ('omega0', 'qe')
    """
    if text is None:
        return COLUMNS
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    if not names:
        raise UsageError(f"--columns needs at least one column name, e.g. omega0,qe (any of {','.join(COLUMNS)})")
    for c in names:
        if c not in COLUMNS:
            raise UsageError(f"--columns: no column {c!r}; choose from {','.join(COLUMNS)}")
    repeated = [c for c in dict.fromkeys(names) if names.count(c) > 1]
    if repeated:
        raise UsageError(f"--columns names {repeated[0]!r} twice; give each column once")
    return names


def grid_format(path: str | os.PathLike[str]) -> str:
    """'csv', 'parquet' or 'npz' from the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{path}: the file must end in .csv, .parquet or .npz")
    return FORMATS[suffix]


def _has_pyarrow() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def require_format(fmt: str) -> None:
    """Refuse, with the install hint, a format whose writer is not installed (Parquet needs pyarrow)."""
    if fmt == "parquet" and not _has_pyarrow():
        raise UsageError(f"writing .parquet needs pyarrow, which is not installed: {PARQUET_HINT}")


def _kind(column: str) -> str:
    return "text" if column in _TEXT_COLUMNS else "bool" if column in _BOOL_COLUMNS else "float"


def estimate_bytes(grid: QEGrid, columns: Sequence[str], fmt: str) -> int:
    """An upper bound of the file's size: CSV at 25 characters per number (the longest shortest-round-trip text of a
    float64 and its comma), Parquet at 8 bytes per number before compression (a byte per row for the columns with one
    value per law or γ, dictionary-encoded), npz to within its headers."""
    width = max(len(n) for n in grid.laws.names)
    per_row = {
        "csv": {"float": 25, "bool": 6, "text": width + 1},
        "parquet": {"float": 8, "bool": 1, "text": 1},
        "npz": {"float": 8, "bool": 1, "text": 4 * width},
    }[fmt]
    coded = _dictionary_columns(grid, columns) if fmt == "parquet" else ()
    row = sum(1 if c in coded else per_row[_kind(c)] for c in columns)
    overhead = 4096 + 512 * len(columns) * (1 + grid.size // CHUNK_ROWS if fmt == "parquet" else 1)
    return grid.size * row + overhead


def human_bytes(nbytes: float) -> str:
    """'1.2 GB' (powers of 1000).

    >>> human_bytes(512), human_bytes(2.5e9)
    ('512 B', '2.5 GB')
    """
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} PB"


#: Space left free on the output's disk beyond the file itself.
DISK_RESERVE_BYTES = 1_000_000_000


def check_room(grid: QEGrid, columns: Sequence[str], path: str | os.PathLike[str], option: str = "--out") -> int:
    """Refuse (one line, the sizes stated) a grid whose file would not fit on the output's disk with
    :data:`DISK_RESERVE_BYTES` to spare; returns the estimate."""
    fmt = grid_format(path)
    need = estimate_bytes(grid, columns, fmt)
    folder = Path(path).resolve().parent
    free = shutil.disk_usage(folder).free
    if need > free - DISK_RESERVE_BYTES:
        reserve = human_bytes(DISK_RESERVE_BYTES)
        raise UsageError(
            f"{option} {path}: {grid.size:,} rows × {len(columns)} columns as .{fmt} take up to "
            f"{human_bytes(need)}, but {folder} has {human_bytes(free)} free (a {reserve} "
            "reserve kept): use fewer points, fewer --columns, "
            + ("a larger disk" if fmt == "parquet" else ".parquet (smaller), or a larger disk")
        )
    return need


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------
def _chunk_ranges(total: int, rows: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, total, rows):
        yield lo, min(lo + rows, total)


def write_grid(
    grid: QEGrid,
    path: str | os.PathLike[str],
    provenance_record: dict[str, Any],
    columns: Sequence[str] = COLUMNS,
    *,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int | None = None,
) -> Path:
    """Evaluate ``grid`` chunk by chunk and write it to ``path`` (format by suffix, see the module docstring).

    Memory stays bounded by ``chunk_rows`` (default :meth:`QEGrid.chunk_rows`); ``progress(rows)`` is called after
    each chunk. Atomic: an error or an interruption (Ctrl-C) leaves no file and no temporary file behind.
    """
    path = Path(path)
    fmt = grid_format(path)
    require_format(fmt)
    columns = tuple(columns)
    writer = {"parquet": _ParquetWriter, "npz": _NpzWriter}.get(fmt) or (
        _CsvArrowWriter if _has_pyarrow() else _CsvTextWriter
    )
    ranges = _chunk_ranges(grid.size, max(1, int(chunk_rows or grid.chunk_rows())))
    with (
        atomic_path(path) as tmp,
        writer(tmp, grid, columns, provenance_record) as out,
        contextlib.closing(_evaluated_ahead(grid, columns, ranges)) as chunks,
    ):
        for lo, hi, chunk in chunks:
            out.write(lo, chunk)
            if progress is not None:
                progress(hi - lo)
    return path


def _evaluated_ahead(
    grid: QEGrid, columns: tuple[str, ...], ranges: Iterator[tuple[int, int]]
) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """The chunks in order, each evaluated in a worker thread while the caller writes the one before: numpy and the
    writers release the GIL, so on two cores the math and the write overlap. At most three chunks are alive."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="qe-grid") as pool:
        current = next(ranges, None)
        if current is None:
            return
        pending = pool.submit(grid.columns_at, *current, columns)
        for following in ranges:
            queued = pool.submit(grid.columns_at, *following, columns)
            yield (*current, pending.result())
            current, pending = following, queued
        yield (*current, pending.result())


class _Writer:
    def __init__(self, tmp: Path, grid: QEGrid, columns: tuple[str, ...], record: dict[str, Any]) -> None:
        self.tmp, self.grid, self.columns, self.record = tmp, grid, columns, record

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        pass

    def write(self, start: int, chunk: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def _csv_head(columns: Sequence[str], record: dict[str, Any]) -> str:
    return "# provenance: " + json.dumps(record, sort_keys=True) + "\n" + ",".join(columns) + "\n"


class _CsvTextWriter(_Writer):
    """CSV without pyarrow: each column of a block formatted at once (repr: shortest round-trip text)."""

    def __enter__(self) -> _CsvTextWriter:
        self.fh = open(self.tmp, "w", newline="")
        self.fh.write(_csv_head(self.columns, self.record))
        self.names = list(self.grid.laws.names)
        return self

    def close(self) -> None:
        self.fh.close()

    def _text(self, column: str, values: np.ndarray) -> list[str]:
        if column == "prior":
            return [self.names[i] for i in values.tolist()]
        if values.dtype == bool:
            return ["true" if v else "false" for v in values.tolist()]
        return ["" if v != v else repr(v) for v in values.tolist()]

    def write(self, start: int, chunk: dict[str, np.ndarray]) -> None:
        cols = [self._text(c, chunk[c]) for c in self.columns]
        self.fh.write("\n".join(",".join(cells) for cells in zip(*cols)) + "\n")


def _arrow_arrays(grid: QEGrid, columns: Sequence[str], chunk: dict[str, np.ndarray], nan_as_null: bool) -> list:
    import pyarrow as pa

    names = pa.array(list(grid.laws.names), type=pa.string())
    out = []
    for c in columns:
        if c == "prior":
            out.append(pa.DictionaryArray.from_arrays(pa.array(chunk[c], type=pa.int32()), names))
        else:
            out.append(pa.array(chunk[c], from_pandas=nan_as_null and _kind(c) == "float"))
    return out


def _arrow_schema(columns: Sequence[str], metadata: dict[bytes, bytes] | None = None) -> Any:
    import pyarrow as pa

    types = {"text": pa.dictionary(pa.int32(), pa.string()), "bool": pa.bool_(), "float": pa.float64()}
    return pa.schema([pa.field(c, types[_kind(c)], nullable=_kind(c) == "float") for c in columns], metadata=metadata)


class _CsvArrowWriter(_Writer):
    """CSV through pyarrow's writer (C++, blocks of rows): NaN written as an empty field, nothing quoted."""

    def __enter__(self) -> _CsvArrowWriter:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.tmp.write_text(_csv_head(self.columns, self.record), encoding="utf-8")
        self.sink = pa.OSFile(str(self.tmp), "ab")
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        self.out = pacsv.CSVWriter(self.sink, _arrow_schema(self.columns), write_options=options)
        return self

    def close(self) -> None:
        try:
            self.out.close()
        finally:
            self.sink.close()

    def write(self, start: int, chunk: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        arrays = _arrow_arrays(self.grid, self.columns, chunk, nan_as_null=True)
        self.out.write_batch(pa.RecordBatch.from_arrays(arrays, schema=_arrow_schema(self.columns)))


def _dictionary_columns(grid: QEGrid, columns: Sequence[str]) -> list[str]:
    """The columns with one value per law or per γ: dictionary-encoded in Parquet (a byte or less per row)."""
    few = {"prior", "scale", "df", "gamma_is_optimal"} | (set() if grid.has_optimal_gamma() else {"gamma"})
    return [c for c in columns if c in few]


class _ParquetWriter(_Writer):
    """Parquet: one row group per chunk; columns with few distinct values dictionary-encoded; the provenance record
    in the key-value metadata; NaN kept as NaN (not null)."""

    def __enter__(self) -> _ParquetWriter:
        import pyarrow.parquet as pq

        self.schema = _arrow_schema(self.columns, {b"provenance": json.dumps(self.record, sort_keys=True).encode()})
        self.out = pq.ParquetWriter(
            str(self.tmp),
            self.schema,
            compression="snappy",
            use_dictionary=_dictionary_columns(self.grid, self.columns),
        )
        return self

    def close(self) -> None:
        self.out.close()

    def write(self, start: int, chunk: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        arrays = _arrow_arrays(self.grid, self.columns, chunk, nan_as_null=False)
        self.out.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))


class _NpzWriter(_Writer):
    """numpy's .npz (a ZIP archive of .npy files, stored uncompressed, ZIP64) written in place: every member's size
    is known from the grid, so each chunk of each column goes straight to its final offset and the file is written
    once. Layout and fields: PKWARE APPNOTE.TXT 6.3 (local headers 4.3.7, central directory 4.3.12, ZIP64 records
    4.3.14-4.3.15 and extra field 4.5.3)."""

    _DOS_DATE = (1 << 5) | 1  # 1980-01-01 00:00: fixed, so a grid always gives the same bytes

    def __enter__(self) -> _NpzWriter:
        width = max(len(n) for n in self.grid.laws.names)
        self.names = np.array(self.grid.laws.names, dtype=f"<U{width}")
        dtypes = {"text": self.names.dtype, "bool": np.dtype(bool), "float": np.dtype(np.float64)}
        n = self.grid.size
        self.members: list[dict[str, Any]] = []
        offset = 0
        for c in self.columns:
            dtype = dtypes[_kind(c)]
            header = _npy_header(dtype, (n,))
            m = self._member(f"{c}.npy", offset, header, n * dtype.itemsize)
            m["itemsize"] = dtype.itemsize
            offset = m["end"]
        prov = np.array(json.dumps(self.record, sort_keys=True))
        self.prov_bytes = _npy_header(prov.dtype, ()) + prov.tobytes()
        self.prov = self._member("provenance.npy", offset, b"", len(self.prov_bytes))
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_TRUNC)
        self.ok = False
        for m in self.members[:-1]:
            self._pwrite(m["header"], m["data"] - len(m["header"]))
            m["crc"] = zlib.crc32(m["header"])
        return self

    def _member(self, name: str, offset: int, npy_header: bytes, size: int) -> dict[str, Any]:
        local = 30 + len(name) + 20
        m = {
            "name": name.encode(),
            "offset": offset,
            "header": npy_header,
            "data": offset + local + len(npy_header),
            "size": len(npy_header) + size,
            "end": offset + local + len(npy_header) + size,
            "crc": 0,
        }
        self.members.append(m)
        return m

    def _pwrite(self, data: bytes | memoryview, offset: int) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def write(self, start: int, chunk: dict[str, np.ndarray]) -> None:
        for c, m in zip(self.columns, self.members):
            values = self.names[chunk[c]] if c == "prior" else chunk[c]
            data = memoryview(np.ascontiguousarray(values)).cast("B")
            self._pwrite(data, m["data"] + start * m["itemsize"])
            m["crc"] = zlib.crc32(data, m["crc"])

    def __exit__(self, kind: Any, *exc: Any) -> None:
        try:
            if kind is None:
                self._finish()
        finally:
            os.close(self.fd)

    def _finish(self) -> None:
        self._pwrite(self.prov_bytes, self.prov["data"])
        self.prov["crc"] = zlib.crc32(self.prov_bytes)
        central = io.BytesIO()
        for m in self.members:
            self._pwrite(self._local_header(m), m["offset"])
            central.write(self._central_header(m))
        cd_offset, cd = self.members[-1]["end"], central.getvalue()
        n = len(self.members)
        end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(cd), cd_offset)
        end += struct.pack("<IIQI", 0x07064B50, 0, cd_offset + len(cd), 1)
        end += struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            min(n, 0xFFFF),
            min(n, 0xFFFF),
            min(len(cd), 0xFFFFFFFF),
            min(cd_offset, 0xFFFFFFFF),
            0,
        )
        self._pwrite(cd + end, cd_offset)

    def _local_header(self, m: dict[str, Any]) -> bytes:
        return (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                45,
                0,
                0,
                0,
                self._DOS_DATE,
                m["crc"],
                0xFFFFFFFF,
                0xFFFFFFFF,
                len(m["name"]),
                20,
            )
            + m["name"]
            + struct.pack("<HHQQ", 0x0001, 16, m["size"], m["size"])
        )

    def _central_header(self, m: dict[str, Any]) -> bytes:
        return (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | 45,
                45,
                0,
                0,
                0,
                self._DOS_DATE,
                m["crc"],
                0xFFFFFFFF,
                0xFFFFFFFF,
                len(m["name"]),
                28,
                0,
                0,
                0,
                0o100644 << 16,
                0xFFFFFFFF,
            )
            + m["name"]
            + struct.pack("<HHQQQ", 0x0001, 24, m["size"], m["size"], m["offset"])
        )


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Reading back
# ---------------------------------------------------------------------------------------------------------
def read_grid(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_grid` (any format): (columns, provenance record). ``prior`` comes back as
    Python strings, ``gamma_is_optimal`` as bool, every other column as float64 (NaN where it was NaN)."""
    path = Path(path)
    fmt = grid_format(path)
    if fmt == "parquet":
        require_format(fmt)
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if b"provenance" not in meta:
            raise ValueError(f"{path}: not a biper-analysis sweep file (no provenance in its metadata)")
        cols = {c: _from_arrow(c, table.column(c)) for c in table.column_names}
        return cols, json.loads(meta[b"provenance"])
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as data:
            if "provenance" not in data.files:
                raise ValueError(f"{path}: not a biper-analysis sweep file (no provenance member)")
            prov = json.loads(str(data["provenance"]))
            cols = {c: data[c] for c in data.files if c != "provenance"}
        if "prior" in cols:
            cols["prior"] = cols["prior"].astype(object)
        return cols, prov
    return _read_csv(path)


def _from_arrow(column: str, values: Any) -> np.ndarray:
    if _kind(column) == "text":
        return np.array(values.to_pylist(), dtype=object)
    if _kind(column) == "bool":
        return values.to_numpy().astype(bool)
    return values.to_numpy().astype(np.float64)  # null (CSV's empty field) becomes NaN


def _read_csv(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        first, header = fh.readline(), fh.readline()
    if not first.startswith("# provenance: "):
        raise ValueError(f"{path}: not a biper-analysis sweep file (first line must be '# provenance: ...')")
    prov = json.loads(first[len("# provenance: ") :])
    names = header.strip().split(",")
    if _has_pyarrow():
        import pyarrow as pa
        import pyarrow.csv as pacsv

        types = {"text": pa.string(), "bool": pa.bool_(), "float": pa.float64()}
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=2, column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types={c: types[_kind(c)] for c in names}, strings_can_be_null=False
            ),
        )
        return {c: _from_arrow(c, table.column(c)) for c in names}, prov
    rows = [line.rstrip("\n").split(",") for line in path.read_text(encoding="utf-8").splitlines()[2:] if line]
    table: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        raw = [r[j] for r in rows]
        if _kind(name) == "text":
            table[name] = np.array(raw, dtype=object)
        elif _kind(name) == "bool":
            table[name] = np.array([v == "true" for v in raw], dtype=bool)
        else:
            table[name] = np.array([float(v) if v else math.nan for v in raw], dtype=np.float64)
    return table, prov
