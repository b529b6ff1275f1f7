"""Where the PostgreSQL tests find their server, and what happens when it is missing.

``KLAVIYO_SYNC_TEST_POSTGRES`` names a database the tests may create and drop their own tables
in (default: the local server with trust auth, database ``test``). Without a reachable server
the PostgreSQL tests skip with the reason on a developer's machine, and FAIL in CI (``CI`` set),
so a green CI run always means they ran.

Every test that reaches the server carries the ``postgres`` marker, so ``make unit`` (``-m "not
postgres and ..."``) leaves it out: backends parametrized with ``with_postgres`` get it on their
PostgreSQL variant, a test that asks for the server itself has ``@pytest.mark.postgres``, and
``require_postgres`` fails a test that reaches the server without it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import pytest
import sqlalchemy as sa

from klaviyo_sync.store._schema import metadata

POSTGRES_URL = os.environ.get(
    "KLAVIYO_SYNC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRED = bool(os.environ.get("CI"))

running: list[pytest.Item] = []
"""The test being set up, run or torn down (tests/conftest.py keeps it), for the check that it
is marked ``postgres``."""


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
    if running and running[0].get_closest_marker("postgres") is None:
        pytest.fail(
            f"{running[0].nodeid} uses PostgreSQL but is not marked postgres: parametrize its"
            " backends with tests.postgres.with_postgres, or mark it @pytest.mark.postgres",
            pytrace=False,
        )
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


def with_postgres(*backends: str) -> list[Any]:
    """``backends``, then ``"postgresql"`` marked ``postgres`` when it is wanted: the parameters
    of a fixture or test run once per backend."""
    postgres = pytest.param("postgresql", marks=pytest.mark.postgres)
    return [*backends, *([postgres] if postgres_wanted() else [])]


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
