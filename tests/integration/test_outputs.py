"""Never lose a user's file: every command refuses to write over an input or a file it did not write, validates
its options before any work (one line on stderr, exit 2, inputs unchanged byte for byte, no stray files), and an
interrupted command leaves no temporary file behind.

Refusals run through cli.main in this process (run_cli_in_process: the console script's code path without ~1 s of
imports per call); what needs a real process — signals, the debug switch's traceback — runs in a subprocess."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from biper_analysis._io.outputs import written_by
from tests.checkpoint_factory import save_official
from tests.conftest import assert_one_line_error, run_cli_in_process


def _digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its SHA-256 (hidden temporary files included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def run_folder(tmp_path: Path) -> Path:
    """An official-format save folder: stage2/model_best.pth.tar with its config.txt."""
    save_official(tmp_path / "run" / "stage2", omega0=20.0)
    return tmp_path / "run"


@pytest.mark.parametrize(
    "option, target, needle",
    [
        ("--json", "stage2/model_best.pth.tar", ".json"),  # wrong suffix: refused before reading anything
        ("--csv", "stage2/config.txt", ".csv"),
        ("--plot", "stage2/model_best.pth.tar", ".png"),
        ("--save-laws", "stage2/config.txt", ".json"),
    ],
)
def test_fit_b_never_writes_over_its_inputs(run_folder, option, target, needle):
    before = _digest(run_folder)
    proc = run_cli_in_process("fit-b", str(run_folder), option, str(run_folder / target))
    assert_one_line_error(proc, needle)
    assert _digest(run_folder) == before


def test_fit_b_refuses_foreign_files_and_replaces_its_own(run_folder, tmp_path):
    foreign = tmp_path / "mine.json"
    foreign.write_text('{"my": "results"}\n')
    assert_one_line_error(run_cli_in_process("fit-b", str(run_folder), "--json", str(foreign)), "was not written by")
    assert foreign.read_text() == '{"my": "results"}\n'
    own = tmp_path / "report.json"
    first = run_cli_in_process("fit-b", str(run_folder), "--json", str(own))
    assert first.returncode == 0, first.stderr
    assert written_by(own, "fit-b") and not written_by(own, "sweep")
    second = run_cli_in_process("fit-b", str(run_folder), "--json", str(own))
    assert second.returncode == 0 and "replacing" in second.stderr
    # another command's file is not fit-b's to replace
    sweep_csv = tmp_path / "s.csv"
    assert run_cli_in_process("sweep", "--omega0", "1:10:3", "--b", "0.05", "--out", str(sweep_csv)).returncode == 0
    assert_one_line_error(run_cli_in_process("fit-b", str(run_folder), "--csv", str(sweep_csv)), "was not written by")


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--plot", "out.jpg"), ".png"),
        (("--plot", "x.tar"), ".png"),
        (("--law", "cauchy"), "unknown law 'cauchy'"),
        (("--model", "cauchy"), "unknown law 'cauchy'"),
        (("--law", "comb", "--model", "comb"), "give --law only"),
        (("--csv", "-"), "--csv needs a file name"),
        (("--plot-layers", "PLOTFILE"), "is a file"),
        (("--json", "SAME.json", "--save-laws", "SAME.json"), "name the same file"),
    ],
)
def test_fit_b_bad_options_are_refused_before_any_work(run_folder, tmp_path, args, needle):
    (tmp_path / "PLOTFILE").write_text("x")
    args = tuple(
        a.replace("PLOTFILE", str(tmp_path / "PLOTFILE")).replace("SAME", str(tmp_path / "same")) for a in args
    )
    start = time.perf_counter()
    proc = run_cli_in_process("fit-b", str(run_folder), *args)
    assert_one_line_error(proc, needle)
    assert time.perf_counter() - start < 30  # no analysis ran (the subprocess start is most of it)
    assert not (tmp_path / "same.json").exists()


def test_sweep_limits_and_its_own_outputs(tmp_path):
    assert_one_line_error(
        run_cli_in_process("sweep", "--omega0", "1:200:1e13", "--b", "0.05", "--out", str(tmp_path / "s.csv")),
        "take up to",
        "free",
    )  # more than the disk
    assert_one_line_error(
        run_cli_in_process(
            "sweep",
            "--omega0",
            "1:200:6000000",
            "--b",
            "0.01,0.05",
            "--max-points",
            "1e7",
            "--out",
            str(tmp_path / "s.csv"),
        ),
        "12,000,000 rows",
        "--max-points 10000000",
    )
    own, plot = tmp_path / "own.csv", tmp_path / "own.png"
    for _attempt in range(2):  # the second run replaces its own outputs
        proc = run_cli_in_process("sweep", "--omega0", "1:10:3", "--b", "0.05", "--out", str(own), "--plot", str(plot))
        assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("replacing") == 2
    own.unlink()
    plot.unlink()
    foreign = tmp_path / "data.csv"
    foreign.write_text("a,b\n1,2\n")
    assert_one_line_error(
        run_cli_in_process("sweep", "--omega0", "1:10:3", "--b", "0.05", "--out", str(foreign)), "was not written by"
    )
    assert foreign.read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_verify_sample_limit():
    """Refused before any sampling (the 2e4 notation itself is tested in test_cli_core.py)."""
    assert_one_line_error(run_cli_in_process("verify", "--samples", "100000000000"), "--max-samples")


def test_figures_and_train_sweep_refuse_a_file_given_as_folder(tmp_path):
    f = tmp_path / "afile"
    f.write_text("keep me")
    assert_one_line_error(run_cli_in_process("figures", "--out", str(f), "--only", "fig3"), "is a file")
    assert_one_line_error(run_cli_in_process("train-sweep", "--out", str(f)), "is a file")
    assert f.read_text() == "keep me"


def test_train_and_train_sweep_write_only_into_folders_of_their_own(run_folder, tmp_path):
    """A run into a folder holding another run's stage files, a dataset or anything else is refused, as is a sweep
    into a folder that is not a sweep's; nothing there changes and nothing is added."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train-images-idx3-ubyte.gz").write_bytes(b"not really")
    tiny = ("--model", "mlp_1w1a", "--epochs1", "1", "--epochs2", "1")
    before = {str(f): _digest(f) for f in (run_folder, data)}
    assert_one_line_error(run_cli_in_process("train", *tiny, "--out", str(run_folder / "stage2")), "not empty")
    assert_one_line_error(run_cli_in_process("train", *tiny, "--out", str(data)), "not empty", "train-images")
    assert_one_line_error(run_cli_in_process("train-sweep", "--out", str(run_folder)), "not a training-sweep folder")
    assert {str(f): _digest(f) for f in (run_folder, data)} == before


