"""The event log (every webhook event and what became of it) and worker heartbeats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from ._records import EVENT_STATUSES, EventRecord, EventStatus, WorkerRecord
from ._redact import scrub_text
from ._schema import events, workers
from ._upsert import upsert

__all__ = [
    "beat",
    "count_events_query",
    "event_record",
    "insert_event",
    "list_events_query",
    "list_workers_query",
    "worker_record",
]


def insert_event(
    conn: sa.Connection,
    now: datetime,
    event: str,
    *,
    customer_id: str | None,
    status: str,
    reason: str | None,
) -> int:
    _check_status(status)
    result = conn.execute(
        sa.insert(events).values(
            received_at=now,
            event=event,
            customer_id=customer_id,
            status=status,
            # A rejected body's reason may quote what was sent: no key gets through.
            reason=scrub_text(reason) if reason is not None else None,
        )
    )
    key = result.inserted_primary_key
    assert key is not None, "an INSERT into events yields its id"
    return int(key[0])


def list_events_query(*, status: str | None, limit: int, offset: int) -> sa.Select[Any]:
    """Newest first; the id breaks ties so paging never repeats or skips an event."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
    return (
        sa.select(events)
        .where(*_status_filter(status))
        .order_by(events.c.received_at.desc(), events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def count_events_query(*, status: str | None) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(events).where(*_status_filter(status))


def event_record(row: sa.Row[Any]) -> EventRecord:
    return EventRecord(
        id=row.id,
        received_at=row.received_at,
        event=row.event,
        customer_id=row.customer_id,
        status=cast(EventStatus, row.status),
        reason=row.reason,
    )


def beat(
    conn: sa.Connection,
    now: datetime,
    worker_id: str,
    *,
    host: str,
    pid: int,
    processed: int,
    state: str,
) -> None:
    row = {
        "worker_id": worker_id,
        "host": host,
        "pid": pid,
        "started_at": now,
        "last_seen": now,
        "processed": processed,
        "state": state,
    }
    # started_at is written by the first beat only.
    update = ["host", "pid", "last_seen", "processed", "state"]
    upsert(conn, workers, [row], key=["worker_id"], update=update)


def list_workers_query(now: datetime, *, seen_within: float | None) -> sa.Select[Any]:
    """Oldest started first: a stable order while every worker keeps beating."""
    query = sa.select(workers).order_by(workers.c.started_at, workers.c.worker_id)
    if seen_within is not None:
        query = query.where(workers.c.last_seen >= now - timedelta(seconds=seen_within))
    return query


def worker_record(row: sa.Row[Any]) -> WorkerRecord:
    return WorkerRecord(
        worker_id=row.worker_id,
        host=row.host,
        pid=row.pid,
        started_at=row.started_at,
        last_seen=row.last_seen,
        processed=row.processed,
        state=row.state,
    )


def _status_filter(status: str | None) -> list[sa.ColumnElement[bool]]:
    if status is None:
        return []
    _check_status(status)
    return [events.c.status == status]


def _check_status(status: str) -> None:
    if status not in EVENT_STATUSES:
        raise ValueError(
            f"event status must be one of {', '.join(EVENT_STATUSES)} (got {status!r})"
        )
