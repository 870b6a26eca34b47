"""Errors a user can act on, printed as one line by the CLI and shown by the GUI.

Every reader raises :class:`SkeletonFileError` for anything wrong with a user's file (truncated,
wrong joint count, not a number, NaN/inf, empty, unknown format). It names the file, where in the
file the problem is (a line, a field or a key) and what is wrong, so the CLI can print one line and
the GUI can show it without a traceback.
"""

from __future__ import annotations

import os
import re

# What str.splitlines() breaks at: a message holding any of these would print as several lines.
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]\s*")


# Messages quote what they found; a damaged file can make that megabytes (a line without line ends,
# a list of a million names). Real messages are well under this.
MAX_MESSAGE_CHARS = 2000


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with every line break (and the spaces around it) collapsed into one space, and cut
    to ``limit`` characters.

    Messages quote what they found in a file (a damaged header's repr, a line of text, another
    library's error), which can span several lines; the CLI and the GUI show one line.
    """
    text = _LINE_BREAKS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 4] + " ..."


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
        self.reason = one_line(str(reason))
        self.where = one_line(str(where))
        # A line break in a file name is legal on POSIX; shown escaped, the name stays recognisable.
        shown = self.path if not _LINE_BREAKS.search(self.path) else repr(self.path)[1:-1]
        location = f"{shown}: {self.where}" if self.where else shown
        super().__init__(f"{location}: {self.reason}")


class ModelFileError(ZsarError, ValueError):
    """A bundle or checkpoint that cannot be used: damaged, truncated, unsafe, or made for
    something else. Names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        # One line whatever the cause wrapped: the CLI prints the message as its only line and the GUI
        # shows it in a one-line message bar, but reasons quote other libraries' multi-line errors.
        self.reason = one_line(str(reason))
        shown = self.path if not _LINE_BREAKS.search(self.path) else repr(self.path)[1:-1]
        super().__init__(f"{shown}: {self.reason}")


class TextEncoderError(ZsarError, RuntimeError):
    """A text encoder that cannot be loaded or asked (missing weights offline, a wrong checkpoint,
    a text a pre-computed table does not hold). The message says what to do."""
