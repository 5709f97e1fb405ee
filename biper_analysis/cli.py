"""The ``biper-analysis`` command-line tool.

Each sub-command lives in :mod:`biper_analysis.commands` as a module with ``register(subparsers)`` and a
``run(args) -> int`` that parses, calls one library function and prints. This file builds the parser and turns
bad input into one line on stderr with exit status 2 (a traceback only with ``BIPER_DEBUG=1``). SIGTERM is
handled like Ctrl-C, so an interrupted command removes its temporary files; it exits 130 with one line saying what
was finished and how to go on. An error writing standard output (``> /dev/full``) is one line too, and a closed
pipe (``| head``) ends the command quietly. Before anything imports torch, the
CPU code path is pinned (:func:`biper_analysis._io.reproducible.pin_cpu_code_path`) so that training and
evaluation give the same bits on every machine of one CPU kind.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from biper_analysis import commands
from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import unwritable
from biper_analysis._io.reproducible import pin_cpu_code_path
from biper_analysis._version import __version__

__all__ = ["PROG", "CLIError", "build_parser", "attach_negative_values", "main"]

PROG = "biper-analysis"
#: Kept for code written against earlier versions: the command-line error is the library's UsageError.
CLIError = UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line naming the fix, not a usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}; see '{self.prog} --help'\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command; with ``command`` (a sub-command's name), of that one alone when its module
    exists — a faster start, since the other commands' imports (scipy, the laws) are skipped."""
    parser = _Parser(prog=PROG, description="Derive, evaluate, witness and measure BiPer's quantisation error.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    if command is not None and command.replace("-", "_") in names:
        names = [command.replace("-", "_")]
    modules = [importlib.import_module(f"biper_analysis.commands.{name}") for name in names]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def _forget_interrupt() -> None:
    """Exit with 130, as promised, after a handled Ctrl-C. CPython (3.11) remembers a KeyboardInterrupt that escaped
    code run from source text (``exec``/``eval`` of a string: a dataclass or namedtuple being defined during an
    import) even when a caller handled it, and a ``python -m`` process then ends by SIGINT instead of its exit
    status; running source text once more clears that memory (``python -m pkg`` whose main catches
    ``exec("raise KeyboardInterrupt")`` and exits 3 ends by SIGINT without this, with 3 after it)."""
    exec("pass")


class _StdoutError(OSError):
    """Standard output refused a write (``> /dev/full``, a full disk): told apart from errors on named files."""


class _GuardedStdout:
    """sys.stdout for the duration of a command: a failed write or flush is raised as :class:`_StdoutError`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError(exc.errno, exc.strerror) from exc

    def write(self, text: str) -> int:
        return self._guard("write", text)

    def flush(self) -> None:
        self._guard("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_stdout(stream: Any) -> None:
    """Point standard output at /dev/null, so the interpreter's last flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _os_error_line(exc: OSError) -> str:
    """An OS error as one line naming its path (not an errno tuple)."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return _one_line(exc)


def attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--omega0 -5,10`` → ``--omega0=-5,10``: argparse takes a value that starts with '-' and is not a plain
    number for an option, and would answer "expected one argument" instead of naming the bad value.

    >>> attach_negative_values(["sweep", "--omega0", "-1:100:20", "--log", "--b", "-0.5"])
    ['sweep', '--omega0=-1:100:20', '--log', '--b=-0.5']
    >>> attach_negative_values(["fit-b", "--", "-1.pth"])
    ['fit-b', '--', '-1.pth']
    """
    out: list[str] = []
    for i, token in enumerate(argv):
        if token == "--":  # the end of the options: the rest is passed as it is
            return out + list(argv[i:])
        if out and re.match(r"^-\.?\d", token) and out[-1].startswith("--") and out[-1] != "--" and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    pin_cpu_code_path()
    words = list(sys.argv[1:] if argv is None else argv)
    argv = attach_negative_values(words)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    args.argv = words  # the command line as given (an interrupted train says how to resume with it)
    debug = os.environ.get("BIPER_DEBUG") == "1"
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (e.g. called from a worker): keep the default
        previous = None
    stdout, sys.stdout = sys.stdout, _GuardedStdout(sys.stdout)  # type: ignore[assignment]
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a full disk behind `> file` shows here, inside the error handling
        return status
    except BrokenPipeError:  # `| head` closed the pipe: the reader has what it wanted
        _drop_stdout(stdout)
        return 141
    except _StdoutError as exc:
        if debug:
            raise
        _drop_stdout(stdout)
        sys.stderr.write(f"{PROG} {args.command}: error: {unwritable(exc, 'standard output')}\n")
        return 2
    except OSError as exc:
        if debug:
            raise
        sys.stderr.write(f"{PROG} {args.command}: error: {_os_error_line(exc)}\n")
        return 2
    except (ValueError, ArithmeticError) as exc:  # bad input (UsageError is a ValueError)
        if debug:
            raise
        sys.stderr.write(f"{PROG} {args.command}: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt as exc:
        summary = getattr(exc, "summary", None) or "nothing half-written was left"
        sys.stderr.write(f"{PROG} {args.command}: interrupted; {summary}\n")
        _forget_interrupt()
        return 130
    except Exception as exc:  # a defect of ours: still one line, with the way to the traceback
        if debug:
            raise
        sys.stderr.write(
            f"{PROG} {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with BIPER_DEBUG=1 for the traceback and please report it)\n"
        )
        return 1
    finally:
        sys.stdout = stdout
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
