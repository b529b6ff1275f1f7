"""The store's tables, as SQLAlchemy Core metadata.

This is what the code queries; ``migrations/`` is what creates it. A test checks the two agree,
so a change here needs a new revision there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

__all__ = [
    "UTCDateTime",
    "audit",
    "events",
    "failures",
    "fingerprints",
    "links",
    "login_failures",
    "metadata",
    "outcomes",
    "queue",
    "revoked_sessions",
    "runs",
    "webhook_ids",
    "workers",
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
    # What was last applied to the profile, as JSON; NULL for rows stored before it was kept.
    # none_as_null: a Python None is SQL NULL, never the JSON text 'null'.
    sa.Column("applied", sa.JSON(none_as_null=True), nullable=True),
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
    # Set for open retryable failures only: when the worker tries the customer again.
    sa.Column("next_retry_at", UTCDateTime, nullable=True),
    # The error log's default view: open failures, newest first.
    sa.Index("ix_failures_resolved_at_last_seen", "resolved_at", "last_seen"),
    # The same view with resolved ones included.
    sa.Index("ix_failures_last_seen", "last_seen"),
    # Filtered by kind, open or not, newest first; also counts per kind.
    sa.Index("ix_failures_kind", "kind", "resolved_at", "last_seen"),
    # A customer's failures: the upsert in commit_batch and auto-resolve look them up.
    sa.Index("ix_failures_customer_id", "customer_id", "kind"),
    # The worker's scan for retries that are due: open ones, soonest first.
    sa.Index("ix_failures_resolved_at_next_retry_at", "resolved_at", "next_retry_at"),
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

# Work waiting for a worker: one row per customer, holding the latest record received. ``id``
# is the place in line (kept when a newer record replaces the queued one); ``version`` counts
# the records that replaced each other, so an ack can tell whether a newer one arrived while
# the claimed one ran.
queue = sa.Table(
    "queue",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("customer_id", sa.String, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("event", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("enqueued_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("available_at", UTCDateTime, nullable=False),
    sa.Column("leased_by", sa.String, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.UniqueConstraint("customer_id", name="uq_queue_customer_id"),
    # The line itself: claims and the dashboard's pages walk it oldest first.
    sa.Index("ix_queue_enqueued_at", "enqueued_at", "id"),
    # Counting what waits for a retry delay.
    sa.Index("ix_queue_available_at", "available_at", "enqueued_at"),
    # Counting what workers hold.
    sa.Index("ix_queue_lease_until", "lease_until"),
)

# Every webhook event received, and what became of it.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("event", sa.String, nullable=False),
    sa.Column("customer_id", sa.String, nullable=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    # Newest first, all of them or one status.
    sa.Index("ix_events_received_at", "received_at"),
    sa.Index("ix_events_status", "status", "received_at"),
)

# The last heartbeat of each worker process.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String, primary_key=True),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("processed", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Index("ix_workers_last_seen", "last_seen"),
)

# Every consent or list change the engine made: who, which profile, before and after, and the
# mapping row's destination that asked for it.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    sa.Column("customer_id", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=False),
    # subscribe | unsubscribe | list_add | list_remove
    sa.Column("action", sa.String, nullable=False),
    sa.Column("list_name", sa.String, nullable=True),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("row", sa.Text, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    # A customer's changes, newest first.
    sa.Index("ix_audit_customer_id", "customer_id", "id"),
    # A run's changes.
    sa.Index("ix_audit_run_id", "run_id"),
)

# The ``webhook-id`` of every webhook accepted lately, so a second delivery of the same message
# (a sender's retry, or a replay within the timestamp tolerance) is acknowledged, not queued.
webhook_ids = sa.Table(
    "webhook_ids",
    metadata,
    sa.Column("webhook_id", sa.String, primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # Forgetting the old ones.
    sa.Index("ix_webhook_ids_received_at", "received_at"),
)

# Dashboard sessions signed out before their cookie expires: kept until it would have.
revoked_sessions = sa.Table(
    "revoked_sessions",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_revoked_sessions_expires_at", "expires_at"),
)

# Wrong dashboard tokens per client address, so every `serve` process slows the same guesser.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("client", sa.String, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Index("ix_login_failures_last_at", "last_at"),
)
