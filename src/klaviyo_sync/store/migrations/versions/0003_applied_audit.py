"""The applied state beside each fingerprint, and the audit of consent and list changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in _schema.py: a revision must not change when the code does.
_TIME = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nullable, so SQLite adds it in place; fingerprints stored before have no applied state.
    op.add_column("fingerprints", sa.Column("applied", sa.JSON, nullable=True))

    op.create_table(
        "audit",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("customer_id", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("list_name", sa.String, nullable=True),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("recorded_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_audit_run_id_runs", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_audit_customer_id", "audit", ["customer_id", "id"])
    op.create_index("ix_audit_run_id", "audit", ["run_id"])


def downgrade() -> None:
    op.drop_table("audit")
    # SQLite cannot drop a column in place on old builds: batch mode copies the table.
    with op.batch_alter_table("fingerprints") as batch:
        batch.drop_column("applied")
