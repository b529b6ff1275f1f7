"""The durable queue's statements, each run on a connection inside the caller's transaction.

One row per customer holds the latest record received for it. A worker claims rows under a
lease: PostgreSQL skips rows another transaction has locked (``FOR UPDATE SKIP LOCKED``), and
SQLite runs each claim under its write lock, so no two workers ever hold one customer.

Rows are always locked in customer id order (upserts sorted, acks ``SELECT … ORDER BY … FOR
UPDATE`` first), so concurrent enqueues and acks on PostgreSQL wait for each other instead of
deadlocking.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ._batch import chunks
from ._errors import StoreError
from ._records import QueueEntry, QueueItem, QueueStats
from ._schema import UTCDateTime, queue

__all__ = [
    "ack_items",
    "claim_items",
    "claim_query",
    "enqueue_items",
    "insert_missing",
    "list_queue_query",
    "queue_entry",
    "queue_stats",
    "release_item",
]

NewItem = tuple[str, Mapping[str, Any], str]


@dataclass(slots=True)
class _Latest:
    record: dict[str, Any]
    event: str
    count: int


def enqueue_items(
    conn: sa.Connection, now: datetime, items: Sequence[NewItem], *, delay: float
) -> None:
    """Queue each customer's latest record; a queued customer gets it in place of the old one.

    The row keeps its place in line (``id`` and ``enqueued_at``), counts one version per record
    and starts its attempts over: new data deserves a fresh try, available no later than it
    already was.
    """
    rows = _rows(now, items, delay=delay)
    if not rows:
        return
    statement = _insert(conn.dialect)
    ex = statement.excluded
    sooner = sa.case(
        (queue.c.available_at < ex.available_at, queue.c.available_at), else_=ex.available_at
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[queue.c.customer_id],
            set_={
                "record": ex.record,
                "event": ex.event,
                "version": queue.c.version + ex.version,
                "attempts": 0,
                "updated_at": ex.updated_at,
                "available_at": sooner,
            },
        ),
        rows,
    )


def insert_missing(conn: sa.Connection, now: datetime, items: Sequence[NewItem]) -> int:
    """Queue the customers not queued yet; a queued one keeps its record. How many were new."""
    rows = _rows(now, items, delay=0.0)
    if not rows:
        return 0
    statement = _insert(conn.dialect).on_conflict_do_nothing(index_elements=[queue.c.customer_id])
    return len(conn.execute(statement.returning(queue.c.id), rows).all())


def claim_items(
    conn: sa.Connection, now: datetime, worker_id: str, *, limit: int, lease_seconds: float
) -> list[QueueItem]:
    """Lease up to ``limit`` available rows to ``worker_id``, oldest first."""
    rows = conn.execute(claim_query(now, limit=limit)).all()
    until = now + timedelta(seconds=lease_seconds)
    for part in chunks([row.id for row in rows]):
        conn.execute(
            sa.update(queue)
            .where(queue.c.id.in_(part))
            .values(leased_by=worker_id, lease_until=until)
        )
    return [_item(row) for row in rows]


def claim_query(now: datetime, *, limit: int) -> sa.Select[Any]:
    return (
        sa.select(queue)
        .where(queue.c.available_at <= now, _free(now))
        .order_by(queue.c.enqueued_at, queue.c.id)
        .limit(limit)
        # Rendered on PostgreSQL only; SQLite's write lock already keeps other claims out.
        .with_for_update(skip_locked=True)
    )


def ack_items(conn: sa.Connection, worker_id: str, items: Sequence[QueueItem]) -> None:
    """Delete the rows still at the claimed version; hand newer ones back to the line."""
    claimed = {item.customer_id: item.version for item in items}
    for part in chunks(sorted(claimed)):
        held = conn.execute(
            sa.select(queue.c.id, queue.c.customer_id, queue.c.version)
            .where(queue.c.customer_id.in_(part), queue.c.leased_by == worker_id)
            .order_by(queue.c.customer_id)
            .with_for_update()
        ).all()
        done = [row.id for row in held if row.version == claimed[row.customer_id]]
        newer = [row.id for row in held if row.version != claimed[row.customer_id]]
        if done:
            conn.execute(sa.delete(queue).where(queue.c.id.in_(done)))
        if newer:
            conn.execute(
                sa.update(queue)
                .where(queue.c.id.in_(newer))
                .values(leased_by=None, lease_until=None)
            )


def release_item(
    conn: sa.Connection, now: datetime, worker_id: str, item: QueueItem, *, delay: float
) -> None:
    """Give a claimed row back: the same version counts an attempt and waits ``delay``.

    A newer version (its attempts already reset by ``enqueue``) keeps the time it was available
    from, which is no later than the claim: it runs next.
    """
    same = queue.c.version == item.version
    later = sa.literal(now + timedelta(seconds=delay), UTCDateTime)
    conn.execute(
        sa.update(queue)
        .where(queue.c.customer_id == item.customer_id, queue.c.leased_by == worker_id)
        .values(
            leased_by=None,
            lease_until=None,
            attempts=sa.case((same, queue.c.attempts + 1), else_=0),
            available_at=sa.case((same, later), else_=queue.c.available_at),
        )
    )


def queue_stats(conn: sa.Connection, now: datetime) -> QueueStats:
    leased = queue.c.lease_until > now
    depth, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(queue.c.enqueued_at)).select_from(queue)
    ).one()
    return QueueStats(
        depth=int(depth),
        leased=_count(conn, leased),
        delayed=_count(conn, sa.and_(queue.c.available_at > now, _free(now))),
        oldest_enqueued_at=oldest,
    )


def list_queue_query(*, limit: int, offset: int) -> sa.Select[Any]:
    """The line as workers take it: oldest first, ``id`` breaking ties so pages never overlap."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
    return sa.select(queue).order_by(queue.c.enqueued_at, queue.c.id).limit(limit).offset(offset)


