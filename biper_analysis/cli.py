"""The ``biper-analysis`` command-line tool.

Each sub-command lives in :mod:`biper_analysis.commands` as a module with ``register(subparsers)`` and a
``run(args) -> int``; this file only builds the parser and turns bad input into one line on stderr with
exit status 2 (never a traceback). Command modules import their heavy dependencies (torch, matplotlib)
inside ``run`` so ``biper-analysis qe`` starts fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import NoReturn, Sequence

PROG = "biper-analysis"


class CLIError(Exception):
    """Bad input a user can fix: printed as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line naming the fix, not a usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}; see '{self.prog} --help'\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from biper_analysis import __version__, commands

    parser = _Parser(prog=PROG, description="Derive, evaluate, witness and measure BiPer's quantisation error.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    modules = [importlib.import_module(f"biper_analysis.commands.{m.name}")
               for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, ArithmeticError, OSError) as exc:  # bad input, bad paths, full disks
        sys.stderr.write(f"{PROG} {args.command}: error: {_one_line(exc)}\n")
        return 2
    except Exception as exc:  # a defect of ours: still one line, with the way to the traceback
        if os.environ.get("BIPER_DEBUG"):
            raise
        sys.stderr.write(f"{PROG} {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
                         "(rerun with BIPER_DEBUG=1 for the traceback and please report it)\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
