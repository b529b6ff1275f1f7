"""The store's errors. Both belong in ``exceptions.py``'s tree; they live here until it has them."""

from __future__ import annotations

from ..exceptions import FatalError

__all__ = ["NotFoundError", "StoreError"]


class StoreError(FatalError):
    """The store cannot be opened, read or written; the message names the store and the action.

    Fatal: a run that cannot record its outcomes must stop rather than lose them.
    """


class NotFoundError(StoreError, LookupError):
    """No row with the id asked for (a failure or a run)."""
