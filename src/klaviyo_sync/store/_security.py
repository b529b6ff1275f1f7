"""What the receivers and the dashboard remember across restarts and processes: webhook ids
delivered lately, sessions signed out, and wrong tokens per client address.

Kept in the store, not in memory, so a restarted ``serve`` or a second one behind the same load
balancer knows as much as the first. Every table here forgets its old rows by itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ._errors import StoreError
from ._schema import login_failures, revoked_sessions, webhook_ids

__all__ = [
    "clear_login_failures",
    "count_login_failures",
    "is_revoked",
    "note_login_failure",
    "remember_webhook",
    "revoke",
]


def remember_webhook(
    conn: sa.Connection, now: datetime, webhook_id: str, *, keep_for: timedelta
) -> bool:
    """Note ``webhook_id`` as delivered now; False when it was delivered within ``keep_for``.

    Two receivers given the same id at once: PostgreSQL makes the second insert wait for the
    first transaction, then finds the row, so exactly one of them says True.
    """
    conn.execute(sa.delete(webhook_ids).where(webhook_ids.c.received_at < now - keep_for))
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT here.
    inserted = conn.execute(
        _insert_new(conn.dialect, webhook_ids).returning(webhook_ids.c.webhook_id),
        {"webhook_id": webhook_id, "received_at": now},
    )
    return inserted.first() is not None


def revoke(conn: sa.Connection, now: datetime, sid: str, *, expires_at: datetime) -> None:
    """Sign session ``sid`` out until ``expires_at``, when its cookie stops working anyway."""
    conn.execute(sa.delete(revoked_sessions).where(revoked_sessions.c.expires_at <= now))
    if expires_at > now:
        conn.execute(
            _insert_new(conn.dialect, revoked_sessions), {"sid": sid, "expires_at": expires_at}
        )


def is_revoked(conn: sa.Connection, now: datetime, sid: str) -> bool:
    query = sa.select(sa.literal(1)).where(
        revoked_sessions.c.sid == sid, revoked_sessions.c.expires_at > now
    )
    return conn.execute(query).first() is not None


def note_login_failure(
    conn: sa.Connection, now: datetime, client: str, *, forget_after: timedelta
) -> int:
    """Count one more wrong token from ``client``; returns its failures in a row.

    A client quiet for ``forget_after`` starts from one again.
    """
    conn.execute(sa.delete(login_failures).where(login_failures.c.last_at < now - forget_after))
    row = conn.execute(
        sa.select(login_failures.c.failures).where(login_failures.c.client == client)
    ).first()
    failures = 1 if row is None else int(row.failures) + 1
    if row is None:
        conn.execute(
            _insert_new(conn.dialect, login_failures),
            {"client": client, "failures": failures, "last_at": now},
        )
    else:
        conn.execute(
            sa.update(login_failures)
            .where(login_failures.c.client == client)
            .values(failures=login_failures.c.failures + 1, last_at=now)
        )
    return failures


def count_login_failures(
    conn: sa.Connection, now: datetime, client: str, *, forget_after: timedelta
) -> tuple[int, datetime | None]:
    """``client``'s wrong tokens in a row and when the last came, or (0, None)."""
    row = conn.execute(
        sa.select(login_failures.c.failures, login_failures.c.last_at).where(
            login_failures.c.client == client, login_failures.c.last_at >= now - forget_after
        )
    ).first()
    return (0, None) if row is None else (int(row.failures), row.last_at)


def clear_login_failures(conn: sa.Connection, client: str) -> None:
    conn.execute(sa.delete(login_failures).where(login_failures.c.client == client))


def _insert_new(dialect: sa.Dialect, table: sa.Table) -> sa.Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: a row whose key exists is left as it is."""
    if dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect.name}")
