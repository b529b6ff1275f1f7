"""Webhook ids seen lately, revoked dashboard sessions and failed logins per client.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the type in _schema.py: a revision must not change when the code does.
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_ids",
        sa.Column("webhook_id", sa.String, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_webhook_ids"),
    )
    op.create_index("ix_webhook_ids_received_at", "webhook_ids", ["received_at"])
    op.create_table(
        "revoked_sessions",
        sa.Column("sid", sa.String, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("sid", name="pk_revoked_sessions"),
    )
    op.create_index("ix_revoked_sessions_expires_at", "revoked_sessions", ["expires_at"])
    op.create_table(
        "login_failures",
        sa.Column("client", sa.String, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("client", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_last_at", "login_failures", ["last_at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("revoked_sessions")
    op.drop_table("webhook_ids")
