r"""The QE table: QE and its moments over ω0 for one or more weight laws, at one γ — the one place the QE report
is assembled (``biper-analysis qe`` prints one row, ``biper-analysis sweep`` writes a grid); CSV with provenance.

Every column only *calls* the single definitions: a law's ``expected_sin2`` / ``expected_abs_sin`` (for
Laplace(0, b) the closed forms of :mod:`biper_analysis.theory.analytic`, pdf :math:`e^{-|w|/b}/(2b)`), combined by
:func:`biper_analysis.theory.analytic.qe_from_moments`; ``official_l1`` = 1 − E|sin|; ``normalised_qe`` = QE / E sin²;
``dqe_domega0`` for Laplace only. One row per (law, ω0), law-major; ``gamma=None`` means the optimal γ* of each
row.

>>> t = qe_sweep([20.0], [0.05], gamma=0.6)
>>> f"{t['qe'][0]:.12f}"
'0.105801153564'
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io import validation
from biper_analysis._io.atomic import atomic_open
from biper_analysis.laws.priors import PRIOR_NAMES, Laplace, make_prior
from biper_analysis.theory import analytic

__all__ = ["PRIORS", "COLUMNS", "qe_table", "qe_point", "qe_sweep", "write_csv", "read_csv"]

#: Weight-law families a sweep accepts by name (the scale is b for Laplace, σ for Gaussian, the Student-t scale).
PRIORS = PRIOR_NAMES
#: CSV columns, in order.
COLUMNS = ("prior", "scale", "df", "omega0", "x", "gamma", "gamma_is_optimal", "qe", "qe_min", "gamma_opt",
           "e_sin2", "e_abs_sin", "official_l1", "normalised_qe", "dqe_domega0")
_ROWS_PER_BLOCK = 100_000  # CSV rows formatted at once (bounds memory; one progress step each)


def _law_columns(om: np.ndarray, law: Any, g: float | None) -> dict[str, np.ndarray]:
    """Every column for one law over the ω0 grid."""
    n = om.size
    e2 = np.asarray(law.expected_sin2(om), dtype=np.float64).reshape(n)
    e1 = np.asarray(law.expected_abs_sin(om), dtype=np.float64).reshape(n)
    qe = np.asarray(analytic.qe_from_moments(e2, e1, g), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # E sin² underflows only for ω0·scale ≲ 1e-154
        normalised = (np.asarray(analytic.normalised_qe(om, law.b, g), dtype=np.float64).reshape(n)
                      if isinstance(law, Laplace) else qe / e2)
    derivative = (np.asarray(analytic.dqe_domega0(om, law.b, g), dtype=np.float64).reshape(n)
                  if isinstance(law, Laplace) else np.full(n, np.nan))
    return {
        "prior": np.full(n, law.name, dtype=object), "scale": np.full(n, float(law.scale)),
        "df": np.full(n, float(getattr(law, "df", math.nan))), "omega0": om, "x": om * law.scale,
        "gamma": e1 if g is None else np.full(n, g), "gamma_is_optimal": np.full(n, g is None),
        "qe": qe, "qe_min": np.asarray(analytic.qe_from_moments(e2, e1, None), dtype=np.float64),
        "gamma_opt": e1, "e_sin2": e2, "e_abs_sin": e1, "official_l1": 1.0 - e1, "normalised_qe": normalised,
        "dqe_domega0": derivative,
    }


def qe_table(omega0: Sequence[float] | np.ndarray, laws: Sequence[Any], gamma: float | None = None
             ) -> dict[str, np.ndarray]:
    """QE and its moments on the grid ω0 × laws (law-major order) at one ``gamma`` (None = γ* per row).

    ``laws``: prior or law objects (:mod:`biper_analysis.laws.priors`, :mod:`biper_analysis.laws`). Returns a dict of
    equal-length columns named as :data:`COLUMNS`.
    """
    om = np.atleast_1d(validation.positive("omega0", omega0)).ravel()
    g = validation.parse_gamma(gamma)
    parts = [_law_columns(om, law, g) for law in laws]
    if not parts:
        raise ValueError("qe_table needs at least one weight law")
    return {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}


def qe_point(omega0: float, law: Any, gamma: float | None = None) -> dict[str, Any]:
    """One row of :func:`qe_table` as plain Python values (``b`` is the Laplace scale, None for other laws).

    >>> r = qe_point(20.0, Laplace(0.05), 0.6)
    >>> f"{r['qe']:.12f}", r["b"]
    ('0.105801153564', 0.05)
    """
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


def qe_sweep(omega0: Sequence[float] | np.ndarray, scales: Sequence[float], gamma: float | None = None,
             prior: str = "laplace", df: float | None = None) -> dict[str, np.ndarray]:
    """:func:`qe_table` for a named family at several scales (scale-major order)."""
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if prior != "student-t" and df is not None:
        raise ValueError(f"df applies only to the student-t prior, not {prior!r}; drop it")
    sc = np.atleast_1d(validation.positive("scale (b)", scales)).ravel()
    return qe_table(omega0, [make_prior(prior, float(s), df) for s in sc], gamma)


# ---------------------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------------------
def _format_column(values: np.ndarray) -> list[str]:
    """Shortest round-trip text of each value (repr), '' for NaN, true/false for booleans."""
    if values.dtype == bool:
        return ["true" if v else "false" for v in values.tolist()]
    if values.dtype == object:
        return [str(v) for v in values.tolist()]
    return ["" if v != v else repr(v) for v in values.tolist()]


def write_csv(table: dict[str, np.ndarray], path: str | Path, provenance_record: dict[str, Any],
              progress: Callable[[int], None] | None = None) -> Path:
    """Write ``table`` atomically as CSV; line 1 is ``# provenance: {json}``, line 2 the header.

    Formatted a block of rows at a time, column by column; ``progress(rows)`` is called after each block. An
    error or interruption leaves no file behind (the temporary file is removed).
    """
    path = Path(path)
    n = len(next(iter(table.values())))
    with atomic_open(path, "w", newline="") as fh:
        fh.write("# provenance: " + json.dumps(provenance_record, sort_keys=True) + "\n")
        fh.write(",".join(COLUMNS) + "\n")
        for start in range(0, n, _ROWS_PER_BLOCK):
            stop = min(start + _ROWS_PER_BLOCK, n)
            cols = [_format_column(np.asarray(table[c][start:stop])) for c in COLUMNS]
            fh.write("\n".join(",".join(cells) for cells in zip(*cols)) + "\n")
            if progress is not None:
                progress(stop - start)
    return path


def read_csv(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a sweep CSV back: (columns, provenance)."""
    lines = Path(path).read_text().splitlines()
    if not lines or not lines[0].startswith("# provenance: "):
        raise ValueError(f"{path}: not a biper-analysis sweep file (first line must be '# provenance: ...')")
    prov = json.loads(lines[0][len("# provenance: "):])
    header = lines[1].split(",")
    rows = [line.split(",") for line in lines[2:] if line]
    table: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        raw = [r[j] for r in rows]
        if name == "prior":
            table[name] = np.array(raw, dtype=object)
        elif name == "gamma_is_optimal":
            table[name] = np.array([v == "true" for v in raw])
        else:
            table[name] = np.array([float(v) if v else np.nan for v in raw])
    return table, prov
