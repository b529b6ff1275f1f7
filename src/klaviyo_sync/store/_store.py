"""The store: what a run needs from the runs before it, what it leaves for the next (and the
audit of what it changed), and the work waiting for the workers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa

from ..outcome import (
    AuditEntry,
    Failure,
    FailureKind,
    Link,
    LinkHow,
    Outcome,
    OutcomeKind,
    Stage,
)
from ._activity import (
    beat,
    count_events_query,
    event_record,
    insert_event,
    list_events_query,
    list_workers_query,
    worker_record,
)
from ._audit import audit_record, count_audit_query, list_audit_query
from ._batch import chunks, put_links, write_batch
from ._engine import create_store_engine, display_url, write_transaction
from ._errors import NotFoundError, StoreError, one_line
from ._filter import FailureFilter
from ._migrate import current_revision, upgrade_schema
from ._queries import (
    count_failures_query,
    due_retries_query,
    list_failures_query,
    open_failures_query,
    parked_query,
)
from ._queue import (
    NewItem,
    ack_items,
    claim_items,
    enqueue_items,
    insert_missing,
    list_queue_query,
    queue_entry,
    queue_stats,
    release_item,
)
from ._records import (
    AuditRecord,
    EventRecord,
    FailureRecord,
    QueueEntry,
    QueueItem,
    QueueStats,
    RunRecord,
    WorkerRecord,
)
from ._schema import failures, fingerprints, links, outcomes, queue, runs
from ._security import (
    clear_login_failures,
    count_login_failures,
    is_revoked,
    note_login_failure,
    remember_webhook,
    revoke,
)

__all__ = ["Store"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _reason(err: sa.exc.SQLAlchemyError) -> str:
    # The driver's own message, without SQLAlchemy's echo of the statement and its parameters.
    orig = getattr(err, "orig", None)
    return one_line(orig) if orig is not None else one_line(str(err).split("\n", 1)[0])


class Store:
    """Links, fingerprints (with the applied state), runs, outcomes, failures, the audit, the
    queue, events and workers in one SQL database.

    Open it with :meth:`open`; every write a run makes per batch goes through
    :meth:`commit_batch` as one transaction. Safe to share between threads, and between
    processes on one SQLite file or one PostgreSQL database.
    """

    def __init__(self, engine: sa.Engine, *, where: str, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self.url_for_display = where

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Connect to the store at ``url`` (a SQLAlchemy URL), creating or upgrading its schema.

        Opening a store already at the newest schema writes nothing. ``clock`` gives every time
        the store records (default: now, in UTC).
        """
        where = display_url(url)
        engine = create_store_engine(url)
        try:
            upgrade_schema(engine, where=where)
        except sa.exc.SQLAlchemyError as err:
            engine.dispose()
            raise StoreError(f"cannot open the store at {where}: {_reason(err)}") from err
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where=where, clock=clock or _utc_now)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url_for_display!r})"

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        with self._read("read the schema revision") as conn:
            return current_revision(conn)

    # links

    def get_links(self, customer_ids: Iterable[str]) -> dict[str, Link]:
        """The links of those customers that have one, by customer id."""
        found: dict[str, Link] = {}
        with self._read("read links") as conn:
            for part in chunks(sorted(set(customer_ids))):
                rows = conn.execute(sa.select(links).where(links.c.customer_id.in_(part)))
                found.update((row.customer_id, _link(row)) for row in rows)
        return found

    def get_link(self, customer_id: str) -> Link | None:
        return self.get_links([customer_id]).get(customer_id)

    def find_links(
        self, *, customer_id: str | None = None, profile_id: str | None = None, limit: int = 50
    ) -> list[Link]:
        """Links with that customer id and/or profile id; with neither, the latest changed."""
        query = sa.select(links).order_by(links.c.updated_at.desc(), links.c.customer_id)
        if customer_id is not None:
            query = query.where(links.c.customer_id == customer_id)
        if profile_id is not None:
            query = query.where(links.c.profile_id == profile_id)
        with self._read("find links") as conn:
            return [_link(row) for row in conn.execute(query.limit(limit))]

    # fingerprints

    def get_fingerprints(self, customer_ids: Iterable[str]) -> dict[str, str]:
        """Fingerprints of what was last applied, for those customers that have one."""
        found: dict[str, str] = {}
        with self._read("read fingerprints") as conn:
            for part in chunks(sorted(set(customer_ids))):
                rows = conn.execute(
                    sa.select(fingerprints.c.customer_id, fingerprints.c.fingerprint).where(
                        fingerprints.c.customer_id.in_(part)
                    )
                )
                found.update((row.customer_id, row.fingerprint) for row in rows)
        return found

    def get_applied(self, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What was last applied to the profiles of those customers that have it stored, as
        JSON (fingerprints stored before the applied state was kept have none)."""
        found: dict[str, dict[str, Any]] = {}
        with self._read("read applied states") as conn:
            for part in chunks(sorted(set(customer_ids))):
                rows = conn.execute(
                    sa.select(fingerprints.c.customer_id, fingerprints.c.applied).where(
                        fingerprints.c.customer_id.in_(part), fingerprints.c.applied.is_not(None)
                    )
                )
                found.update((row.customer_id, dict(row.applied)) for row in rows)
        return found

    # runs

    def start_run(self, kind: str, *, source: str | None = None) -> int:
        """Record a run starting now; its id goes to :meth:`commit_batch` and :meth:`finish_run`."""
        with self._write("start a run") as conn:
            result = conn.execute(
                sa.insert(runs).values(kind=kind, source=source, started_at=self._now(), counts={})
            )
            key = result.inserted_primary_key
            assert key is not None, "an INSERT into runs yields its id"
            return int(key[0])

    def finish_run(self, run_id: int, counts: Mapping[str, int]) -> None:
        clean = {str(name): int(n) for name, n in counts.items()}
        with self._write(f"finish run {run_id}") as conn:
            result = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=self._now(), counts=clean)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no run {run_id} in the store at {self.url_for_display}")

    def get_run(self, run_id: int) -> RunRecord | None:
        with self._read(f"read run {run_id}") as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one_or_none()
        return _run(row) if row is not None else None

    def list_runs(self, *, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._read("list runs") as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit))
            return [_run(row) for row in rows]

    def run_outcomes(
        self,
        run_id: int,
        *,
        kind: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Outcome]:
        """A run's outcomes in the order they were recorded.

        A failed outcome carries its failure as the error log has it now (a later run may have
        seen it again).
        """
        query = (
            sa.select(
                outcomes,
                *(c.label(f"f_{c.name}") for c in failures.c if c.name in _FAILURE_FIELDS),
            )
            .select_from(outcomes.outerjoin(failures, outcomes.c.failure_id == failures.c.id))
            .where(outcomes.c.run_id == run_id)
            .order_by(outcomes.c.id)
            .limit(limit)
            .offset(offset)
        )
        if kind is not None:
            query = query.where(outcomes.c.kind == kind)
        with self._read(f"read the outcomes of run {run_id}") as conn:
            return [_outcome(row) for row in conn.execute(query)]

    # the one write per batch

    def commit_batch(
        self,
        run_id: int,
        *,
        outcomes: Sequence[Outcome],
        links: Sequence[Link] = (),
        dropped_links: Sequence[str] = (),
        fingerprints: Mapping[str, str] = {},
        applied: Mapping[str, Mapping[str, Any]] = {},
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        """Record a batch in one transaction: all of it, or (on any error) none of it.

        Stores each outcome; records its failure (bumping ``attempts`` of the customer's open
        failure of the same kind, or opening one); resolves the open failures of customers that
        did not fail; drops ``dropped_links`` (and their fingerprints and applied states: they
        described the profile the link pointed at), then upserts ``links`` and ``fingerprints``.
        A fingerprint is stored with the customer's ``applied`` state when there is one, and
        keeps the stored state when not; ``applied`` without a fingerprint is ignored. A failed
        customer's fingerprint and applied state are left as they were, so the next run sends
        it again. Every ``audit`` entry is recorded, a failed customer's too: the change was
        made.
        """
        with self._write(f"record a batch of run {run_id}") as conn:
            write_batch(
                conn,
                run_id=run_id,
                now=self._now(),
                outcomes=outcomes,
                links=links,
                dropped_links=dropped_links,
                fingerprints=fingerprints,
                applied=applied,
                audit=audit,
            )

    # the audit

    def list_audit(
        self,
        *,
        customer_id: str | None = None,
        run_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Consent and list changes newest first, all of them or one customer's and/or run's."""
        query = list_audit_query(customer_id=customer_id, run_id=run_id, limit=limit, offset=offset)
        with self._read("list the audit") as conn:
            return [audit_record(row) for row in conn.execute(query)]

    def count_audit(self, *, customer_id: str | None = None, run_id: int | None = None) -> int:
        query = count_audit_query(customer_id=customer_id, run_id=run_id)
        with self._read("count the audit") as conn:
            return int(conn.execute(query).scalar_one())

    # failures: the error log

    def list_failures(
        self,
        where: FailureFilter | None = None,
        /,
        *,
        limit: int = 50,
        offset: int = 0,
        **criteria: Any,
    ) -> list[FailureRecord]:
        """The failures ``where`` takes (every open one by default), newest first (by
        ``last_seen``). The keywords ``kind=``, ``text=``, ... are a shorthand for
        ``FailureFilter(kind=..., text=...)``."""
        query = list_failures_query(_filter(where, criteria), limit=limit, offset=offset)
        with self._read("list failures") as conn:
            return [_failure(row) for row in conn.execute(query)]

    def count_failures(self, where: FailureFilter | None = None, /, **criteria: Any) -> int:
        """How many failures ``where`` takes; the keywords as for ``list_failures``."""
        query = count_failures_query(_filter(where, criteria))
        with self._read("count failures") as conn:
            return int(conn.execute(query).scalar_one())

    def get_failure(self, failure_id: int) -> FailureRecord | None:
        with self._read(f"read failure {failure_id}") as conn:
            row = conn.execute(sa.select(failures).where(failures.c.id == failure_id)).one_or_none()
        return _failure(row) if row is not None else None

    def resolve_failure(self, failure_id: int, *, note: str = "resolved by hand") -> FailureRecord:
        """Mark a failure resolved with ``note``; one already resolved is returned unchanged."""
        query = sa.select(failures).where(failures.c.id == failure_id)
        with self._write(f"resolve failure {failure_id}") as conn:
            row = conn.execute(query).one_or_none()
            if row is None:
                raise NotFoundError(
                    f"no failure {failure_id} in the store at {self.url_for_display}"
                )
            if row.resolved_at is None:
                conn.execute(
                    sa.update(failures)
                    .where(failures.c.id == failure_id)
                    .values(resolved_at=self._now(), resolution=note, next_retry_at=None)
                )
                row = conn.execute(query).one()
        return _failure(row)

    def open_failures(
        self, customer_ids: Iterable[str], *, kinds: Iterable[str]
    ) -> dict[str, FailureRecord]:
        """The newest open failure among ``kinds`` of each of those customers that has one, by
        customer id ("newest" by ``last_seen``, then id)."""
        wanted = sorted(set(kinds))
        found: dict[str, FailureRecord] = {}
        if not wanted:
            return found
        with self._read("read open failures") as conn:
            for part in chunks(sorted(set(customer_ids))):
                for row in conn.execute(open_failures_query(part, wanted)):
                    if row.resolved_at is not None:
                        continue
                    seen = found.get(row.customer_id)
                    if seen is None or (row.last_seen, row.id) > (seen.last_seen, seen.id):
                        found[row.customer_id] = _failure(row)
        return found

    def link_by_hand(self, failure_id: int, profile_id: str, *, note: str) -> FailureRecord:
        """Settle an open failure by linking its customer to ``profile_id`` (how: ``conflict``,
        a person's choice after an identity conflict), in one transaction.

        The customer's fingerprint and applied state go, so the next run sends it to the chosen
        profile in full; the failure is resolved with ``note`` and returned. A failure that is
        unknown (:class:`NotFoundError`), resolved already, or has no customer is refused
        (:class:`StoreError`) and nothing changes.
        """
        query = sa.select(failures).where(failures.c.id == failure_id)
        with self._write(f"link the customer of failure {failure_id} by hand") as conn:
            # Locked on PostgreSQL: two people settling one failure at once link it once.
            row = conn.execute(query.with_for_update()).one_or_none()
            if row is None:
                raise NotFoundError(
                    f"no failure {failure_id} in the store at {self.url_for_display}"
                )
            if row.resolved_at is not None:
                raise StoreError(f"failure {failure_id} is already resolved: nothing to link")
            if row.customer_id is None:
                raise StoreError(
                    f"failure {failure_id} has no customer id: there is no customer to link"
                )
            now = self._now()
            put_links(conn, now, [Link(row.customer_id, profile_id, "conflict")])
            conn.execute(
                sa.delete(fingerprints).where(fingerprints.c.customer_id == row.customer_id)
            )
            conn.execute(
                sa.update(failures)
                .where(failures.c.id == failure_id)
                .values(resolved_at=now, resolution=note, next_retry_at=None)
            )
            return _failure(conn.execute(query).one())

    def due_retries(self, *, limit: int, max_attempts: int) -> list[FailureRecord]:
        """Open retryable failures whose ``next_retry_at`` has come and that have been met fewer
        than ``max_attempts`` times, soonest first. Queue them with :meth:`requeue_retries`."""
        query = due_retries_query(self._now(), limit=limit, max_attempts=max_attempts)
        with self._read("find the retries that are due") as conn:
            return [_failure(row) for row in conn.execute(query)]

    def parked(self, *, max_attempts: int, limit: int = 50) -> list[FailureRecord]:
        """Open retryable failures out of automatic retries (met ``max_attempts`` times or more),
        newest first: they wait for ``errors retry`` or ``errors resolve``."""
        with self._read("list parked failures") as conn:
            query = parked_query(max_attempts=max_attempts, limit=limit)
            return [_failure(row) for row in conn.execute(query)]

    def requeue_retries(
        self, retries: Sequence[tuple[int, str, Mapping[str, Any]]], *, event: str = "retry"
    ) -> int:
        """Queue due retries, given as (failure id, customer id, record to run); one transaction.

        A customer already queued keeps its queued record, which is newer than the one kept
        with the failure (and a queued retry keeps its own delay). Each failure's
        ``next_retry_at`` is cleared, so the next scan does not queue it again; the run that
        follows resolves it or, failing again, sets a new one. Returns how many customers were
        newly queued.
        """
        with self._write("queue the retries that are due") as conn:
            now = self._now()
            queued = insert_missing(conn, now, [(c, record, event) for _, c, record in retries])
            for part in chunks(sorted({failure_id for failure_id, _, _ in retries})):
                conn.execute(
                    sa.update(failures)
                    .where(failures.c.id.in_(part), failures.c.resolved_at.is_(None))
                    .values(next_retry_at=None)
                )
        return queued

    # the queue

    def enqueue(self, items: Sequence[NewItem], *, delay: float = 0.0) -> None:
        """Queue (customer id, latest record, event name) triples in one transaction.

        One row per customer: a newer record replaces the queued one (a burst of updates becomes
        one transfer of the latest state), counts ``version`` up, starts ``attempts`` over and
        keeps the row's place in line; it is available ``delay`` seconds from now, or sooner if
        the queued one already was. The same customer twice in ``items``: the last one wins.
        Rows are kept in customer id order, so items of one call line up in that order.
        """
        _not_negative("delay", delay)
        with self._write(f"queue {len(items)} customers") as conn:
            enqueue_items(conn, self._now(), items, delay=delay)

    def claim(self, worker_id: str, *, limit: int, lease_seconds: float) -> list[QueueItem]:
        """Lease up to ``limit`` rows to ``worker_id`` for ``lease_seconds``, oldest first.

        Only rows available now and not held (never leased, or the lease ran out: a killed
        worker's claim is picked up again). No two workers hold one customer at once.
        """
        _not_negative("limit", limit)
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive (got {lease_seconds})")
        if limit == 0:
            return []
        with self._write(f"claim queued customers for worker {worker_id}") as conn:
            return claim_items(
                conn, self._now(), worker_id, limit=limit, lease_seconds=lease_seconds
            )

    def ack(self, worker_id: str, items: Sequence[QueueItem]) -> None:
        """Done with ``items``: each row still at its claimed version leaves the queue; one
        that got a newer record meanwhile stays and is free at once, so the newer state runs
        next. Rows whose lease another worker has taken since are left alone."""
        if not items:
            return
        with self._write(f"acknowledge {len(items)} customers for worker {worker_id}") as conn:
            ack_items(conn, worker_id, items)

    def release(self, worker_id: str, item: QueueItem, *, delay: float) -> None:
        """Try ``item`` again later: the lease is dropped, ``attempts`` counts one more and the
        row waits ``delay`` seconds. A newer record that arrived meanwhile runs at once instead,
        with its attempts at zero. Nothing happens if the lease was lost to another worker."""
        _not_negative("delay", delay)
        with self._write(f"release customer {item.customer_id} for worker {worker_id}") as conn:
            release_item(conn, self._now(), worker_id, item, delay=delay)

    def queue_depth(self) -> int:
        """How many customers are queued, held by a worker or not."""
        with self._read("count the queue") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(queue)).scalar_one())

    def queue_stats(self) -> QueueStats:
        with self._read("read the queue's figures") as conn:
            return queue_stats(conn, self._now())

    def list_queue(self, *, limit: int = 50, offset: int = 0) -> list[QueueEntry]:
        """The queue in line order (oldest first), with who holds each row and until when."""
        query = list_queue_query(limit=limit, offset=offset)
        with self._read("list the queue") as conn:
            return [queue_entry(row) for row in conn.execute(query)]

    # the event log

    def record_event(
        self, event: str, *, customer_id: str | None, status: str, reason: str | None = None
    ) -> int:
        """Log a webhook event received now: ``queued``, ``ignored`` or ``rejected`` (with the
        ``reason``). Returns its id."""
        with self._write(f"record a {event!r} event") as conn:
            return insert_event(
                conn, self._now(), event, customer_id=customer_id, status=status, reason=reason
            )

    def list_events(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[EventRecord]:
        """Events newest first, all of them or those with one status."""
        query = list_events_query(status=status, limit=limit, offset=offset)
        with self._read("list events") as conn:
            return [event_record(row) for row in conn.execute(query)]

    def count_events(self, *, status: str | None = None) -> int:
        query = count_events_query(status=status)
        with self._read("count events") as conn:
            return int(conn.execute(query).scalar_one())

    def accept_webhook(
        self, webhook_id: str, items: Sequence[NewItem], *, keep_for: timedelta
    ) -> bool:
        """Queue ``items`` (maybe none) for a webhook delivered now, unless ``webhook_id`` came
        within ``keep_for`` already: then nothing is queued and the answer is False.

        One transaction, so an id is remembered only with its event queued: a sender whose
        first delivery failed in the store may send it again.
        """
        with self._write(f"accept webhook {webhook_id!r}") as conn:
            now = self._now()
            if not remember_webhook(conn, now, webhook_id, keep_for=keep_for):
                return False
            if items:
                enqueue_items(conn, now, items, delay=0.0)
            return True

    # dashboard sessions and sign-ins

    def revoke_session(self, sid: str, *, expires_at: datetime) -> None:
        """Sign a dashboard session out, for every process sharing this store."""
        with self._write("sign a session out") as conn:
            revoke(conn, self._now(), sid, expires_at=expires_at)

    def session_revoked(self, sid: str) -> bool:
        with self._read("look a session up") as conn:
            return is_revoked(conn, self._now(), sid)

    def login_failed(self, client: str, *, forget_after: timedelta) -> int:
        """Count a wrong dashboard token from ``client``; its failures in a row so far."""
        with self._write("count a failed sign-in") as conn:
            return note_login_failure(conn, self._now(), client, forget_after=forget_after)

    def login_failures(
        self, client: str, *, forget_after: timedelta
    ) -> tuple[int, datetime | None]:
        """``client``'s wrong tokens in a row (none for ``forget_after``: 0) and the last's time."""
        with self._read("read failed sign-ins") as conn:
            return count_login_failures(conn, self._now(), client, forget_after=forget_after)

    def login_succeeded(self, client: str) -> None:
        with self._write("clear failed sign-ins") as conn:
            clear_login_failures(conn, client)

    # workers

    def heartbeat(
        self, worker_id: str, *, host: str, pid: int, processed: int, state: str = "running"
    ) -> None:
        """Record that ``worker_id`` is alive now; its first beat sets ``started_at``."""
        with self._write(f"record a heartbeat of worker {worker_id}") as conn:
            beat(
                conn,
                self._now(),
                worker_id,
                host=host,
                pid=pid,
                processed=processed,
                state=state,
            )

    def list_workers(self, *, seen_within: float | None = None) -> list[WorkerRecord]:
        """Workers oldest started first; only those seen in the last ``seen_within`` seconds."""
        query = list_workers_query(self._now(), seen_within=seen_within)
        with self._read("list workers") as conn:
            return [worker_record(row) for row in conn.execute(query)]

    # plumbing

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError(f"the store's clock gave a naive datetime {now!r}; it must be aware")
        return now.astimezone(UTC)

    @contextmanager
    def _read(self, action: str) -> Iterator[sa.Connection]:
        with self._guard(action), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self, action: str) -> Iterator[sa.Connection]:
        with self._guard(action), write_transaction(self._engine) as conn:
            yield conn

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as err:
            raise StoreError(
                f"cannot {action} in the store at {self.url_for_display}: {_reason(err)}"
            ) from err


