"""Output claims: a command may replace only its own earlier outputs (recognised by the producer mark in each
format the package writes), never an input, a foreign file, a folder, a link or a file in a forbidden folder.
The commands' use of these claims, end to end, is in tests/integration/test_outputs.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from biper_analysis._io.errors import OutputRefused, UsageError
from biper_analysis._io.jsonio import dumps
from biper_analysis._io.outputs import Claim, claim_folder, claim_output, distinct, producer, written_by
from biper_analysis._io.provenance import provenance


def _json_output(path: Path, command: str) -> Path:
    path.write_text(dumps({"result": 1, "provenance": provenance(command=command)}))
    return path


def test_producer_mark():
    assert producer("fit-b") == "biper-analysis fit-b"
    assert provenance(command="sweep")["producer"] == producer("sweep")


@pytest.fixture(scope="module")
def figure_files(tmp_path_factory) -> dict[str, Path]:
    """One small figure saved by the package's own writer in every format it writes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biper_analysis.plotting._save import save_figure

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    folder = tmp_path_factory.mktemp("figs")
    paths = save_figure(fig, folder / "f.png", formats=("png", "pdf", "svg"), command="figures")
    plt.close(fig)
    return {p.suffix: p for p in paths}


def test_written_by_reads_the_mark_of_every_format(tmp_path, figure_files):
    """JSON (provenance inside), CSV (provenance header line), Markdown (comment), PNG/PDF/SVG (metadata): the
    writing command is recognised, another command is not."""
    js = _json_output(tmp_path / "r.json", "fit-b")
    csv = tmp_path / "s.csv"
    csv.write_text("# provenance: " + json.dumps(provenance(command="sweep")) + "\nomega0,qe\n1,0.1\n")
    md = tmp_path / "R.md"
    md.write_text(f"# Report\n<!-- producer: {producer('check')} -->\n")
    marks = {js: "fit-b", csv: "sweep", md: "check", **{p: "figures" for p in figure_files.values()}}
    for path, command in marks.items():
        assert written_by(path, command), path.name
        assert not written_by(path, "train-sweep"), path.name


def test_written_by_is_false_for_anything_else(tmp_path):
    cases = {
        "plain.json": '{"my": "results"}',
        "list.json": "[1, 2]",
        "broken.json": "{",
        "notes.md": "my notes\n",
        "data.csv": "a,b\n1,2\n",
        "fake.png": "not a png",
        "mark-in-body.csv": "a\n# provenance: {}\n",
        "unknown.txt": json.dumps({"provenance": {"producer": producer("fit-b")}}),  # a suffix we never write
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert not written_by(tmp_path / name, "fit-b"), name
    assert not written_by(tmp_path / "missing.json", "fit-b") and not written_by(tmp_path, "fit-b")


def test_a_new_path_is_claimed_and_an_own_output_is_replaced(tmp_path):
    new = claim_output(tmp_path / "r.json", command="fit-b", option="--json", suffixes=(".json",))
    assert new == Claim(tmp_path / "r.json", False) and new.note() == ""
    _json_output(tmp_path / "r.json", "fit-b")
    again = claim_output(tmp_path / "r.json", command="fit-b", option="--json", suffixes=(".json",))
    assert again.replaces and "replacing" in again.note() and str(tmp_path / "r.json") in again.note()
    assert claim_output(tmp_path / "R.JSON", command="fit-b", option="--json", suffixes=(".json",))  # suffix case


def test_foreign_files_are_refused_and_left_alone(tmp_path):
    foreign = tmp_path / "mine.json"
    foreign.write_text('{"my": "results"}\n')
    other = _json_output(tmp_path / "sweep.json", "sweep")
    for path in (foreign, other):
        before = path.read_bytes()
        with pytest.raises(OutputRefused, match="was not written by `biper-analysis fit-b`; refusing to overwrite"):
            claim_output(path, command="fit-b", option="--json", suffixes=(".json",))
        assert path.read_bytes() == before


def test_an_input_is_never_an_output_even_with_a_matching_suffix_or_own_mark(tmp_path):
    """The checkpoint read is never an output, by path or by another name of the same file (a hard link), even when
    it is named like an output and carries this command's mark."""
    ckpt = _json_output(tmp_path / "weights.json", "fit-b")
    link = tmp_path / "link.json"
    os.link(ckpt, link)
    for target in (ckpt, link, tmp_path / "." / "weights.json"):
        with pytest.raises(OutputRefused, match="is an input of this command"):
            claim_output(target, command="fit-b", option="--json", suffixes=(".json",), inputs=[ckpt])


@pytest.mark.parametrize(
    "name, suffixes, message",
    [
        ("", (), "--out needs a file name"),
        ("r.txt", (".csv",), "must end in .csv"),
        ("r.jpg", (".png", ".pdf", ".svg"), "must end in .png, .pdf or .svg"),
        ("nodir/r.csv", (".csv",), "does not exist; create it first"),
        ("adir", (), "is a folder"),
    ],
)
def test_bad_paths_are_refused_with_the_fix(tmp_path, name, suffixes, message):
    (tmp_path / "adir").mkdir()
    path = "" if name == "" else tmp_path / name
    with pytest.raises(OutputRefused, match=message):
        claim_output(path, command="sweep", option="--out", suffixes=suffixes)


def test_links_and_forbidden_folders(tmp_path):
    target = _json_output(tmp_path / "real.json", "fit-b")
    (tmp_path / "alias.json").symlink_to(target)
    with pytest.raises(OutputRefused, match="is not a regular file"):
        claim_output(tmp_path / "alias.json", command="fit-b", option="--json")
    run = tmp_path / "run"
    (run / "stage2").mkdir(parents=True)
    with pytest.raises(OutputRefused, match=r"lies inside .*run \(the run folder read\); write it somewhere else"):
        claim_output(
            run / "stage2" / "r.json",
            command="fit-b",
            option="--json",
            forbidden_folders=[(run, "the run folder read")],
        )


def test_claim_folder(tmp_path):
    assert claim_folder(tmp_path / "a" / "b", option="--out") == tmp_path / "a" / "b"  # created later, by the run
    assert not (tmp_path / "a").exists()
    (tmp_path / "f").write_text("keep me")
    with pytest.raises(OutputRefused, match="--out .* is a file, not a folder"):
        claim_folder(tmp_path / "f", option="--out")
    with pytest.raises(OutputRefused, match="lies under .*f, which is a file"):
        claim_folder(tmp_path / "f" / "sub", option="--out")
    assert (tmp_path / "f").read_text() == "keep me"


def test_two_options_may_not_name_the_same_file(tmp_path):
    (tmp_path / "sub").mkdir()
    a = claim_output(tmp_path / "x.json", command="fit-b", option="--json")
    b = claim_output(tmp_path / "sub" / ".." / "x.json", command="fit-b", option="--save-laws")  # another spelling
    with pytest.raises(OutputRefused, match="--json and --save-laws name the same file"):
        distinct([("--json", a), ("--csv", None), ("--save-laws", b)])
    distinct([("--json", a), ("--csv", claim_output(tmp_path / "x.csv", command="fit-b", option="--csv"))])
    assert issubclass(OutputRefused, UsageError) and issubclass(OutputRefused, ValueError)  # one line, exit 2
