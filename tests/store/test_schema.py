"""Opening a store creates its schema once, with Alembic, and sets SQLite up for batch writes."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from klaviyo_sync.outcome import Link, Outcome
from klaviyo_sync.store import Store, StoreError
from klaviyo_sync.store._engine import create_store_engine, display_url
from klaviyo_sync.store._migrate import alembic_config, head_revision, upgrade_schema
from klaviyo_sync.store._schema import metadata

from .fakes import FakeClock

TABLES = {"alembic_version", "audit", "failures", "fingerprints", "links", "outcomes", "runs"}


def test_open_creates_every_table_and_records_the_revision(store: Store) -> None:
    inspector = sa.inspect(store._engine)
    assert set(inspector.get_table_names()) >= TABLES
    with store._engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == head_revision() == store.schema_revision()


def test_indexes_for_the_dashboard_and_cli_exist(store: Store) -> None:
    inspector = sa.inspect(store._engine)
    indexes = {
        table: {ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table)}
        for table in ("failures", "outcomes", "links")
    }
    assert indexes["failures"]["ix_failures_resolved_at_last_seen"] == ["resolved_at", "last_seen"]
    assert indexes["failures"]["ix_failures_kind"][0] == "kind"
    assert indexes["failures"]["ix_failures_customer_id"][0] == "customer_id"
    assert indexes["outcomes"]["ix_outcomes_run_id"] == ["run_id"]
    assert indexes["links"]["ix_links_profile_id"] == ["profile_id"]


def test_the_migration_builds_exactly_the_schema_the_code_queries(store: Store) -> None:
    with store._engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_reopening_keeps_the_data_and_writes_nothing(file_url: str, clock: FakeClock) -> None:
    with Store.open(file_url, clock=clock) as first:
        run_id = first.start_run("sync")
        first.commit_batch(
            run_id,
            outcomes=[Outcome("c1", "created", "P1")],
            links=[Link("c1", "P1", "created")],
        )

    engine = create_store_engine(file_url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        assert upgrade_schema(engine, where=file_url) is False
    finally:
        engine.dispose()
    # Only reads: no write lock taken (BEGIN IMMEDIATE), nothing created or changed.
    reads = ("SELECT", "PRAGMA")
    assert [s for s in statements if s != "BEGIN" and not s.upper().startswith(reads)] == []

    with Store.open(file_url, clock=clock) as second:
        assert second.get_link("c1") == Link("c1", "P1", "created", clock.now, clock.now)
        assert second.schema_revision() == head_revision()


def test_sqlite_has_foreign_keys_and_wal(file_url: str) -> None:
    with Store.open(file_url) as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_in_memory_store_is_one_database_for_every_connection() -> None:
    with Store.open("sqlite:///:memory:") as store:
        run_id = store.start_run("sync")
        assert store.get_run(run_id) is not None
        assert store.url_for_display == "sqlite:///:memory:"


def test_display_url_hides_the_password() -> None:
    shown = display_url("postgresql+psycopg://sync:s3cret@db.internal:5432/klaviyo")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://sync:***@db.internal:5432/klaviyo"


def test_a_url_that_is_not_one_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a SQLAlchemy URL"):
        Store.open("klaviyo-sync.db")


def test_a_store_in_a_missing_folder_names_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'store.db'}"
    with pytest.raises(StoreError, match=r"cannot open the store at .*missing/store\.db"):
        Store.open(url)


def test_a_store_from_a_newer_version_is_refused(file_url: str) -> None:
    Store.open(file_url).close()
    engine = sa.create_engine(file_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer klaviyo-sync"):
        Store.open(file_url)


def test_the_migration_renders_for_postgresql() -> None:
    # The real PostgreSQL run needs a server (tests/postgres.py); the SQL needs none.
    out = io.StringIO()
    config = alembic_config(url="postgresql+psycopg://user@localhost/klaviyo")
    config.output_buffer = out
    command.upgrade(config, "head", sql=True)
    sql = out.getvalue()
    assert "CREATE TABLE failures" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "id BIGSERIAL NOT NULL" in sql
    assert "CREATE INDEX ix_failures_resolved_at_last_seen" in sql
    assert "ALTER TABLE fingerprints ADD COLUMN applied JSON" in sql
    assert "CREATE TABLE audit" in sql
    assert "CREATE INDEX ix_audit_customer_id ON audit (customer_id, id)" in sql
    assert "INSERT INTO alembic_version" in sql


def test_stores_opened_at_once_on_a_new_file_make_the_schema_once(file_url: str) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            Store.open(file_url).close()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store.open(file_url) as store:
        assert store.schema_revision() == head_revision()
