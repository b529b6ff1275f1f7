"""The audit: every consent or list change the engine made, written with its batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from ..outcome import AuditAction, AuditEntry
from ._records import AuditRecord
from ._schema import audit

__all__ = ["audit_record", "count_audit_query", "insert_audit", "list_audit_query"]


def insert_audit(
    conn: sa.Connection, run_id: int, now: datetime, entries: Sequence[AuditEntry]
) -> None:
    """One row per entry, in the order given (so ids follow the order the changes were made)."""
    rows = [
        {
            "run_id": run_id,
            "customer_id": e.customer_id,
            "profile_id": e.profile_id,
            "action": e.action,
            "list_name": e.list_name,
            "before": e.before,
            "after": e.after,
            "row": e.row,
            "recorded_at": now,
        }
        for e in entries
    ]
    if rows:
        conn.execute(sa.insert(audit), rows)


def _filters(*, customer_id: str | None, run_id: int | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if customer_id is not None:
        where.append(audit.c.customer_id == customer_id)
    if run_id is not None:
        where.append(audit.c.run_id == run_id)
    return where


def list_audit_query(
    *, customer_id: str | None, run_id: int | None, limit: int, offset: int
) -> sa.Select[Any]:
    """Newest first. Ids grow in the order changes are recorded, so they alone give the order."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
    return (
        sa.select(audit)
        .where(*_filters(customer_id=customer_id, run_id=run_id))
        .order_by(audit.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def count_audit_query(*, customer_id: str | None, run_id: int | None) -> sa.Select[Any]:
    return (
        sa.select(sa.func.count())
        .select_from(audit)
        .where(*_filters(customer_id=customer_id, run_id=run_id))
    )


def audit_record(row: sa.Row[Any]) -> AuditRecord:
    # By name through the mapping: a Row is a tuple, and a column could shadow its methods.
    m = row._mapping
    return AuditRecord(
        id=m["id"],
        run_id=m["run_id"],
        customer_id=m["customer_id"],
        profile_id=m["profile_id"],
        action=cast(AuditAction, m["action"]),
        list_name=m["list_name"],
        before=m["before"],
        after=m["after"],
        row=m["row"],
        recorded_at=m["recorded_at"],
    )
