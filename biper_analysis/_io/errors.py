"""The error a person can act on: raised by the library for bad input, shown by the CLI as one line (exit 2).

Messages name the bad value, the valid range and the fix. ``ValueError`` subclasses, so library callers can
catch them as the ordinary kind of bad-argument error.
"""
from __future__ import annotations

__all__ = ["UsageError", "OutputRefused"]


class UsageError(ValueError):
    """Bad input a user can fix (an option, a path, a combination that does not apply)."""


class OutputRefused(UsageError):
    """An output path would overwrite an input or a file this command did not write; nothing was written."""
