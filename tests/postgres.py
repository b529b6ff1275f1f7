"""Where the PostgreSQL tests find their server, and what happens when it is missing.

``KLAVIYO_SYNC_TEST_POSTGRES`` names a database the tests may create and drop their own tables
in (default: the local server with trust auth, database ``test``). Without a reachable server
the PostgreSQL tests skip with the reason on a developer's machine, and FAIL in CI (``CI`` set),
so a green CI run always means they ran.
"""

from __future__ import annotations

import os
from functools import cache

import pytest
import sqlalchemy as sa

from klaviyo_sync.store._schema import metadata

POSTGRES_URL = os.environ.get(
    "KLAVIYO_SYNC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRED = bool(os.environ.get("CI"))


@cache
def postgres_problem() -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        engine = sa.create_engine(POSTGRES_URL)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except Exception as err:  # any driver or connection failure means "not available"
        return f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return None


def require_postgres() -> str:
    """The URL, or skip (developer machine) / fail (CI) saying why the server is missing."""
    problem = postgres_problem()
    if problem is None:
        return POSTGRES_URL
    message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
    if REQUIRED:
        pytest.fail(message + "; CI must run the PostgreSQL tests")
    pytest.skip(message)


def postgres_wanted() -> bool:
    """Whether to collect PostgreSQL variants: when reachable, and always in CI."""
    return REQUIRED or postgres_problem() is None


def fresh_postgres() -> str:
    """``require_postgres``'s URL with the store's tables dropped, for a test that opens a
    store there and wants it empty."""
    url = require_postgres()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        engine.dispose()
    return url
