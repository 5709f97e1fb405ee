"""`biper-analysis check`: the package's own checks from any folder, the report where the user points, and refusals
(the first run as a real subprocess, the rest through cli.main in this process)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_one_line_error, run_cli, run_cli_in_process


def test_check_from_another_folder_writes_its_own_report(tmp_path: Path):
    proc = run_cli("check", "--quick", "--only", "qe_min_peak", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout and "qe_min_peak" in proc.stdout
    assert "0.1028346" in (tmp_path / "check-out" / "REPORT.md").read_text()  # its own folder, never ./ itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check-out"]
    again = run_cli_in_process("check", "--quick", "--only", "qe_min_peak", cwd=tmp_path)  # its own report: replaced
    assert again.returncode == 0 and "replacing" in again.stdout


def test_check_fail_exits_one(tmp_path: Path):
    (tmp_path / "check_false.py").write_text(
        "from biper_analysis.paper_checks.record import CheckResult\n"
        "def run(ctx):\n    return CheckResult('false','c','s','r','m','t','fail')\n"
    )
    proc = run_cli_in_process("check", "--checks-dir", str(tmp_path), "--report", str(tmp_path / "R.md"))
    assert proc.returncode == 1
    assert (tmp_path / "R.md").exists()


def test_check_refuses_files_it_did_not_write_and_bad_places(tmp_path: Path):
    ckpt = tmp_path / "some.pth.tar"
    ckpt.write_bytes(b"PK\x03\x04 not really")
    assert_one_line_error(run_cli_in_process("check", "--only", "qe_min_peak", "--report", str(ckpt)), ".md")
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    assert_one_line_error(
        run_cli_in_process("check", "--only", "qe_min_peak", "--report", str(notes)), "was not written by"
    )
    assert notes.read_text() == "my notes\n" and ckpt.read_bytes() == b"PK\x03\x04 not really"
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "sweep.json").write_text("{}")
    assert_one_line_error(run_cli_in_process("check", "--runs", str(runs), "--report", str(runs / "R.md")), "inside")
    assert sorted(p.name for p in runs.iterdir()) == ["sweep.json"]


def test_check_missing_folder_is_one_line(tmp_path: Path):
    proc = run_cli_in_process("check", "--checks-dir", str(tmp_path / "nope"))
    assert_one_line_error(proc, "not found")
