"""Never lose a user's file: where a command may write, checked before any work starts.

Every file a command writes goes through :func:`claim_output` first. A path is refused (an
:class:`~biper_analysis._io.errors.OutputRefused`, one line naming the path and the fix) when

* it is one of the command's inputs (the checkpoint being analysed, the config.txt beside it, ...) or lies
  inside a folder the command must not write into (a run folder it reads, the installed package);
* it exists and was not written by this same command — a checkpoint, a config.txt, a dataset, a file of
  another program. A file that carries this command's producer mark (``biper-analysis <command>`` in its
  provenance — JSON, the CSV header line, Parquet metadata, an .npz member — PNG ``Software`` chunk, PDF
  ``/Creator``, SVG creator or Markdown comment) may be replaced, and the claim says so;
* its suffix is not one the command writes, its folder does not exist, or it is a folder, link or device;
* its folder cannot be written (read-only file system, no permission): found by creating and removing an empty
  hidden file there, which is what the write will do, so the check fails exactly when the write would.

An error of the operating system while writing (disk full, ...) is turned by :func:`unwritable` into one line
naming the user's path — never the temporary name — and the fix.

Writes themselves are atomic (:mod:`biper_analysis._io.atomic`): a temporary file beside the target, renamed over it
only when complete, removed on any error or interruption.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from biper_analysis._io.errors import OutputRefused, OutputUnwritable

__all__ = [
    "PRODUCT",
    "producer",
    "Claim",
    "claim_output",
    "claim_folder",
    "written_by",
    "distinct",
    "check_writable",
    "unwritable",
    "WRITE_ERRNOS",
]

PRODUCT = "biper-analysis"
#: Largest file read whole to look for its producer mark (bigger ones are never ours to replace); CSV, Parquet
#: and .npz marks are read from the file's first line, footer or one member, whatever its size.
_MAX_SNIFF_BYTES = 256 << 20


def producer(command: str) -> str:
    """The mark a command leaves in its outputs.

    >>> producer("fit-b")
    'biper-analysis fit-b'
    """
    return f"{PRODUCT} {command}"


@dataclass(frozen=True)
class Claim:
    """A path a command may write: ``replaces`` is True when it overwrites an earlier output of the same command."""

    path: Path
    replaces: bool

    def note(self) -> str:
        return f"replacing {self.path} (an earlier output of this command)" if self.replaces else ""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def claim_output(
    path: str | os.PathLike[str],
    *,
    command: str,
    option: str,
    suffixes: Iterable[str] = (),
    inputs: Iterable[str | os.PathLike[str]] = (),
    forbidden_folders: Iterable[tuple[str | os.PathLike[str], str]] = (),
) -> Claim:
    """Check that ``command`` may write ``path`` (given with ``option``); refuse with one line otherwise.

    ``suffixes``: allowed suffixes (lower case, with the dot; empty: any). ``inputs``: files the command reads.
    ``forbidden_folders``: (folder, why) pairs the output must not lie in.
    """
    target = Path(path)
    allowed = tuple(suffixes)
    if str(path).strip() == "":
        raise OutputRefused(f"{option} needs a file name")
    if allowed and target.suffix.lower() not in allowed:
        raise OutputRefused(f"{option} {path}: the file must end in {_either(allowed)}")
    if not target.parent.is_dir():
        raise OutputRefused(f"{option} {path}: folder {str(target.parent)!r} does not exist; create it first")
    if target.is_dir():
        raise OutputRefused(f"{option} {path} is a folder; give a file name")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OutputRefused(f"{option} {path} exists and is not a regular file (a link or device); choose another name")
    for item in inputs:
        source = Path(item)
        if _same_file(target, source) or target.resolve() == source.resolve():
            raise OutputRefused(
                f"{option} {path} is an input of this command ({source}); writing there would "
                "destroy it, so choose another name"
            )
    for folder, why in forbidden_folders:
        if _inside(target, Path(folder)):
            raise OutputRefused(f"{option} {path} lies inside {folder} ({why}); write it somewhere else")
    check_writable(target.parent, target, option=option)
    if target.exists():
        if not written_by(target, command):
            raise OutputRefused(
                f"{option} {path} exists and was not written by `{producer(command)}`; refusing to "
                "overwrite it: choose another name or remove the file yourself"
            )
        return Claim(target, True)
    return Claim(target, False)


def claim_folder(path: str | os.PathLike[str], *, option: str) -> Path:
    """A folder a command writes into (created with its parents when it runs); refused if it, or a folder above
    it, is a file, or if the folder (or, when it does not exist yet, the nearest folder above it) cannot be
    written."""
    folder = Path(path)
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                what = "is a file" if part == folder else f"lies under {part}, which is a file"
                raise OutputRefused(f"{option} {path} {what}, not a folder; give a folder name")
            check_writable(part, folder, option=option)
            break
    return folder


#: errno values that mean "this output cannot be written here" (as opposed to a bad input path).
WRITE_ERRNOS = frozenset(
    {
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EIO,
        errno.ENAMETOOLONG,
        errno.EMFILE,
        errno.ENFILE,
    }
)
_WHY = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "writing there is not permitted (no permission, or the folder is immutable)",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is larger than the file system allows",
    errno.ENAMETOOLONG: "the name is too long",
}


def unwritable(exc: OSError, path: str | os.PathLike[str], *, option: str | None = None) -> OutputUnwritable:
    """The one line for an OS error while writing ``path``: the user's path (not a temporary name), why, the fix.

    >>> import errno
    >>> str(unwritable(OSError(errno.EROFS, "Read-only file system", "/ro/.fit.json.x1"), "/ro/fit.json",
    ...                option="--json"))
    'cannot write --json /ro/fit.json: the file system is read-only; write it to another folder'
    """
    why = _WHY.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)  # type: ignore[arg-type]
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free some space or write it to another disk"
    elif exc.errno == errno.ENAMETOOLONG:
        fix = "choose a shorter name"
    else:
        fix = "write it to another folder"
    where = f"{option} {path}" if option else str(path)
    return OutputUnwritable(f"cannot write {where}: {why}; {fix}")


def check_writable(folder: str | os.PathLike[str], path: str | os.PathLike[str], *, option: str | None = None) -> None:
    """Refuse (one line naming ``path``) when ``folder`` cannot be written, by creating and removing an empty hidden
    file there — the test a write would make, so it fails for root on a read-only or immutable folder too."""
    try:
        fd, name = tempfile.mkstemp(prefix=".biper-write-check-", dir=folder)
    except OSError as exc:
        raise unwritable(exc, path, option=option) from None
    os.close(fd)
    os.unlink(name)


def distinct(claims: Iterable[tuple[str, Claim | None]]) -> None:
    """Refuse two options naming the same file (the second write would replace the first)."""
    seen: dict[Path, str] = {}
    for option, claim in claims:
        if claim is None:
            continue
        key = claim.path.resolve()
        if key in seen:
            raise OutputRefused(f"{seen[key]} and {option} name the same file {claim.path}; give two different names")
        seen[key] = option


def written_by(path: str | os.PathLike[str], command: str) -> bool:
    """True when ``path`` carries ``command``'s producer mark (see the module docstring), by its suffix.

    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(folder.name) / "r.json"
    >>> _ = p.write_text('{"provenance": {"producer": "biper-analysis fit-b"}}')
    >>> written_by(p, "fit-b"), written_by(p, "sweep")
    (True, False)
    >>> folder.cleanup()
    """
    p = Path(path)
    try:
        if not p.is_file():
            return False
        mark = producer(command)
        suffix = p.suffix.lower()
        if suffix in (".parquet", ".npz"):  # read in part (footer, one member), so any size
            return _table_producer(p, suffix) == mark
        if suffix != ".csv" and p.stat().st_size > _MAX_SNIFF_BYTES:
            return False
        if suffix == ".json":
            return _json_producer(p.read_bytes()) == mark
        if suffix == ".csv":
            with open(p, "rb") as fh:
                first = fh.readline(1 << 20).decode("utf-8", "replace")
            return first.startswith("# provenance: ") and _json_producer(first[len("# provenance: ") :]) == mark
        if suffix == ".md":
            with open(p, "rb") as fh:
                head = fh.read(1 << 16).decode("utf-8", "replace")
            return f"<!-- producer: {mark} -->" in head
        data = p.read_bytes()
        if suffix == ".png":
            return _png_text(data).get("Software") == mark
        if suffix == ".pdf":
            return b"/Creator (" + mark.encode() + b")" in data
        if suffix == ".svg":
            return b"<dc:title>" + mark.encode() + b"</dc:title>" in data
    except OSError:
        return False
    return False


def _json_producer(text: str | bytes) -> str | None:
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("producer"), str):  # a provenance record itself (the CSV header line)
        return obj["producer"]
    prov = obj.get("provenance")  # a result with its provenance inside (JSON outputs)
    return prov.get("producer") if isinstance(prov, dict) else None


def _table_producer(p: Path, suffix: str) -> str | None:
    """The producer of a .parquet (provenance in the key-value metadata) or .npz (a ``provenance`` member) table,
    when the file still holds exactly the rows and columns that provenance record states — a table read and
    rewritten by another program (pyarrow and pandas carry the metadata over) is not ours to replace."""
    import zipfile

    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            meta = pq.read_metadata(p)
            record = json.loads((meta.metadata or {}).get(b"provenance", b"null"))
            shape = (meta.num_rows, list(meta.schema.names))
        else:
            from numpy.lib import format as npy

            with zipfile.ZipFile(p) as z:
                members = [m[:-4] for m in z.namelist() if m.endswith(".npy")]
                if "provenance" not in members:
                    return None
                with z.open("provenance.npy") as fh:
                    record = json.loads(str(npy.read_array(fh, allow_pickle=False)))
                columns = [m for m in members if m != "provenance"]
                rows = 0
                if columns:
                    with z.open(columns[0] + ".npy") as fh:
                        read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
                        dims = read[npy.read_magic(fh)](fh)[0]
                        rows = dims[0] if len(dims) == 1 else -1
            shape = (rows, columns)
    except (ImportError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if not isinstance(record, dict) or (record.get("rows"), record.get("columns")) != shape:
        return None
    return record.get("producer") if isinstance(record.get("producer"), str) else None


def _png_text(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG file (keyword → Latin-1 text); {} for anything that is not a PNG."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return {}
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\x00" in body:
            key, value = body.split(b"\x00", 1)
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


def _either(suffixes: tuple[str, ...]) -> str:
    return suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
