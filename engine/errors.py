"""Errors a user can act on, printed as one line by the CLI and shown by the GUI.

Every reader raises :class:`SkeletonFileError` for anything wrong with a user's file (truncated,
wrong joint count, not a number, NaN/inf, empty, unknown format). It names the file, where in the
file the problem is (a line, a field or a key) and what is wrong, so the CLI can print one line and
the GUI can show it without a traceback.
"""

from __future__ import annotations

import os


class ZsarError(Exception):
    """Base of every error caused by the user's input or environment (a bad file, a missing model,
    a wrong option): the CLI prints its message on one line, no traceback, and exits non-zero."""


class SkeletonFileError(ZsarError, ValueError):
    """A skeleton file that cannot be read.

    Args:
        path: the file.
        reason: what is wrong, in words a user understands.
        where: the line (``"line 12"``), field or key the problem is in; empty when it is the file
            as a whole.
    """

    def __init__(self, path: str | os.PathLike, reason: str, where: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.where = where
        location = f"{self.path}: {where}" if where else self.path
        super().__init__(f"{location}: {reason}")


class ModelFileError(ZsarError, ValueError):
    """A bundle or checkpoint that cannot be used: damaged, truncated, unsafe, or made for
    something else. Names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class TextEncoderError(ZsarError, RuntimeError):
    """A text encoder that cannot be loaded or asked (missing weights offline, a wrong checkpoint,
    a text a pre-computed table does not hold). The message says what to do."""
