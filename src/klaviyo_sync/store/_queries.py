"""The error log's queries, built in one place so tests can check their plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ._filter import FailureFilter
from ._schema import failures

__all__ = [
    "count_failures_query",
    "due_retries_query",
    "list_failures_query",
    "open_failures_query",
    "parked_query",
]


def _where(where: FailureFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if not where.include_resolved:
        found.append(failures.c.resolved_at.is_(None))
    if where.kind is not None:
        found.append(failures.c.kind == where.kind)
    if where.customer_id is not None:
        found.append(failures.c.customer_id == where.customer_id)
    if where.retryable is not None:
        found.append(failures.c.retryable.is_(where.retryable))
    if where.text:
        # Case-insensitive on both backends (ILIKE on PostgreSQL); % and _ in text are literal.
        found.append(
            sa.or_(
                failures.c.message.icontains(where.text, autoescape=True),
                failures.c.customer_id.icontains(where.text, autoescape=True),
            )
        )
    return found


def list_failures_query(
    where: FailureFilter, *, limit: int = 50, offset: int = 0
) -> sa.Select[Any]:
    """Newest first; the id breaks ties so paging never repeats or skips an entry."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
    return (
        sa.select(failures)
        .where(*_where(where))
        .order_by(failures.c.last_seen.desc(), failures.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def count_failures_query(where: FailureFilter) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(failures).where(*_where(where))


def due_retries_query(now: datetime, *, limit: int, max_attempts: int) -> sa.Select[Any]:
    """Open retryable failures whose time has come and that have retries left, soonest first."""
    return (
        sa.select(failures)
        .where(
            failures.c.resolved_at.is_(None),
            failures.c.next_retry_at <= now,
            failures.c.retryable.is_(True),
            failures.c.attempts < max_attempts,
        )
        .order_by(failures.c.next_retry_at, failures.c.id)
        .limit(limit)
    )


def parked_query(*, max_attempts: int, limit: int) -> sa.Select[Any]:
    """Open retryable failures out of automatic retries, newest first: a person decides now."""
    return (
        sa.select(failures)
        .where(
            failures.c.resolved_at.is_(None),
            failures.c.retryable.is_(True),
            failures.c.attempts >= max_attempts,
        )
        .order_by(failures.c.last_seen.desc(), failures.c.id.desc())
        .limit(limit)
    )


def open_failures_query(customer_ids: Sequence[str], kinds: Sequence[str]) -> sa.Select[Any]:
    """The failures, open or not, of those kinds of those customers; the caller keeps the open
    ones and picks the newest of each customer (unordered: a customer has few).

    ``resolved_at IS NULL`` is left out on purpose: SQLite's statistics cannot count NULLs, so
    with it the planner takes ``ix_failures_kind`` and reads every open failure of the kind
    (all of a mass outage's) for each chunk of customers, instead of ``ix_failures_customer_id``.
    """
    return sa.select(failures).where(
        failures.c.customer_id.in_(customer_ids), failures.c.kind.in_(kinds)
    )
