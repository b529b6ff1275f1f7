"""The durable queue, the event log, worker heartbeats, and when a failure is retried.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in _schema.py: a revision must not change when the code does.
_TIME = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nullable, so SQLite adds it in place; failures already logged get no automatic retry.
    op.add_column("failures", sa.Column("next_retry_at", _TIME, nullable=True))
    op.create_index(
        "ix_failures_resolved_at_next_retry_at", "failures", ["resolved_at", "next_retry_at"]
    )

    op.create_table(
        "queue",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("enqueued_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("available_at", _TIME, nullable=False),
        sa.Column("leased_by", sa.String, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_queue"),
        sa.UniqueConstraint("customer_id", name="uq_queue_customer_id"),
    )
    op.create_index("ix_queue_enqueued_at", "queue", ["enqueued_at", "id"])
    op.create_index("ix_queue_available_at", "queue", ["available_at", "enqueued_at"])
    op.create_index("ix_queue_lease_until", "queue", ["lease_until"])

    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("customer_id", sa.String, nullable=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_received_at", "events", ["received_at"])
    op.create_index("ix_events_status", "events", ["status", "received_at"])

    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("last_seen", _TIME, nullable=False),
        sa.Column("processed", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_workers"),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"])


def downgrade() -> None:
    for table in ("workers", "events", "queue"):
        op.drop_table(table)
    op.drop_index("ix_failures_resolved_at_next_retry_at", table_name="failures")
    # SQLite cannot drop a column in place on old builds: batch mode copies the table.
    with op.batch_alter_table("failures") as batch:
        batch.drop_column("next_retry_at")