def test_train_sweep_refuses_a_baseline_without_its_biper_partner(tmp_path):
    proc = run_cli_in_process("train-sweep", "--out", str(tmp_path / "s"), "--omega0", "10,30", "--seeds", "0")
    assert_one_line_error(proc, "--paired-omega0 20 is not among --omega0 10,30")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--seeds", "-1"), "seed must be >= 0"),
        (("--seeds", "0,0"), "repeat"),
        (("--epochs1", "0"), ">= 1"),
        (("--omega0", "0,20"), "--omega0"),
        (("--jobs", "0"), ">= 1"),
    ],
)
def test_train_sweep_bad_options_are_one_line(tmp_path, args, needle):
    proc = run_cli_in_process("train-sweep", "--out", str(tmp_path / "r"), *args)
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "r").exists()


def test_eval_reports_the_stored_accuracy_and_warns_on_contradictions(run_folder, tmp_path):
    from tests.fake_datasets import write_fashion_mnist

    data = write_fashion_mnist(tmp_path / "data", n_train=32, n_test=20)
    proc = run_cli_in_process(
        "eval", str(run_folder), "--data-dir", str(data), "--dataset", "fashion-mnist", "--stage", "1", "--omega0", "5"
    )
    assert proc.returncode == 0, proc.stderr
    assert "the file says 86.98%" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert any("--omega0 5 contradicts omega0 = 20 in config.txt" in w for w in warnings), proc.stderr
    assert any("--stage 1 contradicts stage = 2" in w for w in warnings), proc.stderr


def test_debug_traceback_only_with_biper_debug_1(tmp_path):
    """BIPER_DEBUG unset or 0: one line, exit 2; BIPER_DEBUG=1: the exception itself escapes (a traceback)."""
    missing = str(tmp_path / "missing.pth")
    assert_one_line_error(run_cli_in_process("fit-b", missing, env={"BIPER_DEBUG": "0"}), "does not exist")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_cli_in_process("fit-b", missing, env={"BIPER_DEBUG": "1"})


@pytest.mark.parametrize("sig", [signal.SIGTERM])  # SIGINT, in every format: tests/integration/test_cli_sweep.py
def test_an_interrupted_sweep_leaves_no_temporary_file(tmp_path, sig):
    """A kill while a large CSV is being written: exit status 130, nothing left in the folder."""
    out = tmp_path / "big.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "biper_analysis",
            "sweep",
            "--omega0",
            "1:200:1e7",
            "--b",
            "0.01,0.05",
            "--columns",
            "omega0,qe",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".big.csv.") for p in tmp_path.iterdir()):
        time.sleep(0.05)  # wait until the temporary file exists: the write is under way
    assert any(p.name.startswith(".big.csv.") for p in tmp_path.iterdir()), "the sweep never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_negative_value_is_named_not_taken_for_an_option():
    """argparse alone answers "expected one argument" for --omega0 -5,10; the value is checked and named instead."""
    for grid in ("-5,10", "-1:100:20"):
        assert_one_line_error(
            run_cli_in_process("sweep", "--omega0", grid, "--b", "0.05", "--out", "s.csv"),
            "--omega0 values must be > 0",
        )
