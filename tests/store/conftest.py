"""Store fixtures, run once per backend.

SQLite as a file and in memory always; PostgreSQL as well when ``KLAVIYO_SYNC_TEST_PG_URL``
names a database the tests may empty (for example
``postgresql+psycopg://klaviyo@127.0.0.1:5432/klaviyo_sync_test``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from klaviyo_sync.store import Store
from klaviyo_sync.store._schema import metadata

from .fakes import FakeClock

PG_URL = os.environ.get("KLAVIYO_SYNC_TEST_PG_URL", "")
BACKENDS = ["sqlite-file", "sqlite-memory", *(["postgresql"] if PG_URL else [])]


def _empty_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    backend: str = request.param
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if backend == "sqlite-memory":
        return "sqlite:///:memory:"
    _empty_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(store_url, clock=clock) as opened:
        yield opened
