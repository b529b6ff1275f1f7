"""Revisions 0002 (queue, events, workers, failures.next_retry_at) on top of a 0001 store and
0003 (fingerprints.applied, the audit) on top of a 0002 store, and the indexes that keep the
dashboard's pages, the workers' claims and the engine's look-ups fast."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql, sqlite

from klaviyo_sync.outcome import AuditEntry, Failure, Link, Outcome
from klaviyo_sync.store import Store
from klaviyo_sync.store._activity import count_events_query, list_events_query
from klaviyo_sync.store._audit import count_audit_query, list_audit_query
from klaviyo_sync.store._migrate import alembic_config, head_revision
from klaviyo_sync.store._queries import due_retries_query, open_failures_query, parked_query
from klaviyo_sync.store._queue import claim_query, list_queue_query
from klaviyo_sync.store._schema import audit, events, failures, metadata

from .fakes import START, FakeClock

NEW_TABLES = {"queue", "events", "workers"}


def _at_0001(url: str) -> None:
    """A store as klaviyo-sync left it before the queue existed, with a failure in its log."""
    command.upgrade(alembic_config(url=url), "0001")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            assert not NEW_TABLES & set(sa.inspect(conn).get_table_names())
            conn.execute(
                sa.text("INSERT INTO runs (kind, started_at, counts) VALUES ('sync', :t, '{}')"),
                {"t": START.replace(tzinfo=None)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO failures (customer_id, stage, kind, message, retryable, detail,"
                    " attempts, first_seen, last_seen, run_id)"
                    " VALUES ('c1', 'write', 'klaviyo_unavailable', '503', :yes, '{}', 1,"
                    " :t, :t, (SELECT max(id) FROM runs))"
                ),
                {"t": START.replace(tzinfo=None), "yes": True},
            )
    finally:
        engine.dispose()


def test_0002_upgrades_a_0001_store_and_keeps_its_data(shared_url: str, clock: FakeClock) -> None:
    _at_0001(shared_url)
    with Store.open(shared_url, clock=clock) as store:
        assert store.schema_revision() == head_revision()
        (failure,) = store.list_failures()
        assert (failure.customer_id, failure.attempts, failure.next_retry_at) == ("c1", 1, None)
        # Logged before automatic retries existed: never due by itself, parked once out of tries.
        assert store.due_retries(limit=10, max_attempts=5) == []
        assert [f.id for f in store.parked(max_attempts=1)] == [failure.id]

        with store._engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []

        store.enqueue([("c1", {"Id": "c1"}, "customer/updated")])
        store.record_event("customer/updated", customer_id="c1", status="queued")
        store.heartbeat("w1", host="h", pid=1, processed=0)
        store.commit_batch(
            store.start_run("trigger"),
            outcomes=[
                Outcome("c1", "failed", failure=Failure("c1", "write", "rate_limited", "429", True))
            ],
        )
        assert store.list_failures(kind="rate_limited")[0].next_retry_at is not None


def test_0002_downgrades_to_0001_and_back(shared_url: str) -> None:
    Store.open(shared_url).close()
    config = alembic_config(url=shared_url)
    command.downgrade(config, "0001")
    engine = sa.create_engine(shared_url)
    try:
        inspector = sa.inspect(engine)
        assert not NEW_TABLES & set(inspector.get_table_names())
        assert "next_retry_at" not in {c["name"] for c in inspector.get_columns("failures")}
    finally:
        engine.dispose()
    with Store.open(shared_url) as store:
        assert store.schema_revision() == head_revision()


def test_stores_opened_at_once_on_a_new_database_make_the_schema_once(shared_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_and_close() -> None:
        try:
            start.wait()
            Store.open(shared_url).close()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Store.open(shared_url) as store:
        assert store.schema_revision() == head_revision()


def test_the_new_tables_and_their_indexes_exist(store: Store) -> None:
    inspector = sa.inspect(store._engine)
    assert set(inspector.get_table_names()) >= NEW_TABLES
    indexes = {
        table: {ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table)}
        for table in ("queue", "events", "failures")
    }
    assert indexes["queue"]["ix_queue_enqueued_at"] == ["enqueued_at", "id"]
    assert indexes["queue"]["ix_queue_available_at"] == ["available_at", "enqueued_at"]
    assert indexes["events"]["ix_events_received_at"] == ["received_at"]
    assert indexes["events"]["ix_events_status"] == ["status", "received_at"]
    assert indexes["failures"]["ix_failures_resolved_at_next_retry_at"] == [
        "resolved_at",
        "next_retry_at",
    ]


def test_claims_lock_rows_and_skip_locked_ones_on_postgresql() -> None:
    query = claim_query(START, limit=10)
    assert str(query.compile(dialect=postgresql.dialect())).endswith("FOR UPDATE SKIP LOCKED")  # type: ignore[no-untyped-call]
    assert "FOR UPDATE" not in str(query.compile(dialect=sqlite.dialect()))  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def busy_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """5,000 queued customers, 6,000 events, 6,000 audit rows (1,000 customers over 10 runs)
    and 6,000 failures (one open in six) in a SQLite file, for the query-plan tests."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path_factory.mktemp('busy') / 'store.db'}"
    with Store.open(url, clock=clock) as store:
        store.enqueue([(f"c{n:05d}", {"Id": n}, "customer/updated") for n in range(5000)])
        rows = [
            {
                "received_at": START + timedelta(seconds=n // 500),
                "event": "customer/updated",
                "status": ("queued", "ignored", "rejected")[n % 3],
            }
            for n in range(6000)
        ]
        run_ids = [store.start_run("sync") for _ in range(10)]
        changes = [
            {
                "run_id": run_ids[n % 10],
                "customer_id": f"c{n % 1000:05d}",
                "profile_id": f"P{n % 1000}",
                "action": "list_add",
                "list_name": "VIP",
                "before": "absent",
                "after": "member",
                "row": "UCLIST_VIP",
                "recorded_at": START,
            }
            for n in range(6000)
        ]
        errors: list[dict[str, Any]] = [
            {
                "customer_id": f"c{n:05d}",
                "stage": "write",
                "kind": ("conflict", "invalid", "phone_rejected")[n % 3],
                "message": "m",
                "retryable": False,
                "detail": {},
                "attempts": 1,
                "first_seen": START,
                "last_seen": START + timedelta(seconds=n),
                "resolved_at": None if n % 6 == 0 else START + timedelta(seconds=n + 1),
            }
            for n in range(6000)
        ]
        with store._engine.begin() as conn:
            conn.execute(sa.insert(events), rows)
            conn.execute(sa.insert(audit), changes)
            conn.execute(sa.insert(failures), errors)
            conn.exec_driver_sql("ANALYZE")
        yield store


def _plan(store: Store, query: sa.Select[Any]) -> str:
    sql = str(query.compile(store._engine, compile_kwargs={"literal_binds": True}))
    with store._engine.connect() as conn:
        return "\n".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (claim_query(START, limit=100), "ix_queue_enqueued_at"),
        (list_queue_query(limit=50, offset=4000), "ix_queue_enqueued_at"),
        (list_events_query(status=None, limit=50, offset=5000), "ix_events_received_at"),
        (list_events_query(status="ignored", limit=50, offset=1000), "ix_events_status"),
        (count_events_query(status="ignored"), "ix_events_status"),
        (
            due_retries_query(START, limit=100, max_attempts=5),
            "ix_failures_resolved_at_next_retry_at",
        ),
        (parked_query(max_attempts=5, limit=50), "ix_failures_resolved_at_last_seen"),
        (
            list_audit_query(customer_id="c00007", run_id=None, limit=50, offset=0),
            "ix_audit_customer_id",
        ),
        (list_audit_query(customer_id=None, run_id=3, limit=50, offset=100), "ix_audit_run_id"),
        (count_audit_query(customer_id="c00007", run_id=None), "ix_audit_customer_id"),
        (open_failures_query(["c00001", "c00002"], ["conflict"]), "ix_failures_customer_id"),
    ],
    ids=[
        "claim",
        "queue page",
        "events page",
        "events by status",
        "count by status",
        "due",
        "parked",
        "audit of a customer",
        "audit of a run",
        "count audit of a customer",
        "open failures",
    ],
)
def test_claims_and_pages_are_read_in_index_order(
    busy_sqlite: Store, query: sa.Select[Any], index: str
) -> None:
    plan = _plan(busy_sqlite, query)
    assert index in plan, plan
    # The index gives the order: no sorting of the whole queue or log for one page.
    assert "TEMP B-TREE" not in plan, plan


