"""What the planner decides for a batch, and what the writer reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..customer import Customer
from ..draft import Draft
from ..outcome import Link, Outcome

__all__ = ["BatchPlan", "BatchResult", "MatchedBy", "Planned", "Route"]

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


@dataclass(slots=True)
class BatchPlan:
    """A batch split into customers to write and customers already settled (failed, unchanged)."""

    planned: list[Planned] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)


@dataclass(slots=True)
class BatchResult:
    """Everything a batch leaves behind for the store, committed in one transaction."""

    outcomes: list[Outcome] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    dropped_links: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
