"""The first schema: links, fingerprints, runs, failures and outcomes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in _schema.py: a revision must not change when the code does.
_TIME = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("customer_id", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("how", sa.String, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_links"),
    )
    op.create_index("ix_links_profile_id", "links", ["profile_id"])

    op.create_table(
        "fingerprints",
        sa.Column("customer_id", sa.String, nullable=False),
        sa.Column("fingerprint", sa.String, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_fingerprints"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )

    op.create_table(
        "failures",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String, nullable=True),
        sa.Column("stage", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("retryable", sa.Boolean, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_seen", _TIME, nullable=False),
        sa.Column("last_seen", _TIME, nullable=False),
        sa.Column("resolved_at", _TIME, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_failures"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_failures_run_id_runs", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_failures_resolved_at_last_seen", "failures", ["resolved_at", "last_seen"])
    op.create_index("ix_failures_last_seen", "failures", ["last_seen"])
    op.create_index("ix_failures_kind", "failures", ["kind", "resolved_at", "last_seen"])
    op.create_index("ix_failures_customer_id", "failures", ["customer_id", "kind"])

    op.create_table(
        "outcomes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=True),
        sa.Column("route", sa.String, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("failure_id", _BIG_ID, nullable=True),
        sa.Column("recorded_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_outcomes_run_id_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["failure_id"],
            ["failures.id"],
            name="fk_outcomes_failure_id_failures",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_outcomes_run_id", "outcomes", ["run_id"])
    op.create_index("ix_outcomes_customer_id", "outcomes", ["customer_id"])


def downgrade() -> None:
    for table in ("outcomes", "failures", "runs", "fingerprints", "links"):
        op.drop_table(table)
