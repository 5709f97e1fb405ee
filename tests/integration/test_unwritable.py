"""Outputs that cannot be written: a folder that refuses writes (for real, also for root: ``readonly_dir``), standard
output on a full disk, two options naming one file. Each is one line on stderr naming the user's path — never a
hidden temporary name — and the fix, exit status 2, before any work, and nothing is left behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from biper_analysis._io.atomic import atomic_path
from biper_analysis._io.errors import OutputUnwritable
from biper_analysis._io.outputs import claim_folder, claim_output, unwritable
from biper_analysis.cli import main
from tests.checkpoint_factory import save_official
from tests.fake_datasets import write_fashion_mnist


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_official(tmp_path_factory.mktemp("ckpt"), omega0=20.0)


def _no_temp_name(proc: subprocess.CompletedProcess[str], target: Path) -> None:
    """The line names the user's path, not the hidden temporary file beside it."""
    assert str(target) in proc.stderr, proc.stderr
    assert f".{target.name}." not in proc.stderr and ".biper-write-check-" not in proc.stderr, proc.stderr


def test_claims_refuse_an_unwritable_folder_naming_the_users_path(readonly_dir):
    with pytest.raises(OutputUnwritable, match=r"cannot write --json .*readonly/fit\.json: .*; write it to another"):
        claim_output(readonly_dir / "fit.json", command="fit-b", option="--json", suffixes=(".json",))
    with pytest.raises(OutputUnwritable, match="--out .*readonly/new/run"):  # the nearest existing folder decides
        claim_folder(readonly_dir / "new" / "run", option="--out")
    assert list(readonly_dir.iterdir()) == []


def test_atomic_write_errors_name_the_target_not_the_temporary_file(tmp_path, readonly_dir):
    target = readonly_dir / "a.txt"
    with pytest.raises(OutputUnwritable) as info, atomic_path(target) as tmp:
        tmp.write_text("never")
    assert str(target) in str(info.value) and ".a.txt." not in str(info.value)
    # an OS error inside the block (here a full disk reported for the temporary file) names the target too
    target = tmp_path / "b.csv"
    with (
        pytest.raises(OutputUnwritable, match=r"cannot write .*b\.csv: the disk is full; free some space") as info,
        atomic_path(target) as tmp,
    ):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert ".b.csv." not in str(info.value) and [p.name for p in tmp_path.iterdir()] == ["readonly"]


def test_unwritable_messages_say_why_and_the_fix():
    assert (
        str(unwritable(OSError(errno.EACCES, "Permission denied", "/x/.r.md.k2"), "/x/r.md", option="--report"))
        == "cannot write --report /x/r.md: no permission to write there; write it to another folder"
    )
    assert "the disk quota is used up; free some space" in str(unwritable(OSError(errno.EDQUOT, "Quota"), "/q/f"))


def test_every_command_refuses_an_unwritable_output_before_any_work(checkpoint, readonly_dir, tmp_path, capsys):
    """fit-b --json, check --report, sweep --out, figures --out, train --out, train-sweep --out: one line each,
    exit 2, and no line of progress before it (the refusal comes before the work). The CLI's own main, in this
    process."""
    data = write_fashion_mnist(tmp_path / "data", 64, 32)
    cases = [
        (["fit-b", str(checkpoint), "--law", "all", "--json", str(readonly_dir / "fit.json")], "fit.json"),
        (["check", "--only", "qe_min_peak", "--quick", "--report", str(readonly_dir / "R.md")], "R.md"),
        (["sweep", "--omega0", "1:10:5", "--b", "0.05", "--out", str(readonly_dir / "s.csv")], "s.csv"),
        (["figures", "--only", "fig3", "--out", str(readonly_dir / "figs")], "figs"),
        (
            [
                "train",
                "--model",
                "mlp_1w1a",
                "--data-dir",
                str(data),
                "--epochs1",
                "1",
                "--epochs2",
                "1",
                "--out",
                str(readonly_dir / "run"),
            ],
            "run",
        ),
        (
            [
                "train-sweep",
                "--data-dir",
                str(data),
                "--epochs1",
                "1",
                "--epochs2",
                "1",
                "--seeds",
                "0",
                "--omega0",
                "20",
                "--out",
                str(readonly_dir / "sw"),
            ],
            "sw",
        ),
    ]
    for args, name in cases:
        assert main(args) == 2, args
        out, err = capsys.readouterr()
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"biper-analysis {args[0]}: error: cannot write --"), err
        assert f" {readonly_dir / name}: " in lines[0] and lines[0].endswith("; write it to another folder"), err
        assert f".{name}." not in err and ".biper-write-check-" not in err and out == ""
    assert list(readonly_dir.iterdir()) == []


def test_standard_output_on_a_full_disk_is_one_line(tmp_path):
    """`derive > /dev/full` gave a raw errno (and Python's "Exception ignored" at exit)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "biper_analysis", "qe", "--omega0", "20", "--b", "0.05"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=600,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "biper-analysis qe: error: cannot write standard output: the disk is "
        "full; free some space or write it to another disk"
    ]


def test_fit_b_same_path_for_a_figure_and_the_layer_folder_is_refused_before_work(checkpoint, tmp_path, capsys):
    """`--plot p.png --plot-layers p.png` once wrote p.png, then failed 5 s later on the folder: now refused at once,
    and nothing is written; so is a figure inside the layer folder, and two options naming one file."""

    def one_line(args: list[str], needle: str) -> None:
        assert main(["fit-b", str(checkpoint), *args]) == 2
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and needle in err and out == "", err

    plot = tmp_path / "p.png"
    one_line(["--plot", str(plot), "--plot-layers", str(plot)], "--plot and --plot-layers both name")
    layers = tmp_path / "layers"
    one_line(["--plot", str(layers / "all.png"), "--plot-layers", str(layers)], "does not exist")
    layers.mkdir()
    one_line(["--plot", str(layers / "all.png"), "--plot-layers", str(layers)], "lies inside --plot-layers")
    one_line(
        ["--json", str(tmp_path / "r.json"), "--save-laws", str(tmp_path / "r.json")],
        "--json and --save-laws name the same file",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers"] and not any(layers.iterdir())


def test_fit_b_removes_the_outputs_it_made_when_a_later_one_fails(checkpoint, tmp_path):
    """The JSON's folder turns unwritable after the checks (as a disk can fill up): the figure and the CSV fit-b
    already wrote are removed, so a failed run leaves no partial set; one line names the JSON path."""
    from biper_analysis._io.outputs import claim_output as claim
    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.commands.fit_b import _write_outputs

    late = tmp_path / "late"
    late.mkdir()
    claims = {
        "--plot": claim(tmp_path / "p.png", command="fit-b", option="--plot"),
        "--csv": claim(tmp_path / "r.csv", command="fit-b", option="--csv"),
        "--json": claim(late / "r.json", command="fit-b", option="--json"),
        "--save-laws": None,
    }
    report = analyze_checkpoint(checkpoint, layers=r"^layer3\.0\.conv1\.weight$")
    late.chmod(0o555)
    locked = (
        subprocess.run(["chattr", "+i", str(late)], capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    )
    try:
        if os.access(late, os.W_OK) and not locked:
            pytest.skip("cannot make a folder unwritable here")
        with pytest.raises(OutputUnwritable, match=str(late / "r.json")):
            _write_outputs(report, claims, tmp_path / "layers")
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(late)], capture_output=True)
        late.chmod(0o755)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late"] and list(late.iterdir()) == []
