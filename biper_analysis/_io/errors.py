"""The error a person can act on: raised by the library for bad input, shown by the CLI as one line (exit 2).

Messages name the bad value, the valid range and the fix. ``ValueError`` subclasses, so library callers can
catch them as the ordinary kind of bad-argument error.
"""

from __future__ import annotations

__all__ = ["UsageError", "OutputRefused", "OutputUnwritable", "DataFileError", "Interrupted"]


class UsageError(ValueError):
    """Bad input a user can fix (an option, a path, a combination that does not apply)."""


class OutputRefused(UsageError):
    """An output path would overwrite an input or a file this command did not write; nothing was written."""


class OutputUnwritable(UsageError):
    """The operating system refused to write an output (read-only folder, no permission, disk full): the message
    names the user's path — never a temporary name — and the fix."""


class DataFileError(UsageError):
    """A dataset file is truncated, corrupt, of the wrong shape or holds labels out of range: the message names the
    file and how to replace it."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, with what was finished and how to go on (the CLI prints ``summary`` and exits 130)."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary
