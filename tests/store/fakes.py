"""Test doubles and probes for the store's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from klaviyo_sync.store import Store

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@contextmanager
def statements_from(store: Store, table: str) -> Iterator[list[str]]:
    """The SQL statements ``store`` sends that read ``table`` while the block runs."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if f"FROM {table}" in statement:
            seen.append(statement)

    sa.event.listen(store._engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", record)
