"""Engines for a store URL: SQLite set up for a tool that writes in batches, others as they come."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from ._errors import StoreError, one_line

__all__ = ["create_store_engine", "display_url", "parse_url", "write_transaction"]

# Execution option that makes a SQLite transaction take the write lock at BEGIN.
_WRITE = "klaviyo_sync_write"


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(
            f"store URL {url!r} is not a SQLAlchemy URL (for example sqlite:///klaviyo-sync.db)"
        ) from None


def display_url(url: str) -> str:
    """The URL with its password hidden, safe for logs and messages."""
    parsed = parse_url(url)
    # Rendering escapes characters (":memory:" becomes "%3Amemory%3A"): only when needed.
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def create_store_engine(url: str | URL) -> sa.Engine:
    parsed = url if isinstance(url, URL) else parse_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if _is_memory(parsed):
            # One connection for everyone, or each checkout would see its own empty database.
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        kwargs = {"pool_pre_ping": True}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as err:
        where = parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot use the store at {where}: {one_line(err)}") from None
    if engine.dialect.name == "sqlite":
        _set_up_sqlite(engine)
    return engine


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction meant to write: committed at the end, rolled back on any error."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _set_up_sqlite(engine: sa.Engine) -> None:
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # sqlite3's own transaction handling skips BEGIN before SELECT and DDL; SQLAlchemy emits
    # BEGIN itself (below) so a batch's reads and writes share one transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Wait for another writer instead of failing at once (sqlite3's default is 5 s).
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _enable_wal(cursor: Any, attempts: int = 40) -> None:
    """WAL lets the dashboard read while a run writes.

    Switching a new file to WAL needs a moment alone with it, and SQLite reports "database is
    locked" at once rather than through the busy timeout when other connections are opening
    the same new file; the mode sticks to the file, so wait briefly and look again.
    """
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def _on_sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the lock up front: a deferred one that reads first and writes
    # later fails with "database is locked" instead of waiting when another writer got in between.
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
