"""The planner: decides, for a batch, what each customer needs. It reads; it never writes.

Per customer, in the seed's order: field assembly and phone normalization (the compiled
collection), the identifier rule, link resolution (linked → ``update``, unlinked → ``add``),
change detection against the fingerprint of what was last applied, and for unlinked customers
matching in Klaviyo by email first, then by phone, in batched lookups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..customer import Customer
from ..draft import Draft
from ..exceptions import FatalError, FormulaError, InvalidRecordError, KlaviyoSyncError
from ..klaviyo import KlaviyoClient
from ..mapping import CompiledCollection
from ..outcome import Failure, Link, Outcome
from ..store import Store
from ._failures import failed, failure_from_error
from ._plan import BatchPlan, MatchedBy, Planned

__all__ = ["Planner", "unreadable"]

Item = Customer | InvalidRecordError


class Planner:
    """Builds a BatchPlan from customers, the store and Klaviyo's lookups."""

    def __init__(
        self,
        client: KlaviyoClient,
        store: Store,
        add: CompiledCollection,
        update: CompiledCollection,
        *,
        full: bool = False,
    ) -> None:
        self._client = client
        self._store = store
        self._add = add
        self._update = update
        self._full = full

    async def plan(self, items: Sequence[Item]) -> BatchPlan:
        plan = BatchPlan()
        customers = [item for item in items if isinstance(item, Customer)]
        for item in items:
            if isinstance(item, InvalidRecordError):
                plan.settled.append(unreadable(item))
        ids = [c.id for c in customers]
        links = self._store.get_links(ids)
        fingerprints = {} if self._full else self._store.get_fingerprints(ids)
        unlinked: list[Planned] = []
        for customer in customers:
            decided = self._decide(customer, links.get(customer.id), fingerprints)
            if isinstance(decided, Outcome):
                plan.settled.append(decided)
            elif decided.route == "create":
                unlinked.append(decided)
            else:
                plan.planned.append(decided)
        plan.planned.extend(await self._match_or_fail(unlinked, plan.settled))
        return plan

    def draft(self, customer: Customer, link: Link | None) -> Draft:
        """The customer's draft from ``update`` when linked, ``add`` otherwise."""
        if link is None:
            return self._add.draft(customer, profile_id=None)
        return self._update.draft(customer, profile_id=link.profile_id)

    async def match(self, unlinked: Sequence[Planned]) -> None:
        """Route each unlinked customer to an existing profile by email, then phone.

        Lookups are batched (``any(email,[…])``, 100 values a call). A customer that matches
        nothing stays a ``create``.
        """
        by_email = [p for p in unlinked if p.draft.email]
        if by_email:
            found = await self._lookup("email", [p.draft.email or "" for p in by_email])
            for p in by_email:
                _route_match(p, found.get((p.draft.email or "").lower()), "matched_email")
        by_phone = [p for p in unlinked if p.route == "create" and p.draft.phone_number]
        if by_phone:
            found = await self._lookup(
                "phone_number", [p.draft.phone_number or "" for p in by_phone]
            )
            for p in by_phone:
                _route_match(p, found.get(p.draft.phone_number or ""), "matched_phone")

    def _decide(
        self, customer: Customer, link: Link | None, fingerprints: Mapping[str, str]
    ) -> Planned | Outcome:
        try:
            draft = self.draft(customer, link)
        except FormulaError as err:
            return failed(
                customer.id, failure_from_error(err, stage="mapping", customer_id=customer.id)
            )
        if not draft.has_identifier:
            return _no_identifier(customer, draft)
        if link is None:
            return Planned(customer, draft, "create")
        if fingerprints.get(customer.id) == draft.fingerprint():
            return Outcome(
                customer.id,
                "unchanged",
                profile_id=link.profile_id,
                route="update",
                detail={"notes": draft.notes} if draft.notes else {},
            )
        return Planned(customer, draft, "update", profile_id=link.profile_id, link=link)

    async def _match_or_fail(
        self, unlinked: list[Planned], settled: list[Outcome]
    ) -> list[Planned]:
        try:
            await self.match(unlinked)
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            for p in unlinked:
                failure = failure_from_error(err, stage="match", customer_id=p.customer.id)
                settled.append(failed(p.customer.id, failure, route="create"))
            return []
        return unlinked

    async def _lookup(self, field: str, values: list[str]) -> dict[str, str]:
        """Identifier (emails lower-cased: Klaviyo compares them so) → profile id."""
        profiles = await self._client.find_profiles(field, values)
        found: dict[str, str] = {}
        for profile in profiles:
            value = profile.get("attributes", {}).get(field)
            if isinstance(value, str):
                key = value.lower() if field == "email" else value
                found.setdefault(key, str(profile["id"]))
        return found


def _route_match(planned: Planned, profile_id: str | None, how: MatchedBy) -> None:
    if profile_id is not None:
        planned.route = "match"
        planned.profile_id = profile_id
        planned.matched_by = how


def unreadable(error: InvalidRecordError) -> Outcome:
    customer_id = error.customer_id or error.where or "?"
    failure = failure_from_error(error, stage="read", customer_id=error.customer_id)
    return failed(customer_id, failure)


def _no_identifier(customer: Customer, draft: Draft) -> Outcome:
    message = (
        "the customer has no email address and no phone number that normalizes to "
        "E.164, so Klaviyo cannot create or match a profile"
    )
    failure = Failure(
        customer_id=customer.id,
        stage="identify",
        kind="no_identifier",
        message=message,
        detail={"notes": draft.notes} if draft.notes else {},
    )
    return failed(customer.id, failure)
