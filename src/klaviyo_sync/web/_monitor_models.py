"""What the dashboard's JSON API answers and takes; the pages render the same objects.

Times are UTC. Nothing here carries a secret: failure details pass through the store's redaction
on their way in, and the settings appear only as yes/no facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ..outcome import FailureKind, OutcomeKind
from ._params import StoreId

__all__ = [
    "OUTCOME_KINDS",
    "Chart",
    "ChartBucket",
    "CheckItem",
    "FailureDetail",
    "FailurePage",
    "FailureState",
    "FailureSummary",
    "LinkItem",
    "LinkSearch",
    "OutcomeItem",
    "Overview",
    "QueueFigures",
    "ResolveRequest",
    "RetryItem",
    "RetryReport",
    "RetryRequest",
    "RetryStatus",
    "RunDetail",
    "RunItem",
    "SyncFailure",
    "SyncRequest",
    "SyncResult",
    "TriggerStatus",
    "WorkerItem",
]

OUTCOME_KINDS: tuple[OutcomeKind, ...] = (
    "created",
    "updated",
    "matched_email",
    "matched_phone",
    "unchanged",
    "conflict",
    "failed",
)
FailureState = Literal["open", "retrying", "parked", "resolved"]
RetryStatus = Literal["resolved", "failed", "not_retried"]
MAX_RETRY_IDS = 200


class FailureSummary(BaseModel):
    """An error-log entry as the list shows it."""

    id: int
    customer_id: str | None
    stage: str = Field(description="where it failed: read, mapping, identify, match, write, …")
    kind: FailureKind
    message: str
    retryable: bool
    attempts: int = Field(description="how many runs met this failure")
    state: FailureState = Field(
        description="open (needs a person), retrying (the worker will try again), parked "
        "(out of automatic retries), resolved"
    )
    first_seen: datetime
    last_seen: datetime
    next_retry_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    run_id: int | None


class FailureDetail(FailureSummary):
    """One failure in full: Klaviyo's answer, the payload sent and the customer record."""

    klaviyo: dict[str, Any] | None = Field(description="Klaviyo's error response, if it answered")
    payload: Any = Field(description="the request body sent to Klaviyo, if any")
    record: dict[str, Any] | None = Field(description="the customer record as it was run")
    detail: dict[str, Any] = Field(description="everything else the engine noted")


class FailurePage(BaseModel):
    total: int = Field(description="failures matching the filter, on every page")
    limit: int
    offset: int
    items: list[FailureSummary]


class RetryRequest(BaseModel):
    """Name failures by id, or ask for all open ones (of ``kind``)."""

    ids: list[StoreId] = Field(default_factory=list, max_length=MAX_RETRY_IDS)
    all: bool = Field(default=False, description="the newest open failures, up to the limit")
    kind: FailureKind | None = Field(default=None, description="with all: only this kind")

    @model_validator(mode="after")
    def _one_way(self) -> RetryRequest:
        if bool(self.ids) == self.all:
            raise ValueError("name failures in ids, or set all, not both")
        if self.kind is not None and not self.all:
            raise ValueError("kind goes with all")
        return self


class RetryItem(BaseModel):
    """What retrying one failure did. ``status`` is the retry's result; ``state`` is the
    failure's own state afterwards (one of the error log's states, never the retry's)."""

    failure_id: int
    customer_id: str | None
    was: FailureKind = Field(description="the failure's kind before the retry")
    status: RetryStatus = Field(
        description="resolved: the customer was sent and the failure is resolved; failed: it "
        "was sent and failed again (failure_kind says how); not_retried: nothing was sent, "
        "message says why (already resolved, no record to retry with, a malformed record)"
    )
    state: FailureState = Field(description="the failure's state after the retry")
    outcome: OutcomeKind | None
    profile_id: str | None
    message: str = Field(description="what happened, for a person")
    note: str | None = Field(
        default=None,
        description="where the record retried came from when it was not the configured "
        "source, e.g. 'not in customers.jsonl: retried with the record kept with the failure'",
    )
    failure_kind: FailureKind | None = Field(description="when it failed again: the new kind")


