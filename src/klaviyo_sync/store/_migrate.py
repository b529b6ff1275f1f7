"""Create or upgrade the store's schema with the Alembic revisions shipped in ``migrations/``.

No ``alembic.ini`` is needed: the configuration is built here and the open connection is handed
to ``migrations/env.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from ._engine import write_transaction
from ._errors import StoreError, one_line

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "head_revision", "upgrade_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")

# Alembic keeps the migration it runs in module globals: one upgrade per process at a time.
_UPGRADE_LOCK = threading.Lock()
# Our key for PostgreSQL's advisory lock (any 64-bit number no other tool uses on the database).
_PG_SCHEMA_LOCK = 0x6B6C_7379_6E63  # "klsync"


def alembic_config(connection: sa.Connection | None = None, *, url: str | None = None) -> Config:
    """Alembic's configuration for the shipped revisions, bound to ``connection`` or ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store ships at least one revision"
    return head


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(engine: sa.Engine, *, where: str) -> bool:
    """Bring the schema to the newest revision; False, having written nothing, if it is there.

    ``where`` names the store in errors.
    """
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return False
    try:
        # The write lock makes a second process opening a new store wait, then find it made.
        with _UPGRADE_LOCK, write_transaction(engine) as conn:
            _lock_schema(conn)
            if current_revision(conn) == head:
                return False
            command.upgrade(alembic_config(conn), "head")
    except CommandError as err:
        raise StoreError(
            f"cannot upgrade the store at {where}: {one_line(err)} "
            "(was it written by a newer klaviyo-sync?)"
        ) from None
    return True


def _lock_schema(conn: sa.Connection) -> None:
    """Hold the database's schema lock until the transaction ends.

    SQLite's is the write lock ``write_transaction`` took at BEGIN. PostgreSQL has no such lock
    for a whole database: an advisory lock stands in, or two workers starting on a new database
    would both create its tables and one would fail.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
