"""The paper-check framework: verdict rules, a failing script becomes a fail, the report is written."""
from __future__ import annotations

from pathlib import Path

import pytest

from biper_analysis.checks import (FAIL, INCONCLUSIVE, PASS, CheckContext, CheckResult, run_all,
                                   verdict_difference, verdict_within, write_report)


def test_verdict_within_is_inclusive_and_symmetric():
    assert verdict_within(1.0, 1.1, 0.1 + 1e-12) == PASS
    assert verdict_within(1.2, 1.1, 0.05) == FAIL
    assert verdict_within(1.0, 1.1, 0.05) == FAIL


@pytest.mark.parametrize("diff, se, expected", [(0.5, 0.2, PASS), (0.3, 0.2, INCONCLUSIVE), (-0.5, 0.2, FAIL),
                                                (0.1, float("nan"), INCONCLUSIVE)])
def test_verdict_difference_uses_two_standard_errors(diff, se, expected):
    assert verdict_difference(diff, se, k=2.0) == expected


def test_result_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        CheckResult("n", "c", "s", "r", "m", "t", verdict="maybe")


def test_broken_script_is_a_fail_and_report_lists_it(tmp_path: Path):
    (tmp_path / "check_ok.py").write_text(
        "from biper_analysis.checks import CheckResult\n"
        "def run(ctx):\n    return CheckResult('ok','c','s','r','m','t','pass')\n")
    (tmp_path / "check_broken.py").write_text("def run(ctx):\n    raise RuntimeError('boom')\n")
    context = CheckContext(runs_dir=tmp_path / "none", quick=True)
    results = run_all(tmp_path, context)
    verdicts = {r.name: r.verdict for r, _ in results}
    assert verdicts == {"check_broken": FAIL, "ok": PASS}
    write_report(results, tmp_path / "REPORT.md", context)
    text = (tmp_path / "REPORT.md").read_text()
    assert "1 pass, 1 fail, 0 inconclusive" in text and "RuntimeError: boom" in text and "git_revision" in text
