"""Insert-or-update through the dialect's own ``INSERT … ON CONFLICT``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ._errors import StoreError

__all__ = ["upsert"]


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows``; a row whose ``key`` exists updates the ``update`` columns instead.

    Rows with the same key keep the last: PostgreSQL refuses to update one row twice in a
    statement.
    """
    unique = list({tuple(row[k] for k in key): row for row in rows}.values())
    if unique:
        conn.execute(upsert_statement(conn.dialect, table, key=key, update=update), unique)


def upsert_statement(
    dialect: sa.Dialect, table: sa.Table, *, key: Sequence[str], update: Sequence[str]
) -> sa.Insert:
    index = [table.c[k] for k in key]
    if dialect.name == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=index, set_={c: lite.excluded[c] for c in update}
        )
    if dialect.name == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=index, set_={c: pg.excluded[c] for c in update}
        )
    raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect.name}")
