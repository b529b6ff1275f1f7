"""A run's plan: what a sync would do, customer by customer, without writing anything.

The same planner as a sync decides each customer's route, payload and diff (so a plan is what
the sync would do, lookups and consent checks included: those are reads), and the same consent
stage decides what each consent and list change comes to (``ConsentWriter.preview``: a list
Klaviyo does not have fails the list step, a double opt-in list leaves the profile pending);
nothing goes to the writer and nothing is stored. The report adds up routes, kinds of change
and what the guardrails would say of the whole run, and which subscriptions wait for a consent
email to be confirmed (double opt-in) once the caller tells it the opt-in processes.

With ``--live``, a customer a sync leaves unchanged (its source is as last applied) keeps the
route ``unchanged``, but its diff against Klaviyo's profile is shown when Klaviyo's profile
differs (edited in Klaviyo): ``PlanReport.drifted`` counts them; ``--full`` sends them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..outcome import Failure, Outcome
from ._consent import Preview
from ._diff import Diff, FieldChange
from ._guard import Guardrails, Tally
from ._plan import BatchPlan, BatchResult, Planned

__all__ = ["PlanEntry", "PlanReport", "PlanRoute", "plan_entries"]

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
    """why the customer would fail; or, for a customer whose profile would be written, why a
    step after it would (a list Klaviyo does not have)"""
    consent: str | None = None
    """what the sync's outcome will say of the consent change (its ``detail["consent"]``)"""
    lists: dict[str, str] = field(default_factory=dict)
    """and of each list change, by list name (its ``detail["lists"]``)"""

    @property
    def sends(self) -> bool:
        """Whether a sync would write this customer's profile."""
        return self.route in ("create", "update", "matched_email", "matched_phone")

    @property
    def drifted(self) -> bool:
        """A customer a sync leaves unchanged whose profile in Klaviyo differs (``--live``)."""
        return self.route == "unchanged" and self.diff is not None and not self.diff.empty

    def changes(self, fields: list[FieldChange] | None = None) -> Iterator[str]:
        """The kinds of change (``CHANGES``) this customer's plan makes; ``fields`` is
        ``diff.fields`` when the caller has it already. A customer a sync would not write
        makes none, whatever its diff against Klaviyo shows."""
        diff = self.diff
        if diff is None or not self.sends:
            return
        kinds = {change.kind for change in (diff.fields if fields is None else fields)}
        yield from (_FIELD_CHANGES[kind] for kind in sorted(kinds))
        if diff.consent is not None:
            if diff.consent.kept_by_klaviyo:
                yield "consent_kept"
            elif diff.consent.skipped is None:
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
    confirming: Counter[str | None] = field(default_factory=Counter)
    """customers whose subscription would send a consent email and wait for it: by list name,
    None for a subscription without a list (``SubscribeProfile``)"""
    drifted: int = 0
    """``--live``: customers a sync leaves unchanged whose profile in Klaviyo differs"""

    @property
    def customers(self) -> int:
        return sum(self.routes.values())

    def add(self, entry: PlanEntry) -> None:
        self.routes[entry.route] += 1
        if entry.failure is not None:
            self.failures[entry.failure.kind] += 1
        self.drifted += entry.drifted
        if not entry.sends:
            return
        fields = entry.diff.fields if entry.diff is not None else []
        self.changes.update(entry.changes(fields))
        self.fields.update(change.kind for change in fields)
        diff = entry.diff
        if diff is not None:
            added = [c for c in diff.lists if c.consent and c.action == "add" and not c.skipped]
            self.consent_lists.update(c.name for c in added)
            self.confirming.update(c.name for c in added if c.confirm)
            consent = diff.consent
            if consent is not None and consent.skipped is None and consent.confirm:
                self.confirming[None] += 1

    def pending_confirmation(self) -> list[tuple[str | None, int]]:
        """Subscriptions that wait for the profile to confirm a consent email: (list name, or
        None for email marketing without a list, customers), as the consent stage decides it
        (the account or the list is double opt-in, and the profile is not subscribed or a
        member already)."""
        pending: list[tuple[str | None, int]] = []
        if self.confirming[None]:
            pending.append((None, self.confirming[None]))
        for name, count in sorted(self.confirming.items(), key=lambda item: str(item[0])):
            if name is not None and count:
                pending.append((name, count))
        return pending

    def add_batch(self, planned: BatchPlan | BatchResult) -> None:
        if isinstance(planned, BatchPlan):
            self.tally = self.tally + Tally.of(planned)

    def judge(self, rails: Guardrails | None) -> None:
        """What the guardrails would say of the whole run (None: the run is forced)."""
        self.problems = [] if rails is None else self.tally.problems(rails)


def plan_entries(
    planned: BatchPlan | BatchResult,
    position: Mapping[str, int],
    previews: Mapping[str, Preview] | None = None,
) -> list[PlanEntry]:
    """Each customer's entry, in the order of ``position`` (customer id → place in the batch);
    ``previews``: what the consent stage would do for each planned customer."""
    if isinstance(planned, BatchResult):
        entries = [_settled(o) for o in planned.outcomes]
    else:
        entries = [_settled(o, planned.drift.get(o.customer_id)) for o in planned.settled]
        entries.extend(_planned(p, (previews or {}).get(p.customer.id)) for p in planned.planned)
    return sorted(entries, key=lambda e: position.get(e.customer_id, len(position)))


def _planned(p: Planned, preview: Preview | None) -> PlanEntry:
    route: PlanRoute = p.matched_by or ("create" if p.route == "create" else "update")
    profile_id = None if p.route == "create" else p.profile_id
    entry = PlanEntry(
        p.customer.id,
        route,
        profile_id=profile_id,
        payload=p.draft.profile_document(profile_id),
        diff=p.diff,
        notes=list(p.draft.notes),
    )
    if preview is not None:
        entry.diff = preview.diff or entry.diff
        entry.consent = preview.consent
        entry.lists = dict(preview.lists)
        entry.failure = preview.failure
    return entry


_FIELD_CHANGES = {
    "set": "fields_set",
    "change": "fields_changed",
    "clear": "fields_cleared",
    "kept": "fields_kept",
}
_SETTLED: dict[str, PlanRoute] = {"unchanged": "unchanged", "conflict": "conflict"}


_DRIFT = (
    "Klaviyo's profile differs from the source (edited in Klaviyo?): a sync sends nothing, as "
    "the source has not changed since it was last applied; `sync --full` or a Manual Sync "
    "sends it"
)


def _settled(outcome: Outcome, drift: Diff | None = None) -> PlanEntry:
    route = _SETTLED.get(outcome.kind, "failed")
    notes = [str(n) for n in outcome.detail.get("notes") or []]
    if drift is not None:
        notes.append(_DRIFT)
    consent = outcome.detail.get("consent")
    return PlanEntry(
        outcome.customer_id,
        route,
        profile_id=outcome.profile_id,
        diff=drift,
        notes=notes,
        failure=outcome.failure,
        consent=consent if isinstance(consent, str) else None,
    )
