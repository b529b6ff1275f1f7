"""What the store gives back: runs, failures, the audit, queued work, events and workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from ..outcome import AuditAction, Failure, FailureKind, Stage

__all__ = [
    "EVENT_STATUSES",
    "AuditRecord",
    "EventRecord",
    "EventStatus",
    "FailureRecord",
    "QueueEntry",
    "QueueItem",
    "QueueStats",
    "RunRecord",
    "WorkerRecord",
]

EventStatus = Literal["queued", "ignored", "rejected", "duplicate"]
EVENT_STATUSES: tuple[EventStatus, ...] = get_args(EventStatus)


@dataclass(slots=True, frozen=True)
class RunRecord:
    """One run: what started it, when, and its counts per outcome once finished."""

    id: int
    kind: str
    source: str | None
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]


@dataclass(slots=True, frozen=True)
class FailureRecord:
    """An error-log entry. ``attempts`` counts the runs that met it; ``run_id`` is the last one.

    ``next_retry_at`` is when the worker tries an open retryable failure again (None for the
    others, and for one already back in the queue).
    """

    id: int
    customer_id: str | None
    stage: Stage
    kind: FailureKind
    message: str
    retryable: bool
    detail: dict[str, Any]
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolution: str | None
    run_id: int | None
    next_retry_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def to_failure(self) -> Failure:
        return Failure(
            customer_id=self.customer_id,
            stage=self.stage,
            kind=self.kind,
            message=self.message,
            retryable=self.retryable,
            detail=dict(self.detail),
        )


@dataclass(slots=True, frozen=True)
class AuditRecord:
    """A consent or list change as the audit keeps it: the engine's ``AuditEntry``, with the
    run that made it and when it was recorded (``run_id`` is None once that run is deleted)."""

    id: int
    run_id: int | None
    customer_id: str
    profile_id: str
    action: AuditAction
    list_name: str | None
    before: str
    after: str
    row: str
    recorded_at: datetime


@dataclass(slots=True, frozen=True)
class QueueItem:
    """A customer's queued work as a worker claimed it.

    ``version`` counts the records that replaced each other in the queue; ``ack`` compares it to
    tell whether a newer record arrived while this one ran. ``attempts`` counts the releases of
    this version.
    """

    customer_id: str
    record: dict[str, Any]
    event: str
    version: int
    attempts: int
    enqueued_at: datetime
    available_at: datetime


@dataclass(slots=True, frozen=True)
class QueueEntry:
    """A queue row as the dashboard shows it: the item and who holds it, until when."""

    item: QueueItem
    updated_at: datetime
    leased_by: str | None
    lease_until: datetime | None


@dataclass(slots=True, frozen=True)
class QueueStats:
    """The queue at a glance. ``leased`` rows are held by a worker, ``delayed`` ones wait for a
    retry delay; the rest (``ready``) can be claimed now."""

    depth: int
    leased: int
    delayed: int
    oldest_enqueued_at: datetime | None

    @property
    def ready(self) -> int:
        return self.depth - self.leased - self.delayed


@dataclass(slots=True, frozen=True)
class EventRecord:
    """A webhook event received, and what became of it (``reason`` says why if not queued)."""

    id: int
    received_at: datetime
    event: str
    customer_id: str | None
    status: EventStatus
    reason: str | None


@dataclass(slots=True, frozen=True)
class WorkerRecord:
    """A worker process as its last heartbeat described it."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    processed: int
    state: str
