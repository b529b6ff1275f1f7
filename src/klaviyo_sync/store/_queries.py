"""The error log's queries, built in one place so tests can check their plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ._schema import failures

__all__ = [
    "count_failures_query",
    "due_retries_query",
    "list_failures_query",
    "open_failures_query",
    "parked_query",
]


def _filters(
    *,
    kind: str | None,
    text: str | None,
    customer_id: str | None,
    retryable: bool | None,
    include_resolved: bool,
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if not include_resolved:
        where.append(failures.c.resolved_at.is_(None))
    if kind is not None:
        where.append(failures.c.kind == kind)
    if customer_id is not None:
        where.append(failures.c.customer_id == customer_id)
    if retryable is not None:
        where.append(failures.c.retryable.is_(retryable))
    if text:
        # Case-insensitive on both backends (ILIKE on PostgreSQL); % and _ in text are literal.
        where.append(
            sa.or_(
                failures.c.message.icontains(text, autoescape=True),
                failures.c.customer_id.icontains(text, autoescape=True),
            )
        )
    return where


def list_failures_query(
    *,
    kind: str | None = None,
    text: str | None = None,
    customer_id: str | None = None,
    retryable: bool | None = None,
    include_resolved: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> sa.Select[Any]:
    """Newest first; the id breaks ties so paging never repeats or skips an entry."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
    where = _filters(
        kind=kind,
        text=text,
        customer_id=customer_id,
        retryable=retryable,
        include_resolved=include_resolved,
    )
    return (
        sa.select(failures)
        .where(*where)
        .order_by(failures.c.last_seen.desc(), failures.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def count_failures_query(
    *,
    kind: str | None = None,
    text: str | None = None,
    customer_id: str | None = None,
    retryable: bool | None = None,
    include_resolved: bool = False,
) -> sa.Select[Any]:
    where = _filters(
        kind=kind,
        text=text,
        customer_id=customer_id,
        retryable=retryable,
        include_resolved=include_resolved,
    )
    return sa.select(sa.func.count()).select_from(failures).where(*where)


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
