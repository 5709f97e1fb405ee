r"""Parameter sweeps of QE over (ω0, scale) at one γ, as a column table; CSV with provenance in a header comment.

A sweep only *calls* the single definitions: :mod:`biper_analysis.analytic` for Laplace(0, b) (pdf
:math:`e^{-|w|/b}/(2b)`, ``b`` the scale) and, for other weight laws, the prior's ``expected_sin2`` /
``expected_abs_sin`` combined by :func:`biper_analysis.analytic._qe_from_moments`. One row per (ω0, scale, γ);
``gamma=None`` means the optimal γ* of each row.

>>> t = qe_sweep([20.0], [0.05], gamma=0.6)
>>> f"{t['qe'][0]:.12f}"
'0.105801153564'
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from biper_analysis import _validate as V
from biper_analysis import analytic as A

__all__ = ["PRIORS", "COLUMNS", "qe_sweep", "write_csv", "read_csv"]

#: Weight laws a sweep accepts (the scale is b for Laplace, σ for Gaussian, the scale of Student-t).
PRIORS = ("laplace", "gaussian", "student-t")
#: CSV columns, in order.
COLUMNS = ("prior", "scale", "df", "omega0", "x", "gamma", "gamma_is_optimal", "qe", "qe_min", "gamma_opt",
           "e_sin2", "e_abs_sin", "official_l1")


def _moments(omega0: np.ndarray, scale: float, prior: str, df: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(E sin², E|sin|) over the ω0 grid for one scale."""
    if prior == "laplace":
        return (np.asarray(A.expected_sin2(omega0, scale), dtype=np.float64),
                np.asarray(A.expected_abs_sin(omega0, scale), dtype=np.float64))
    from biper_analysis.priors import make_prior  # helper module with Gaussian, Student-t, ...

    p = make_prior(prior, scale, df)
    return (np.asarray(p.expected_sin2(omega0), dtype=np.float64),
            np.asarray(p.expected_abs_sin(omega0), dtype=np.float64))


def qe_sweep(omega0: Sequence[float] | np.ndarray, scales: Sequence[float], gamma: float | None = None,
             prior: str = "laplace", df: float | None = None) -> dict[str, np.ndarray]:
    """QE and its moments on the grid ω0 × scales (scale-major order) at one ``gamma`` (None = γ* per row).

    Returns a dict of equal-length columns named as :data:`COLUMNS`.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if prior == "student-t" and df is None:
        raise ValueError("df (degrees of freedom) is required for the student-t prior, e.g. df=4")
    if prior != "student-t" and df is not None:
        raise ValueError(f"df applies only to the student-t prior, not {prior!r}; drop it")
    if df is not None:
        V.positive("df", df)
    om = np.atleast_1d(V.positive("omega0", omega0)).ravel()
    sc = np.atleast_1d(V.positive("scale (b)", scales)).ravel()
    g = None if gamma is None else float(V.nonnegative("gamma", gamma))
    cols: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    for s in sc:
        e2, e1 = _moments(om, float(s), prior, df)
        used = e1 if g is None else np.full_like(om, g)
        n = om.size
        cols["prior"].append(np.full(n, prior, dtype=object))
        cols["scale"].append(np.full(n, s))
        cols["df"].append(np.full(n, np.nan if df is None else float(df)))
        cols["omega0"].append(om)
        cols["x"].append(om * s)
        cols["gamma"].append(used)
        cols["gamma_is_optimal"].append(np.full(n, g is None))
        if prior == "laplace":  # the closed form's own evaluation (fused engine of analytic.py)
            cols["qe"].append(np.asarray(A.qe(om, float(s), g), dtype=np.float64))
            cols["qe_min"].append(np.asarray(A.qe_min(om, float(s)), dtype=np.float64))
        else:
            cols["qe"].append(A._qe_from_moments(e2, e1, used))
            cols["qe_min"].append(A._qe_from_moments(e2, e1, None))
        cols["gamma_opt"].append(e1)
        cols["e_sin2"].append(e2)
        cols["e_abs_sin"].append(e1)
        cols["official_l1"].append(1.0 - e1)
    return {c: np.concatenate(v) for c, v in cols.items()}


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else repr(float(v))
    return str(v)


def write_csv(table: dict[str, np.ndarray], path: str | Path, provenance_record: dict[str, Any]) -> Path:
    """Write ``table`` atomically as CSV; line 1 is ``# provenance: {json}``, line 2 the header."""
    from biper_analysis.atomic import atomic_open

    path = Path(path)
    n = len(next(iter(table.values())))
    with atomic_open(path, "w", newline="") as fh:
        fh.write("# provenance: " + json.dumps(provenance_record, sort_keys=True) + "\n")
        fh.write(",".join(COLUMNS) + "\n")
        for i in range(n):
            fh.write(",".join(_fmt(table[c][i]) for c in COLUMNS) + "\n")
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
