"""What the store gives back about runs and failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..outcome import Failure, FailureKind, Stage

__all__ = ["FailureRecord", "RunRecord"]


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
    """An error-log entry. ``attempts`` counts the runs that met it; ``run_id`` is the last one."""

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
