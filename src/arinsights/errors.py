"""User-facing errors.

Every mistake a user can make with their input (a file we cannot read, a column we
cannot find, dates whose order is ambiguous, ...) raises :class:`InputError` with a
message that says *which file, which row or column, what was expected and how to fix it*.
The command line prints the message as one paragraph and exits non-zero; it never shows a
traceback for these.
"""

from __future__ import annotations


class ArinsightsError(Exception):
    """Base class for errors whose message is meant for the user, not a developer."""


class InputError(ArinsightsError):
    """A problem with the user's input files, mapping file or parameters.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The file concerned.
    row : int, optional
        1-based line (CSV/text) or sheet row (Excel) in ``file``.
    column : str, optional
        The column concerned.
    hint : str, optional
        How to fix it (e.g. a mapping file to start from).
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, hint: str | None = None):
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        self.problem = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        text = (", ".join(where) + ": " if where else "") + self.problem
        if self.hint:
            text += "\n" + self.hint
        return text


class ParameterError(ArinsightsError):
    """A report or command parameter that is unknown, missing or of the wrong type."""