def queue_entry(row: sa.Row[Any]) -> QueueEntry:
    return QueueEntry(
        item=_item(row),
        updated_at=row.updated_at,
        leased_by=row.leased_by,
        lease_until=row.lease_until,
    )


def _item(row: sa.Row[Any]) -> QueueItem:
    return QueueItem(
        customer_id=row.customer_id,
        record=dict(row.record),
        event=row.event,
        version=row.version,
        attempts=row.attempts,
        enqueued_at=row.enqueued_at,
        available_at=row.available_at,
    )


def _free(now: datetime) -> sa.ColumnElement[bool]:
    """Not held: never leased, or the holder's lease ran out (a killed worker's claim)."""
    return sa.or_(queue.c.lease_until.is_(None), queue.c.lease_until <= now)


def _count(conn: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(queue).where(where)).scalar_one()
    )


def _rows(now: datetime, items: Sequence[NewItem], *, delay: float) -> list[dict[str, Any]]:
    """One row per customer, in customer id order (the lock order), counting its records."""
    latest: dict[str, _Latest] = {}
    for customer_id, record, event in items:
        before = latest.get(customer_id)
        latest[customer_id] = _Latest(_plain(record), event, before.count + 1 if before else 1)
    available = now + timedelta(seconds=delay)
    return [
        {
            "customer_id": customer_id,
            "record": entry.record,
            "event": entry.event,
            "version": entry.count,
            "attempts": 0,
            "enqueued_at": now,
            "updated_at": now,
            "available_at": available,
        }
        for customer_id, entry in sorted(latest.items())
    ]


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    # A copy holding JSON only: a value JSON cannot hold (a date or a Decimal from a SQL source)
    # is queued as its text rather than making the whole enqueue fail.
    plain: dict[str, Any] = json.loads(json.dumps(dict(record), default=str))
    return plain


def _insert(dialect: sa.Dialect) -> postgresql.Insert | sqlite.Insert:
    if dialect.name == "postgresql":
        return postgresql.insert(queue)
    if dialect.name == "sqlite":
        return sqlite.insert(queue)
    raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect.name}")
