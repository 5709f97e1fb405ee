"""Executable paper checks: the shared record, verdict rules that can fail, and the generated report.

Each module ``biper_analysis/paper_checks/check_*.py`` states one claim and defines ``run(context) ->
CheckResult``; it holds no math of its own (it calls the library) and reads results only from the cached
training sweep (it never trains). Every verdict comes from one of the pure rules below, each of which can return
pass, fail and inconclusive (tests exercise all three on constructed inputs). :func:`run_all` runs the checks;
:func:`write_report` writes the Markdown report. Only a ``fail`` makes the ``check`` command exit non-zero.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import pkgutil
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.outputs import producer
from biper_analysis._io.provenance import provenance

__all__ = [
    "PASS",
    "FAIL",
    "INCONCLUSIVE",
    "CheckResult",
    "CheckContext",
    "verdict_within",
    "verdict_interval",
    "verdict_threshold",
    "verdict_predictions",
    "PREDICT_REL_TOL",
    "PREDICT_SE_K",
    "MISS_SE_K",
    "discover",
    "run_all",
    "run_check",
    "write_report",
    "script_main",
]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One claim checked: what was claimed, where, what it reported, what we measured, and the verdict."""

    name: str
    claim: str
    source: str
    reported: str
    measured: str
    tolerance: str
    verdict: str
    details: str = ""
    command: str = "biper-analysis check"

    def __post_init__(self) -> None:
        if self.verdict not in (PASS, FAIL, INCONCLUSIVE):
            raise ValueError(f"verdict must be pass, fail or inconclusive, got {self.verdict!r}")


@dataclasses.dataclass(frozen=True)
class CheckContext:
    """What a check may read: the cached training sweep, reference runs, and the quick flag (never trains)."""

    runs_dir: Path | None
    quick: bool = False
    reference_runs: Path | None = None

    def sweep(self) -> tuple[dict[str, Any] | None, str]:
        """The training sweep, or (None, why it is missing)."""
        from biper_analysis.training.sweep import load_training_sweep

        if self.runs_dir is None:
            return None, "no training sweep given (run `biper-analysis train-sweep` and pass --runs)"
        try:
            return load_training_sweep(self.runs_dir), ""
        except FileNotFoundError as exc:
            return None, f"no training sweep: {exc}"


# ---------------------------------------------------------------------------------------------------
# Verdict rules
# ---------------------------------------------------------------------------------------------------
def verdict_within(measured: float, reported: float, tolerance: float) -> str:
    """pass when |measured − reported| <= tolerance, fail when it is larger, inconclusive when not a number.

    >>> verdict_within(0.1028346, 0.102835, 5e-7), verdict_within(0.2, 0.1, 0.01), verdict_within(float("nan"), 0, 1)
    ('pass', 'fail', 'inconclusive')
    """
    diff = abs(measured - reported)
    if not math.isfinite(diff):
        return INCONCLUSIVE
    return PASS if diff <= tolerance else FAIL


