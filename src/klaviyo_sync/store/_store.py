"""The store: what a run needs from the runs before it, and what it leaves for the next."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa

from ..outcome import Failure, FailureKind, Link, LinkHow, Outcome, OutcomeKind, Stage
from ._batch import chunks, write_batch
from ._engine import create_store_engine, display_url, write_transaction
from ._errors import NotFoundError, StoreError
from ._migrate import current_revision, upgrade_schema
from ._queries import count_failures_query, list_failures_query
from ._records import FailureRecord, RunRecord
from ._schema import failures, fingerprints, links, outcomes, runs

__all__ = ["Store"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _reason(err: sa.exc.SQLAlchemyError) -> str:
    # The driver's own message, without SQLAlchemy's echo of the statement and its parameters.
    orig = getattr(err, "orig", None)
    return str(orig) if orig is not None else str(err).split("\n", 1)[0]


class Store:
    """Links, fingerprints, runs, outcomes and failures in one SQL database.

    Open it with :meth:`open`; every write a run makes per batch goes through
    :meth:`commit_batch` as one transaction. Safe to share between threads.
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
    ) -> None:
        """Record a batch in one transaction: all of it, or (on any error) none of it.

        Stores each outcome; records its failure (bumping ``attempts`` of the customer's open
        failure of the same kind, or opening one); resolves the open failures of customers that
        did not fail; drops ``dropped_links`` (and their fingerprints: they described the
        profile the link pointed at), then upserts ``links`` and ``fingerprints``. A failed
        customer's fingerprint is left as it was, so the next run sends it again.
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
            )

    # failures: the error log

    def list_failures(
        self,
        *,
        kind: str | None = None,
        text: str | None = None,
        customer_id: str | None = None,
        retryable: bool | None = None,
        include_resolved: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[FailureRecord]:
        """Failures newest first (by ``last_seen``). ``text`` matches, ignoring case, part of
        the message or of the customer id; open ones only unless ``include_resolved``."""
        query = list_failures_query(
            kind=kind,
            text=text,
            customer_id=customer_id,
            retryable=retryable,
            include_resolved=include_resolved,
            limit=limit,
            offset=offset,
        )
        with self._read("list failures") as conn:
            return [_failure(row) for row in conn.execute(query)]

    def count_failures(
        self,
        *,
        kind: str | None = None,
        text: str | None = None,
        customer_id: str | None = None,
        retryable: bool | None = None,
        include_resolved: bool = False,
    ) -> int:
        query = count_failures_query(
            kind=kind,
            text=text,
            customer_id=customer_id,
            retryable=retryable,
            include_resolved=include_resolved,
        )
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
                    .values(resolved_at=self._now(), resolution=note)
                )
                row = conn.execute(query).one()
        return _failure(row)

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
    )
