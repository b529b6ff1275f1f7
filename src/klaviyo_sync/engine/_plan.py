"""What the planner decides for a batch, and what the writer reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..customer import Customer
from ..draft import Draft
from ..exceptions import FatalError
from ..outcome import AuditEntry, Failure, Link, Outcome, OutcomeKind
from ._diff import Before, Diff

__all__ = ["Attempt", "BatchPlan", "BatchResult", "MatchedBy", "Planned", "Route", "Written"]

Route = Literal["create", "update", "match"]
MatchedBy = Literal["matched_email", "matched_phone"]


@dataclass(slots=True)
class Planned:
    """One customer the writer must send: its draft, where it goes and why."""

    customer: Customer
    draft: Draft
    route: Route
    profile_id: str | None = None
    """the linked or matched profile; None for a create"""
    matched_by: MatchedBy | None = None
    """for a match: ``matched_email`` or ``matched_phone``"""
    link: Link | None = None
    """the stored link this plan started from, if any"""
    fingerprint: str = ""
    """the draft's fingerprint as the collection made it (before any identifier is withheld)"""
    applied: dict[str, Any] | None = None
    """the state the store kept for the linked profile, if any"""
    before: Before = field(default_factory=Before.new)
    diff: Diff | None = None
    """what the draft changes; set by the planner before the batch is written"""
    withheld: dict[str, Any] = field(default_factory=dict)
    """fields taken out of the draft because Klaviyo left these very values out before (name →
    value; see ``_partial``)"""
    kept: Failure | None = None
    """the open failure for the withheld values, carried into the outcome so it stays open"""
    confirmed: list[str] = field(default_factory=list)
    """applied-state keys of pending subscriptions Klaviyo has since as confirmed (the planner
    found them when it read the profile's consent); ``applied`` already says so"""
    settled: Outcome | None = None
    """what a sync settles this customer as without writing it (its source is as last
    applied); set only when a plan diffs it against Klaviyo anyway (``plan --live``)"""

    @property
    def existing(self) -> bool:
        """Whether the profile exists already (an update or a match), so Klaviyo owns consent."""
        return self.route != "create"


@dataclass(slots=True)
class BatchPlan:
    """A batch split into customers to write and customers already settled (failed, unchanged)."""

    planned: list[Planned] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    """for settled customers whose draft changed nothing: the fingerprint to remember"""
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    """and the state to remember with it"""
    audit: list[AuditEntry] = field(default_factory=list)
    """confirmations of pending subscriptions found for settled customers, recorded with it"""
    drift: dict[str, Diff] = field(default_factory=dict)
    """``plan --live``: customers a sync leaves unchanged (their source is as last applied)
    whose profile in Klaviyo differs, with the diff against it"""


@dataclass(slots=True)
class BatchResult:
    """Everything a batch leaves behind for the store, committed in one transaction."""

    outcomes: list[Outcome] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    dropped_links: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)


@dataclass(slots=True)
class Written:
    """A profile write that succeeded."""

    planned: Planned
    profile_id: str
    kind: OutcomeKind
    payload: dict[str, Any]
    link: Link | None = None
    """a new or changed link to store (None when the stored link still holds)"""
    notes: tuple[str, ...] = ()
    dropped: dict[str, Any] = field(default_factory=dict)
    """fields Klaviyo left out of the write as invalid, with the values sent"""
    request: str = ""
    """the request that wrote the profile (``POST /api/profiles``), for a failure's detail"""
    status: int = 0
    answer: str = ""
    """how Klaviyo said it left ``dropped`` out, when not with X-Klaviyo-Partial-Failure"""

    @property
    def left_out(self) -> dict[str, Any]:
        """Fields the profile does not hold as the draft has them: withheld or dropped."""
        return {**self.planned.withheld, **self.dropped}


Attempt = Written | Outcome | FatalError
"""What writing one planned customer gave: a profile written, a failed outcome, or a fatal
error that stops the run."""
