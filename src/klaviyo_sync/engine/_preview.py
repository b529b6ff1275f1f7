"""A run's plan: what a sync would do, customer by customer, without writing anything.

The same planner as a sync decides each customer's route, payload and diff (so a plan is what
the sync would do, lookups and consent checks included: those are reads); nothing goes to the
writer and nothing is stored. The report adds up routes, kinds of change and what the
guardrails would say of the whole run, and which subscriptions wait for a consent email to be
confirmed (double opt-in) once the caller tells it the opt-in processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..outcome import Failure, Outcome
from ._diff import Diff, FieldChange
from ._guard import Guardrails, Tally
from ._plan import BatchPlan, BatchResult, Planned

__all__ = ["PlanEntry", "PlanReport", "PlanRoute", "plan_entries"]

_DOUBLE: Final = "double_opt_in"

PlanRoute = Literal[
    "create", "update", "matched_email", "matched_phone", "unchanged", "conflict", "failed"
]
ROUTES: tuple[PlanRoute, ...] = (
    "create",
    "update",
    "matched_email",
    "matched_phone",
    "unchanged",
    "conflict",
    "failed",
)
CHANGES = (
    "fields_set",
    "fields_changed",
    "fields_cleared",
    "fields_kept",
    "subscribe",
    "unsubscribe",
    "consent_kept",
    "list_add",
    "list_remove",
)


@dataclass(slots=True)
class PlanEntry:
    """What a sync would do for one customer."""

    customer_id: str
    route: PlanRoute
    profile_id: str | None = None
    payload: dict[str, Any] | None = None
    """the exact JSON:API document a per-record request would carry"""
    diff: Diff | None = None
    notes: list[str] = field(default_factory=list)
    failure: Failure | None = None

    def changes(self, fields: list[FieldChange] | None = None) -> Iterator[str]:
        """The kinds of change (``CHANGES``) this customer's plan makes; ``fields`` is
        ``diff.fields`` when the caller has it already."""
        diff = self.diff
        if diff is None:
            return
        kinds = {change.kind for change in (diff.fields if fields is None else fields)}
        yield from (_FIELD_CHANGES[kind] for kind in sorted(kinds))
        if diff.consent is not None:
            if diff.consent.skipped:
                yield "consent_kept"
            else:
                yield "subscribe" if diff.consent.after == "subscribed" else "unsubscribe"
        actions = {c.action for c in diff.lists if c.skipped is None}
        yield from (f"list_{action}" for action in sorted(actions))


@dataclass(slots=True)
class PlanReport:
    """A whole run's plan, added up: customers per route, per kind of change, fields per kind,
    failures per kind, and what the guardrails would refuse."""

    routes: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    tally: Tally = field(default_factory=Tally)
    problems: list[str] = field(default_factory=list)
    consent_lists: Counter[str] = field(default_factory=Counter)
    """customers a ``LIST_`` row would subscribe, by list name"""
    list_opt_in: dict[str, str] = field(default_factory=dict)
    """each Klaviyo list's opt-in process by name, when the caller read them"""
    account_opt_in: str | None = None
    """the account's opt-in process, which a subscription without a list follows, when known"""

    @property
    def customers(self) -> int:
        return sum(self.routes.values())

    def add(self, entry: PlanEntry) -> None:
        self.routes[entry.route] += 1
        fields = entry.diff.fields if entry.diff is not None else []
        self.changes.update(entry.changes(fields))
        self.fields.update(change.kind for change in fields)
        if entry.failure is not None:
            self.failures[entry.failure.kind] += 1
        if entry.diff is not None:
            self.consent_lists.update(
                c.name
                for c in entry.diff.lists
                if c.consent and c.action == "add" and c.skipped is None
            )

    def pending_confirmation(self) -> list[tuple[str | None, int]]:
        """Subscriptions that wait for the profile to confirm a consent email: (list name, or
        None for email marketing without a list, customers), where the opt-in is double."""
        pending: list[tuple[str | None, int]] = []
        if self.changes["subscribe"] and self.account_opt_in == _DOUBLE:
            pending.append((None, self.changes["subscribe"]))
        for name, count in sorted(self.consent_lists.items()):
            if self.list_opt_in.get(name) == _DOUBLE:
                pending.append((name, count))
        return pending

    def add_batch(self, planned: BatchPlan | BatchResult) -> None:
        if isinstance(planned, BatchPlan):
            self.tally = self.tally + Tally.of(planned)

    def judge(self, rails: Guardrails | None) -> None:
        """What the guardrails would say of the whole run (None: the run is forced)."""
        self.problems = [] if rails is None else self.tally.problems(rails)


def plan_entries(planned: BatchPlan | BatchResult, position: Mapping[str, int]) -> list[PlanEntry]:
    """Each customer's entry, in the order of ``position`` (customer id → place in the batch)."""
    if isinstance(planned, BatchResult):
        entries = [_settled(o) for o in planned.outcomes]
    else:
        entries = [*(_settled(o) for o in planned.settled), *map(_planned, planned.planned)]
    return sorted(entries, key=lambda e: position.get(e.customer_id, len(position)))


def _planned(p: Planned) -> PlanEntry:
    route: PlanRoute = p.matched_by or ("create" if p.route == "create" else "update")
    profile_id = None if p.route == "create" else p.profile_id
    return PlanEntry(
        p.customer.id,
        route,
        profile_id=profile_id,
        payload=p.draft.profile_document(profile_id),
        diff=p.diff,
        notes=list(p.draft.notes),
    )


_FIELD_CHANGES = {
    "set": "fields_set",
    "change": "fields_changed",
    "clear": "fields_cleared",
    "kept": "fields_kept",
}
_SETTLED: dict[str, PlanRoute] = {"unchanged": "unchanged", "conflict": "conflict"}


def _settled(outcome: Outcome) -> PlanEntry:
    route = _SETTLED.get(outcome.kind, "failed")
    notes = outcome.detail.get("notes") or []
    return PlanEntry(
        outcome.customer_id,
        route,
        profile_id=outcome.profile_id,
        notes=[str(n) for n in notes],
        failure=outcome.failure,
    )
