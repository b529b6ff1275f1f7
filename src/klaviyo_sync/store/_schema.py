"""The store's tables, as SQLAlchemy Core metadata.

This is what the code queries; ``migrations/`` is what creates it. A test checks the two agree,
so a change here needs a new revision there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

__all__ = [
    "UTCDateTime",
    "failures",
    "fingerprints",
    "links",
    "metadata",
    "outcomes",
    "runs",
]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that takes only aware datetimes and always gives back UTC.

    SQLite keeps datetimes as text without an offset, so every value is stored in UTC: then text
    order is time order and ``last_seen`` can be sorted by an index.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Outcomes and failures grow with every run: 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY
# KEY is already 64-bit and must stay INTEGER to be the rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("customer_id", sa.String, primary_key=True),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("how", sa.String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_links_profile_id", "profile_id"),
)

fingerprints = sa.Table(
    "fingerprints",
    metadata,
    sa.Column("customer_id", sa.String, primary_key=True),
    sa.Column("fingerprint", sa.String, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("counts", sa.JSON, nullable=False),
)

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("customer_id", sa.String, nullable=True),
    sa.Column("stage", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    # The error log's default view: open failures, newest first.
    sa.Index("ix_failures_resolved_at_last_seen", "resolved_at", "last_seen"),
    # The same view with resolved ones included.
    sa.Index("ix_failures_last_seen", "last_seen"),
    # Filtered by kind, open or not, newest first; also counts per kind.
    sa.Index("ix_failures_kind", "kind", "resolved_at", "last_seen"),
    # A customer's failures: the upsert in commit_batch and auto-resolve look them up.
    sa.Index("ix_failures_customer_id", "customer_id", "kind"),
)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("customer_id", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=True),
    sa.Column("route", sa.String, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column(
        "failure_id", BigId, sa.ForeignKey("failures.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_outcomes_run_id", "run_id"),
    sa.Index("ix_outcomes_customer_id", "customer_id"),
)