def _at_0002(url: str) -> None:
    """A store as klaviyo-sync left it before the applied state and the audit: a run, a linked
    customer with a fingerprint, and another customer's open conflict."""
    command.upgrade(alembic_config(url=url), "0002")
    engine = sa.create_engine(url)
    t = {"t": START.replace(tzinfo=None)}
    try:
        with engine.begin() as conn:
            assert "audit" not in sa.inspect(conn).get_table_names()
            conn.execute(
                sa.text("INSERT INTO runs (kind, started_at, counts) VALUES ('sync', :t, '{}')"), t
            )
            conn.execute(
                sa.text(
                    "INSERT INTO links (customer_id, profile_id, how, created_at, updated_at)"
                    " VALUES ('c1', 'P1', 'created', :t, :t)"
                ),
                t,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO fingerprints (customer_id, fingerprint, updated_at)"
                    " VALUES ('c1', 'f1', :t)"
                ),
                t,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO failures (customer_id, stage, kind, message, retryable, detail,"
                    " attempts, first_seen, last_seen, run_id)"
                    " VALUES ('c2', 'match', 'conflict', 'two profiles', :no, '{}', 1,"
                    " :t, :t, (SELECT max(id) FROM runs))"
                ),
                {**t, "no": False},
            )
    finally:
        engine.dispose()


