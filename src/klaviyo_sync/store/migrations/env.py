"""Alembic's entry point for the store's revisions.

``Store.open`` passes its open connection in ``config.attributes["connection"]``; a developer
running Alembic by hand passes ``sqlalchemy.url`` instead (offline mode prints the SQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from klaviyo_sync.store._engine import create_store_engine
from klaviyo_sync.store._schema import metadata


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite can alter few things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give the store's URL as sqlalchemy.url, or a connection")
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
