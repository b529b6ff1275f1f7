"""The writes of ``Store.commit_batch``, all on one connection inside one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from ..outcome import AuditEntry, Failure, Link, Outcome
from ._audit import insert_audit
from ._redact import redact, storable_text
from ._retry import retry_delay
from ._schema import UTCDateTime, failures, fingerprints, links, outcomes
from ._upsert import upsert

__all__ = ["CHUNK", "chunks", "is_failed", "next_retry_at", "put_links", "write_batch"]

# Ids per IN (…): well under SQLite's 999 bound parameters of old builds, and few round trips.
CHUNK = 500

T = TypeVar("T")

# A customer has at most one open failure per kind. Without a customer (a source line whose Id
# could not be read) the message, which names the line, tells entries apart instead.
_Key = tuple[str | None, str, str]
_NOT_WRITTEN = frozenset({"failed", "conflict"})


@dataclass(slots=True)
class _Seen:
    failure: Failure
    times: int


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def is_failed(outcome: Outcome) -> bool:
    return outcome.kind == "failed" or outcome.failure is not None


def write_batch(
    conn: sa.Connection,
    *,
    run_id: int,
    now: datetime,
    outcomes: Sequence[Outcome],
    links: Sequence[Link],
    dropped_links: Sequence[str],
    fingerprints: Mapping[str, str],
    applied: Mapping[str, Mapping[str, Any]],
    audit: Sequence[AuditEntry],
) -> None:
    failure_ids = _record_failures(conn, run_id, now, outcomes)
    _insert_outcomes(conn, run_id, now, outcomes, failure_ids)
    _resolve_succeeded(conn, run_id, now, outcomes)
    _resolve_superseded(conn, run_id, now, outcomes)
    _drop_links(conn, dropped_links)
    put_links(conn, now, links)
    failed = {o.customer_id for o in outcomes if o.kind in _NOT_WRITTEN}
    # A failed customer keeps the fingerprint of what was last applied, so the next run resends.
    # One written with a field Klaviyo left out (its outcome carries that failure) takes the
    # fingerprint and state it is given: the engine leaves the field out of them.
    _put_fingerprints(
        conn, now, {c: f for c, f in fingerprints.items() if c not in failed}, applied
    )
    # Even a failed customer's changes: they were made before whatever failed after them.
    insert_audit(conn, run_id, now, audit)


def _key(failure: Failure) -> _Key:
    if failure.customer_id is not None:
        return (failure.customer_id, failure.kind, "")
    return (None, failure.kind, storable_text(failure.message))


def _record_failures(
    conn: sa.Connection, run_id: int, now: datetime, batch: Sequence[Outcome]
) -> dict[_Key, int]:
    """Bump the open failure each failed customer already has, or insert one; ids by key."""
    seen: dict[_Key, _Seen] = {}
    for outcome in batch:
        if outcome.failure is not None:
            key = _key(outcome.failure)
            before = seen.get(key)
            seen[key] = _Seen(outcome.failure, before.times + 1 if before else 1)
    if not seen:
        return {}
    found = _open_failures(conn, seen.keys())
    # Sorted by id: concurrent batches on PostgreSQL then lock shared rows in one order.
    bumps = sorted(((found[k], seen[k]) for k in seen if k in found), key=lambda b: b[0].id)
    _bump_failures(conn, run_id, now, bumps)
    ids = {k: found[k].id for k in found}
    new = [k for k in seen if k not in found]
    ids.update(zip(new, _insert_failures(conn, run_id, now, [seen[k] for k in new]), strict=True))
    return ids


@dataclass(slots=True, frozen=True)
class _Open:
    id: int
    attempts: int


def _open_failures(conn: sa.Connection, keys: Iterable[_Key]) -> dict[_Key, _Open]:
    wanted = set(keys)
    found: dict[_Key, _Open] = {}
    columns = (failures.c.id, failures.c.attempts, failures.c.customer_id, failures.c.kind)
    customer_ids = {k[0] for k in wanted if k[0] is not None}
    # Ascending ids: should there be two, the newest wins.
    for hit in sorted(_open_of(conn, customer_ids, failures.c.attempts), key=lambda r: r.id):
        found[(hit.customer_id, hit.kind, "")] = _Open(hit.id, hit.attempts)
    messages = sorted({k[2] for k in wanted if k[0] is None})
    for part in chunks(messages):
        rows = conn.execute(
            sa.select(*columns, failures.c.message)
            .where(
                failures.c.resolved_at.is_(None),
                failures.c.customer_id.is_(None),
                failures.c.message.in_(part),
            )
            .order_by(failures.c.id)
        )
        for row in rows:
            found[(None, row.kind, row.message)] = _Open(row.id, row.attempts)
    return {k: v for k, v in found.items() if k in wanted}


def next_retry_at(now: datetime, failure: Failure, attempts: int) -> datetime | None:
    """When the worker tries a retryable failure again; never for the others."""
    if not failure.retryable:
        return None
    return now + timedelta(seconds=retry_delay(attempts))


def _failure_values(failure: Failure) -> dict[str, Any]:
    return {
        "stage": failure.stage,
        "message": storable_text(failure.message),
        "retryable": failure.retryable,
        "detail": redact(failure.detail),
    }


def _bump_failures(
    conn: sa.Connection, run_id: int, now: datetime, bumps: Sequence[tuple[_Open, _Seen]]
) -> None:
    if not bumps:
        return
    # executemany needs bind names that differ from the columns they set.
    statement = (
        sa.update(failures)
        .where(failures.c.id == sa.bindparam("b_id"))
        .values(
            attempts=failures.c.attempts + sa.bindparam("b_times", type_=sa.Integer),
            last_seen=sa.bindparam("b_now", type_=UTCDateTime),
            run_id=sa.bindparam("b_run_id", type_=sa.Integer),
            stage=sa.bindparam("b_stage", type_=sa.String),
            message=sa.bindparam("b_message", type_=sa.Text),
            retryable=sa.bindparam("b_retryable", type_=sa.Boolean),
            detail=sa.bindparam("b_detail", type_=sa.JSON),
            next_retry_at=sa.bindparam("b_next_retry_at", type_=UTCDateTime),
        )
    )
    rows = [
        {
            "b_id": before.id,
            "b_times": seen.times,
            "b_now": now,
            "b_run_id": run_id,
            "b_next_retry_at": next_retry_at(now, seen.failure, before.attempts + seen.times),
            **{f"b_{name}": value for name, value in _failure_values(seen.failure).items()},
        }
        for before, seen in bumps
    ]
    conn.execute(statement, rows)


def _insert_failures(
    conn: sa.Connection, run_id: int, now: datetime, new: Sequence[_Seen]
) -> list[int]:
    if not new:
        return []
    rows = [
        {
            "customer_id": seen.failure.customer_id,
            "kind": seen.failure.kind,
            **_failure_values(seen.failure),
            "attempts": seen.times,
            "next_retry_at": next_retry_at(now, seen.failure, seen.times),
            "first_seen": now,
            "last_seen": now,
            "run_id": run_id,
        }
        for seen in new
    ]
    result = conn.execute(
        sa.insert(failures).returning(failures.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result]


def _insert_outcomes(
    conn: sa.Connection,
    run_id: int,
    now: datetime,
    batch: Sequence[Outcome],
    failure_ids: Mapping[_Key, int],
) -> None:
    rows = [
        {
            "run_id": run_id,
            "customer_id": o.customer_id,
            "kind": o.kind,
            "profile_id": o.profile_id,
            "route": o.route,
            "detail": redact(o.detail),
            "failure_id": failure_ids[_key(o.failure)] if o.failure is not None else None,
            "recorded_at": now,
        }
        for o in batch
    ]
    if rows:
        conn.execute(sa.insert(outcomes), rows)


def _resolve_succeeded(
    conn: sa.Connection, run_id: int, now: datetime, batch: Sequence[Outcome]
) -> None:
    # A customer seen twice in a batch counts by its last outcome.
    last = {o.customer_id: o for o in batch}
    succeeded = {c for c, o in last.items() if not is_failed(o)}
    _resolve(conn, [r.id for r in _open_of(conn, succeeded)], now, f"succeeded in run {run_id}")


def _resolve_superseded(
    conn: sa.Connection, run_id: int, now: datetime, batch: Sequence[Outcome]
) -> None:
    """A customer's latest attempt is its one current problem: when it fails differently now,
    the failures of other kinds it had are over (a retry after an outage that meets a bad
    phone leaves only the phone to fix)."""
    kind_now = {
        o.customer_id: o.failure.kind
        for o in batch
        if o.failure is not None and o.failure.customer_id is not None
    }
    by_kind: dict[str, list[int]] = {}
    for row in _open_of(conn, kind_now.keys()):
        if row.kind != kind_now[row.customer_id]:
            by_kind.setdefault(kind_now[row.customer_id], []).append(row.id)
    for kind, ids in sorted(by_kind.items()):
        _resolve(conn, ids, now, f"superseded by {kind} in run {run_id}")


def _open_of(
    conn: sa.Connection, customer_ids: Iterable[str], *columns: sa.ColumnElement[Any]
) -> Iterator[sa.Row[Any]]:
    """The open failures (id, customer_id, kind and ``columns``) of those customers.

    Open is tested here, not in SQL: with ``resolved_at IS NULL`` in the query SQLite's planner
    takes an index on ``resolved_at`` and reads every open failure for each chunk of customers
    (30 times slower with 100,000 open), instead of ``ix_failures_customer_id``; see
    ``open_failures_query``.
    """
    for part in chunks(sorted(set(customer_ids))):
        query = sa.select(
            failures.c.id, failures.c.customer_id, failures.c.kind, failures.c.resolved_at, *columns
        ).where(failures.c.customer_id.in_(part))
        yield from (row for row in conn.execute(query) if row.resolved_at is None)


def _resolve(conn: sa.Connection, ids: Sequence[int], now: datetime, resolution: str) -> None:
    # Sorted: concurrent batches on PostgreSQL then lock shared rows in one order.
    for part in chunks(sorted(ids)):
        conn.execute(
            sa.update(failures)
            .where(failures.c.id.in_(part), failures.c.resolved_at.is_(None))
            .values(resolved_at=now, resolution=resolution, next_retry_at=None)
        )


def _drop_links(conn: sa.Connection, customer_ids: Sequence[str]) -> None:
    # The fingerprint described the profile the link pointed at; kept, it would make the next
    # run skip the customer as "unchanged" and never give it a profile again.
    for part in chunks(sorted(set(customer_ids))):
        conn.execute(sa.delete(links).where(links.c.customer_id.in_(part)))
        conn.execute(sa.delete(fingerprints).where(fingerprints.c.customer_id.in_(part)))


def put_links(conn: sa.Connection, now: datetime, batch: Sequence[Link]) -> None:
    rows = [
        {
            "customer_id": link.customer_id,
            "profile_id": link.profile_id,
            "how": link.how,
            "created_at": now,
            "updated_at": now,
        }
        for link in batch
    ]
    upsert(conn, links, rows, key=["customer_id"], update=["profile_id", "how", "updated_at"])


def _put_fingerprints(
    conn: sa.Connection,
    now: datetime,
    batch: Mapping[str, str],
    applied: Mapping[str, Mapping[str, Any]],
) -> None:
    """Upsert the fingerprints, each with its applied state when ``applied`` has one.

    A customer without one keeps the applied state stored (two statements: an upsert updates
    the same columns for every row). ``applied`` entries of customers not in ``batch`` are
    ignored: the state goes with its fingerprint.
    """
    rows = [
        {"customer_id": customer_id, "fingerprint": fingerprint, "updated_at": now}
        for customer_id, fingerprint in batch.items()
        if customer_id not in applied
    ]
    upsert(conn, fingerprints, rows, key=["customer_id"], update=["fingerprint", "updated_at"])
    with_state = [
        {
            "customer_id": customer_id,
            "fingerprint": fingerprint,
            "applied": dict(applied[customer_id]),
            "updated_at": now,
        }
        for customer_id, fingerprint in batch.items()
        if customer_id in applied
    ]
    upsert(
        conn,
        fingerprints,
        with_state,
        key=["customer_id"],
        update=["fingerprint", "applied", "updated_at"],
    )