def verdict_interval(low: float, high: float) -> str:
    """For "A beats B" from a confidence interval of A − B: pass if it lies above 0, fail if it lies below 0,
    inconclusive when it contains 0 or is undefined — symmetric in A and B.

    >>> verdict_interval(0.1, 0.5), verdict_interval(-0.5, -0.1), verdict_interval(-0.1, 0.2)
    ('pass', 'fail', 'inconclusive')
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if low > 0:
        return PASS
    if high < 0:
        return FAIL
    return INCONCLUSIVE


def verdict_threshold(value: float, threshold: float, enough_data: bool) -> str:
    """pass when value >= threshold, fail below it, inconclusive without enough data or a number.

    >>> verdict_threshold(0.9, 0.8, True), verdict_threshold(0.4, 0.8, True), verdict_threshold(0.9, 0.8, False)
    ('pass', 'fail', 'inconclusive')
    """
    if not enough_data or not math.isfinite(value):
        return INCONCLUSIVE
    return PASS if value >= threshold else FAIL


#: A prediction holds when within max(PREDICT_REL_TOL, PREDICT_SE_K SE) of the measurement; it clearly misses when
#: off by more than PREDICT_REL_TOL *and* MISS_SE_K SE (between the two: noise cannot be told from a misfit).
PREDICT_REL_TOL, PREDICT_SE_K, MISS_SE_K = 0.05, 2.0, 3.0


def verdict_predictions(errors: Sequence[tuple[float, float]]) -> tuple[str, int, int]:
    """For "X predicts every item" from (relative error, z) per item: pass when every item is within
    max(5 %, 2 SE), fail when any clearly misses (off by more than 5 % and 3 SE), inconclusive otherwise (no items,
    an undefined error, or misses only in the 2–3 SE band). Returns (verdict, n within, n clear misses).

    >>> verdict_predictions([(0.01, 0.5), (-0.04, 3.0)])[0], verdict_predictions([(0.2, 8.0), (0.0, 0.0)])[0]
    ('pass', 'fail')
    >>> verdict_predictions([(0.07, 2.5)])[0], verdict_predictions([])[0]
    ('inconclusive', 'inconclusive')
    """
    within = clear = 0
    undefined = False
    for rel, z in errors:
        if not (math.isfinite(rel) and math.isfinite(z)):
            undefined = True
        elif abs(rel) <= PREDICT_REL_TOL or abs(z) <= PREDICT_SE_K:
            within += 1
        elif abs(z) > MISS_SE_K:
            clear += 1
    if clear:
        return FAIL, within, clear
    if errors and within == len(errors) and not undefined:
        return PASS, within, clear
    return INCONCLUSIVE, within, clear


# ---------------------------------------------------------------------------------------------------
# Running checks
# ---------------------------------------------------------------------------------------------------
def discover(checks_dir: Path | None = None) -> list[tuple[str, Callable[[], ModuleType]]]:
    """(name, loader) of every check, in name order: the package's own (``biper_analysis.paper_checks``), or the
    ``check_*.py`` scripts of ``checks_dir``."""
    if checks_dir is None:
        from biper_analysis import paper_checks

        names = sorted(m.name for m in pkgutil.iter_modules(paper_checks.__path__) if m.name.startswith("check_"))
        return [(n, lambda n=n: importlib.import_module(f"biper_analysis.paper_checks.{n}")) for n in names]
    return [(p.stem, lambda p=p: _load_script(p)) for p in sorted(Path(checks_dir).glob("check_*.py"))]


def _load_script(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"paper_check_{script.stem}", script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_check(name: str, load: Callable[[], ModuleType], context: CheckContext) -> tuple[CheckResult, float]:
    """Run one check; an exception inside it becomes a ``fail`` carrying the error, not a crash."""
    start = time.perf_counter()
    try:
        result = load().run(context)
    except Exception as exc:  # a broken check must show up as a failed claim, with its reason
        result = CheckResult(
            name=name,
            claim="(the check itself raised an error)",
            source=name,
            reported="-",
            measured=f"{type(exc).__name__}: {exc}",
            tolerance="-",
            verdict=FAIL,
            details=traceback.format_exc(limit=3),
        )
    return result, time.perf_counter() - start


def run_all(
    context: CheckContext,
    only: Sequence[str] = (),
    checks_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[tuple[CheckResult, float]]:
    """Run the selected checks in name order; ``progress(i, n, name)`` is called before check i of n starts."""
    selected = [(name, load) for name, load in discover(checks_dir) if not only or any(o in name for o in only)]
    results = []
    for i, (name, load) in enumerate(selected, start=1):
        if progress is not None:
            progress(i, len(selected), name)
        results.append(run_check(name, load, context))
    return results


def write_report(results: Sequence[tuple[CheckResult, float]], path: Path, context: CheckContext) -> None:
    """Write the Markdown report (a table of claims and verdicts, then one section per claim) atomically."""
    counts = {v: sum(r.verdict == v for r, _ in results) for v in (PASS, FAIL, INCONCLUSIVE)}
    prov = provenance(
        {
            "runs_dir": str(context.runs_dir),
            "quick": context.quick,
            "reference_runs": str(context.reference_runs) if context.reference_runs else None,
        },
        command="check",
    )
    lines = [
        f"<!-- producer: {producer('check')} -->",
        "# Paper checks: report",
        "",
        "Generated by `biper-analysis check` — do not edit by hand. Each claim is one module in "
        "`biper_analysis/paper_checks/`.",
        "",
        f"**{counts[PASS]} pass, {counts[FAIL]} fail, {counts[INCONCLUSIVE]} inconclusive.**",
        "",
        "| check | claim | reported | measured | verdict |",
        "|---|---|---|---|---|",
    ]
    for r, _ in results:
        lines.append(f"| `{r.name}` | {_cell(r.claim)} | {_cell(r.reported)} | {_cell(r.measured)} | **{r.verdict}** |")
    for r, seconds in results:
        lines += [
            "",
            f"## `{r.name}` — {r.verdict}",
            "",
            f"- **Claim:** {r.claim}",
            f"- **Source:** {r.source}",
            f"- **Reported:** {r.reported}",
            f"- **Measured:** {r.measured}",
            f"- **Tolerance and why:** {r.tolerance}",
            f"- **Reproduce:** `{r.command}`",
            f"- **Time:** {seconds:.1f} s",
        ]
        if r.details:
            lines += ["", "```", r.details.rstrip(), "```"]
    lines += ["", "## Provenance", "", "```json", json.dumps(prov, indent=2, sort_keys=True), "```", ""]
    with atomic_open(path) as fh:
        fh.write("\n".join(lines))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def script_main(run: Callable[[CheckContext], CheckResult], runs_dir: str | None = "runs/sweep") -> int:
    """Entry point for running one check by itself (``python -m biper_analysis.paper_checks.check_x``): prints
    the verdict, exit 1 on fail."""
    result = run(CheckContext(runs_dir=Path(runs_dir) if runs_dir else None))
    print(f"{result.verdict}: {result.name}: {result.measured}")
    return 1 if result.verdict == FAIL else 0