def test_0003_upgrades_a_0002_store_and_keeps_its_data(shared_url: str, clock: FakeClock) -> None:
    _at_0002(shared_url)
    with Store.open(shared_url, clock=clock) as store:
        assert store.schema_revision() == head_revision()
        with store._engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        # A fingerprint from before has no applied state; the engine then plans without one.
        assert store.get_fingerprints(["c1"]) == {"c1": "f1"}
        assert store.get_applied(["c1"]) == {}
        assert store.count_audit() == 0

        run_id = store.start_run("sync")
        store.commit_batch(
            run_id, outcomes=[Outcome("c1", "updated", "P1")], fingerprints={"c1": "f2"}
        )
        assert store.get_applied(["c1"]) == {}
        store.commit_batch(
            run_id,
            outcomes=[Outcome("c1", "updated", "P1")],
            fingerprints={"c1": "f3"},
            applied={"c1": {"email": "a@example.com"}},
            audit=[AuditEntry("c1", "P1", "subscribe", "never", "subscribed", "SubscribeProfile")],
        )
        assert store.get_applied(["c1"]) == {"c1": {"email": "a@example.com"}}
        assert [a.run_id for a in store.list_audit(customer_id="c1")] == [run_id]

        (conflict,) = store.open_failures(["c2"], kinds=["conflict"]).values()
        store.link_by_hand(conflict.id, "P2", note="chose P2")
        assert store.get_link("c2") == Link("c2", "P2", "conflict", START, START)


def test_0003_downgrades_to_0002_and_back(shared_url: str, clock: FakeClock) -> None:
    with Store.open(shared_url, clock=clock) as store:
        run_id = store.start_run("sync")
        store.commit_batch(
            run_id,
            outcomes=[Outcome("c1", "created", "P1")],
            fingerprints={"c1": "f1"},
            applied={"c1": {"email": "a@example.com"}},
            audit=[AuditEntry("c1", "P1", "list_add", "absent", "member", "UCLIST_VIP", "VIP")],
        )
    command.downgrade(alembic_config(url=shared_url), "0002")
    engine = sa.create_engine(shared_url)
    try:
        inspector = sa.inspect(engine)
        assert "audit" not in inspector.get_table_names()
        assert "applied" not in {c["name"] for c in inspector.get_columns("fingerprints")}
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT customer_id, fingerprint FROM fingerprints"))
            assert [tuple(row) for row in kept] == [("c1", "f1")]
    finally:
        engine.dispose()
    with Store.open(shared_url, clock=clock) as store:
        assert store.schema_revision() == head_revision()
        assert store.get_fingerprints(["c1"]) == {"c1": "f1"}
        assert store.get_applied(["c1"]) == {}
        assert store.count_audit() == 0


def test_the_audit_table_and_its_indexes_exist(store: Store) -> None:
    inspector = sa.inspect(store._engine)
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("audit")}
    assert indexes == {"ix_audit_customer_id": ["customer_id", "id"], "ix_audit_run_id": ["run_id"]}
    (fk,) = inspector.get_foreign_keys("audit")
    assert (fk["referred_table"], fk["options"].get("ondelete")) == ("runs", "SET NULL")
    columns = {c["name"]: c["nullable"] for c in inspector.get_columns("audit")}
    assert {name for name, nullable in columns.items() if nullable} == {"run_id", "list_name"}
    applied = {c["name"]: c for c in inspector.get_columns("fingerprints")}["applied"]
    assert applied["nullable"] is True
