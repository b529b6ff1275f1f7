"""Upserts and searches render to each dialect's own SQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from klaviyo_sync.store import FailureFilter, StoreError
from klaviyo_sync.store._queries import list_failures_query
from klaviyo_sync.store._schema import links
from klaviyo_sync.store._upsert import upsert_statement


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])  # type: ignore[no-untyped-call]
def test_upsert_is_insert_on_conflict_update(dialect: sa.Dialect) -> None:
    sql = str(
        upsert_statement(dialect, links, key=["customer_id"], update=["profile_id"]).compile(
            dialect=dialect
        )
    )
    assert sql.startswith("INSERT INTO links")
    assert "ON CONFLICT (customer_id) DO UPDATE SET profile_id = excluded.profile_id" in sql
    assert "created_at" not in sql.split("DO UPDATE")[1]


def test_another_database_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match="not mysql"):
        upsert_statement(mysql.dialect(), links, key=["customer_id"], update=["how"])


def test_search_is_case_insensitive_on_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = str(list_failures_query(FailureFilter(text="Phone")).compile(dialect=dialect))
    assert "ILIKE" in sql
    assert "ORDER BY failures.last_seen DESC, failures.id DESC" in sql
