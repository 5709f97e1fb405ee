"""`biper-analysis check` on the real paper_checks/ folder (theory checks only: quick) and on bad input."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_one_line_error, run_cli


def test_check_peak_writes_report_and_passes(tmp_path: Path):
    report = tmp_path / "REPORT.md"
    proc = run_cli("check", "--quick", "--only", "qe_min_peak", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout and "qe_min_peak" in proc.stdout
    assert "0.1028346" in report.read_text()


def test_check_fail_exits_one(tmp_path: Path):
    (tmp_path / "check_false.py").write_text(
        "from biper_analysis.checks import CheckResult\n"
        "def run(ctx):\n    return CheckResult('false','c','s','r','m','t','fail')\n")
    proc = run_cli("check", "--checks-dir", str(tmp_path))
    assert proc.returncode == 1
    assert (tmp_path / "REPORT.md").exists()


def test_check_missing_folder_is_one_line(tmp_path: Path):
    proc = run_cli("check", "--checks-dir", str(tmp_path / "nope"))
    assert_one_line_error(proc, "not found")