_FAILURE_FIELDS = ("customer_id", "stage", "kind", "message", "retryable", "detail")


def _link(row: sa.Row[Any]) -> Link:
    return Link(
        customer_id=row.customer_id,
        profile_id=row.profile_id,
        how=cast(LinkHow, row.how),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _run(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=row.kind,
        source=row.source,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=dict(row.counts),
    )


def _outcome(row: sa.Row[Any]) -> Outcome:
    m = row._mapping
    failure = None
    if row.failure_id is not None:
        failure = Failure(
            customer_id=m["f_customer_id"],
            stage=cast(Stage, m["f_stage"]),
            kind=cast(FailureKind, m["f_kind"]),
            message=m["f_message"],
            retryable=bool(m["f_retryable"]),
            detail=dict(m["f_detail"]),
        )
    return Outcome(
        customer_id=row.customer_id,
        kind=cast(OutcomeKind, row.kind),
        profile_id=row.profile_id,
        route=row.route,
        detail=dict(row.detail),
        failure=failure,
    )


def _filter(where: FailureFilter | None, criteria: dict[str, Any]) -> FailureFilter:
    if where is None:
        return FailureFilter(**criteria)
    if criteria:
        raise TypeError(f"give a FailureFilter or its fields, not both ({', '.join(criteria)})")
    return where


def _failure(row: sa.Row[Any]) -> FailureRecord:
    return FailureRecord(
        id=row.id,
        customer_id=row.customer_id,
        stage=cast(Stage, row.stage),
        kind=cast(FailureKind, row.kind),
        message=row.message,
        retryable=bool(row.retryable),
        detail=dict(row.detail),
        attempts=row.attempts,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        run_id=row.run_id,
        next_retry_at=row.next_retry_at,
    )


def _not_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must not be negative (got {value})")
