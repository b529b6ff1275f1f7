"""The store's errors: fatal errors of the package's one tree (drawn in ``exceptions.py``),
imported from ``klaviyo_sync.store``."""

from __future__ import annotations

from ..exceptions import FatalError

__all__ = ["NotFoundError", "StoreError", "one_line"]


class StoreError(FatalError):
    """The store cannot be opened, read or written; the message names the store and the action.

    Fatal: a run that cannot record its outcomes must stop rather than lose them.
    """


class NotFoundError(StoreError, LookupError):
    """No row with the id asked for (a failure or a run)."""


def one_line(reason: object) -> str:
    """A driver's message as one line: PostgreSQL's add lines (a hint, a detail), and an error
    is one line wherever it is shown (``error: ...`` on the command line, a log line)."""
    return "; ".join(" ".join(line.split()) for line in str(reason).splitlines() if line.strip())
