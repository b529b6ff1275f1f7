"""The value objects a run produces and the store keeps: links, outcomes and failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "FAILURE_KINDS",
    "AuditAction",
    "AuditEntry",
    "Failure",
    "FailureKind",
    "Link",
    "LinkHow",
    "Outcome",
    "OutcomeKind",
    "Stage",
]

LinkHow = Literal["created", "matched_email", "matched_phone", "duplicate", "conflict"]
OutcomeKind = Literal[
    "created", "updated", "matched_email", "matched_phone", "unchanged", "conflict", "failed"
]
Stage = Literal[
    "read", "mapping", "identify", "match", "guard", "write", "subscribe", "lists", "store"
]
FailureKind = Literal[
    "invalid_record",
    "formula_error",
    "no_identifier",
    "phone_rejected",
    "invalid",
    "not_found",
    "conflict",
    "unknown_list",
    "guardrail",
    "klaviyo_unavailable",
    "rate_limited",
    "auth",
    "unexpected",
]
FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)


@dataclass(slots=True, frozen=True)
class Link:
    """A customer id linked to a Klaviyo profile id, and how the link was made."""

    customer_id: str
    profile_id: str
    how: LinkHow
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class Failure:
    """An error-log entry for one customer. ``detail`` holds Klaviyo's response and the payload
    sent (never the API key); ``retryable`` says whether trying again later can help."""

    customer_id: str | None
    stage: Stage
    kind: FailureKind
    message: str
    retryable: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


AuditAction = Literal["subscribe", "unsubscribe", "list_add", "list_remove"]


@dataclass(slots=True, frozen=True)
class AuditEntry:
    """One consent or list change the engine made: who, which profile, before and after, and
    the mapping row that asked for it (``SubscribeProfile``, ``LIST_{name}``, ``UCLIST_{name}``,
    or ``(no SubscribeProfile row)`` for the seed's unsubscribe-when-unmapped)."""

    customer_id: str
    profile_id: str
    action: AuditAction
    before: str
    after: str
    row: str
    list_name: str | None = None


@dataclass(slots=True, frozen=True)
class Outcome:
    """The one result a customer gets from a run.

    ``route`` is what the engine did (``create``, ``update``, ``match``), ``detail`` the
    payload sent and anything worth showing (an omitted phone, a skipped list); a failed outcome
    carries its ``failure``.
    """

    customer_id: str
    kind: OutcomeKind
    profile_id: str | None = None
    route: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    failure: Failure | None = None
