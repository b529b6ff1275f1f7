"""Store fixtures, run once per backend.

SQLite as a file and in memory always; PostgreSQL as well when it is reachable, and always in
CI (see ``tests/postgres.py``: ``KLAVIYO_SYNC_TEST_POSTGRES`` names the database, whose store
tables the tests drop and recreate).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from klaviyo_sync.store import Store
from tests.postgres import fresh_postgres, with_postgres

from .fakes import FakeClock

BACKENDS = with_postgres("sqlite-file", "sqlite-memory")
# Backends several connections (threads, processes) can share.
SHARED_BACKENDS = with_postgres("sqlite-file")


def _url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if backend == "sqlite-memory":
        return "sqlite:///:memory:"
    return fresh_postgres()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request.param, tmp_path)


@pytest.fixture(params=SHARED_BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several Store objects open at once: a SQLite file or PostgreSQL."""
    return _url(request.param, tmp_path)


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