class RetryReport(BaseModel):
    results: list[RetryItem]
    resolved: int = Field(description="results with status resolved")
    failed: int = Field(description="results with status failed")
    not_retried: int = Field(description="results with status not_retried: nothing was sent")
    remaining: int = Field(description="open failures still matching the request afterwards")


class ResolveRequest(BaseModel):
    note: str = Field(default="resolved in the dashboard", min_length=1, max_length=500)


class SyncRequest(BaseModel):
    customer_id: str = Field(
        min_length=1, max_length=200, description="the iPaaS.com Customer id, e.g. 55260"
    )


class SyncFailure(BaseModel):
    failure_id: int | None = Field(description="the error-log entry, when one was recorded")
    kind: FailureKind
    stage: str
    message: str
    retryable: bool
    klaviyo: dict[str, Any] | None


class SyncResult(BaseModel):
    """The seed's Manual Sync answer: the route taken, the payload, the profile, or the failure."""

    customer_id: str
    outcome: OutcomeKind
    route: str | None = Field(description="create, update or match")
    route_text: str = Field(description="the route in words")
    matched_by: Literal["email", "phone"] | None
    profile_id: str | None
    payload: Any = Field(description="the profile request body sent to Klaviyo")
    consent: str | None = Field(description="the email subscription action taken")
    lists: dict[str, str] = Field(description="list name → action")
    notes: list[str]
    failure: SyncFailure | None
    source: str = Field(description="where the customer was read from")


class LinkItem(BaseModel):
    customer_id: str
    profile_id: str
    how: str = Field(description="created, matched_email, matched_phone, duplicate, conflict")
    how_text: str
    created_at: datetime | None
    updated_at: datetime | None


class LinkSearch(BaseModel):
    by: Literal["latest", "customer_id", "email", "profile_id"]
    query: str | None
    profiles: list[str] = Field(
        default_factory=list, description="for an email: the Klaviyo profiles that have it"
    )
    items: list[LinkItem]


class RunItem(BaseModel):
    id: int
    kind: str = Field(description="sync, sync-one, retry or trigger")
    source: str | None
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    total: int


class OutcomeItem(BaseModel):
    customer_id: str
    outcome: OutcomeKind
    profile_id: str | None
    route: str | None
    failure_kind: FailureKind | None
    failure_message: str | None


class RunDetail(BaseModel):
    run: RunItem
    kind: OutcomeKind | None = Field(description="the outcome filter")
    limit: int
    offset: int
    outcomes: list[OutcomeItem]


class QueueFigures(BaseModel):
    depth: int
    ready: int
    leased: int = Field(description="held by a worker now")
    delayed: int = Field(description="waiting for a retry delay")
    oldest_enqueued_at: datetime | None


class WorkerItem(BaseModel):
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    processed: int
    state: str = Field(description="running, stopped, or silent (no heartbeat for a lease)")


class TriggerStatus(BaseModel):
    """The seed's Outbound Data Flows: which customer events transfer."""

    created: bool
    updated: bool
    webhook_secret_set: bool


class CheckItem(BaseModel):
    severity: Literal["error", "warning", "info"]
    collection: str | None
    row: str | None
    message: str


class ChartBucket(BaseModel):
    start: datetime
    counts: dict[str, int] = Field(description="outcome kind → customers")


class Chart(BaseModel):
    """Outcomes per hour or day, from the counts of the runs that started in each."""

    unit: Literal["hour", "day"]
    buckets: list[ChartBucket]
    runs_counted: int
    complete: bool = Field(description="false when older runs in the window were left out")


class Overview(BaseModel):
    failures_open: int
    failures_by_kind: dict[str, int]
    events: dict[str, int] = Field(description="webhook events received, by status")
    queue: QueueFigures
    workers: list[WorkerItem]
    triggers: TriggerStatus
    source: str | None = Field(description="where manual syncs and retries read customers")
    runs: list[RunItem]
    recent_failures: list[FailureSummary]
    checks: list[CheckItem] = Field(description="`klaviyo-sync check --offline` findings")
    check_error: str | None
    chart: Chart
