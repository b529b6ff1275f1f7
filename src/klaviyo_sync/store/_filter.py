"""Which failures of the error log a list or a count takes: one value, built by the command
line's ``errors list``, the dashboard's Error Logs page and API, and the retries, and read by
the store's queries (``_queries.py``) alone."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FailureFilter"]


@dataclass(frozen=True, slots=True)
class FailureFilter:
    """The failures wanted; the default is every open failure.

    Each field left at its default filters nothing; the fields set are all required at once.
    """

    kind: str | None = None
    """only failures of this kind (``phone_rejected``, ...)"""
    text: str | None = None
    """only failures whose message or customer id holds this, ignoring case; ``%`` and ``_``
    are literal. Empty text filters nothing."""
    customer_id: str | None = None
    """only this customer's failures (the exact id)"""
    retryable: bool | None = None
    """only retryable failures (True) or only those retrying will not fix (False)"""
    include_resolved: bool = False
    """resolved failures too, not only open ones"""
