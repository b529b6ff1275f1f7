"""The planner: decides, for a batch, what each customer needs. It reads; it never writes.

Per customer, in the seed's order: field assembly and phone normalization (the compiled
collection), the identifier rule, link resolution (linked → ``update``, unlinked → ``add``),
change detection, and for unlinked customers matching in Klaviyo by email first, then by phone,
in batched lookups. Then each customer's diff against what is known of its profile (see
``_diff``); a linked customer whose diff changes nothing is ``unchanged`` and costs no request.

Change detection is two-tier: a draft whose fingerprint equals the one last applied is
unchanged at once; otherwise its diff against the applied state decides (a create-only row
that stopped being sent, or a source field that became empty, changes nothing).

Identity conflicts: when the email and the phone of an unlinked customer find two different
profiles, or a linked customer's new email or phone belongs to a profile other than its link,
the customer's outcome is ``conflict`` and nothing is written. A person settles it by linking
one of the profiles (``errors resolve ID --profile P``); a link made so keeps the identifiers
that belong to the other profiles off its profile.

Fields Klaviyo left out of a write it accepted (``_partial``): while the source still has the
value Klaviyo left out, it is withheld from the draft and its open failure carried forward; an
unchanged customer with such a failure is ``unchanged`` and not sent, its failure still open.

Consent: before a subscribe (or a ``LIST_`` consent request) reaches a profile that already
exists, Klaviyo's own consent is read, in batches, so a profile unsubscribed in Klaviyo is not
subscribed again unless the row says ``override_klaviyo_consent = true``. Where the applied
state has a double opt-in subscription as pending and the read finds it given (the profile
subscribed; for a ``LIST_`` list, a member, read from the list by email or phone, 100 a
request), the confirmation is recorded once: the applied state says so from then on, and the
audit has an entry "pending → subscribed (confirmed)" (or member).

``live`` (``plan --live``) diffs every linked customer against its profile as Klaviyo holds it
now, those whose source is as last applied too: a sync leaves them unchanged, and the plan says
so, but a field edited in Klaviyo shows in their diff (``BatchPlan.drift``).

A lookup that fails all its tries fails only the customers it carried (see ``_lookup``), and
they fail retryable: one whose email or phone could not be looked up is not created (Klaviyo may
hold its profile, and a create would duplicate it), one whose consent could not be read is not
subscribed. The rest of the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ..customer import Customer
from ..draft import Draft
from ..exceptions import (
    FatalError,
    FormulaError,
    InvalidRecordError,
    KlaviyoDuplicateProfileError,
    KlaviyoSyncError,
)
from ..klaviyo import KlaviyoClient
from ..mapping import CompiledCollection
from ..outcome import Failure, Link, Outcome
from ..store import FailureRecord, Store
from ._consent import ListDirectory, confirmations
from ._diff import (
    PENDING,
    SUBSCRIBE_KEY,
    Before,
    applied_state,
    compute_diff,
    interned,
    klaviyo_consent,
    list_key,
)
from ._failures import failed, failure_from_error
from ._lookup import list_member_ids, look_up
from ._partial import PARTIAL_KINDS, carried, is_partial, withhold
from ._plan import BatchPlan, Planned

__all__ = ["STUCK_KINDS", "Planner", "conflict_outcome", "duplicate_of", "unreadable"]

log = logging.getLogger("klaviyo_sync.engine")

Item = Customer | InvalidRecordError
Profile = dict[str, Any]

STUCK_KINDS: Final = ("phone_rejected", "invalid")
"""Failures Klaviyo gave for the customer's own data: the same draft would fail the same way,
so an unchanged customer with one open is not sent again (``--full`` or ``errors retry`` do)."""
_OPEN_KINDS: Final = tuple(sorted({*STUCK_KINDS, *PARTIAL_KINDS}))
"""The open failures a plan reads: those above, and fields Klaviyo left out (``_partial``)."""
_SUBSCRIPTIONS: Final = ("subscriptions",)
_IDENTIFIERS: Final = ("email", "phone_number")


@dataclass(slots=True)
class _Found:
    """Profiles found by identifier in one batch of lookups: value → profile; and the values
    whose lookup failed: identifier → value as sent → the error."""

    email: dict[str, Profile] = field(default_factory=dict)
    phone_number: dict[str, Profile] = field(default_factory=dict)
    failed: dict[str, dict[str, KlaviyoSyncError]] = field(default_factory=dict)

    def get(self, identifier: str, value: str | None) -> Profile | None:
        if value is None:
            return None
        table = self.email if identifier == "email" else self.phone_number
        return table.get(value.lower() if identifier == "email" else value)

    def failure(self, p: Planned) -> Outcome | None:
        """The customer's failure when a lookup of one of its identifiers failed."""
        for identifier in _IDENTIFIERS:
            value = p.draft.attributes.get(identifier)
            error = self.failed.get(identifier, {}).get(value) if isinstance(value, str) else None
            if error is not None:
                return _lookup_failed(p, error, f"its {identifier}")
        return None


class Planner:
    """Builds a BatchPlan from customers, the store and Klaviyo's lookups.

    ``live`` diffs every linked customer against its profile as Klaviyo holds it now (one
    batched read per 100) instead of the state the store kept (``plan --live``). ``sms`` and
    ``double`` say how consent is asked (``subscribe_sms``; ``account_opt_in`` is double opt-in);
    ``lists`` is the run's directory of Klaviyo's lists, for reading whether pending
    ``LIST_`` subscriptions were confirmed.
    """

    def __init__(
        self,
        client: KlaviyoClient,
        store: Store,
        add: CompiledCollection,
        update: CompiledCollection,
        *,
        full: bool = False,
        live: bool = False,
        sms: bool = False,
        double: bool = False,
        lists: ListDirectory | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._add = add
        self._update = update
        self._full = full
        self._live = live
        self._sms = sms
        self._double = double
        self._lists = lists

    @property
    def full(self) -> bool:
        """Whether the run resends everything (``--full``), even what was last applied."""
        return self._full

    async def plan(self, items: Sequence[Item]) -> BatchPlan:
        plan = BatchPlan()
        customers = [item for item in items if isinstance(item, Customer)]
        for item in items:
            if isinstance(item, InvalidRecordError):
                plan.settled.append(unreadable(item))
        ids = [c.id for c in customers]
        links = self._store.get_links(ids)
        fingerprints = {} if self._full else self._store.get_fingerprints(ids)
        # Read with --full too: a value Klaviyo left out is withheld however the run was asked.
        open_failures = self._store.open_failures(ids, kinds=_OPEN_KINDS)
        pending: list[Planned] = []
        for customer in customers:
            decided = self._decide(customer, links.get(customer.id), fingerprints, open_failures)
            if isinstance(decided, Outcome):
                plan.settled.append(decided)
            else:
                pending.append(decided)
        try:
            await self._know(pending, plan.settled)
            await self._identify(pending, plan.settled)
            for p in pending:
                self.diff(p)
            await self._check_consent(pending, plan.settled)
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            for p in pending:
                failure = failure_from_error(err, stage="match", customer_id=p.customer.id)
                plan.settled.append(failed(p.customer.id, failure, route=p.route))
            return plan
        for p in pending:
            if p.settled is not None:
                plan.settled.append(p.settled)
                if p.diff is not None and p.before.source == "klaviyo" and not p.diff.empty:
                    plan.drift[p.customer.id] = p.diff
                if p.confirmed:
                    _note(p.settled, _CONFIRMED_UNSENT)
            elif not self._settle_unchanged(p, plan):
                plan.planned.append(p)
        return plan

    def draft(self, customer: Customer, link: Link | None) -> Draft:
        """The customer's draft from ``update`` when linked, ``add`` otherwise."""
        if link is None:
            return self._add.draft(customer, profile_id=None)
        return self._update.draft(customer, profile_id=link.profile_id)

    def collection(self, planned: Planned) -> CompiledCollection:
        return self._update if planned.route == "update" else self._add

    def diff(self, planned: Planned) -> None:
        """(Re)compute ``planned.diff`` from its draft and what is known before it."""
        collection = self.collection(planned)
        planned.diff = compute_diff(
            planned.draft,
            planned.before,
            collection.fields,
            subscribe_row=collection.has_subscribe_row,
            existing=planned.existing,
            resend=self._full,
            sms=self._sms,
            double=self._double,
        )

    async def match(self, unlinked: Sequence[Planned]) -> list[Outcome]:
        """Route each unlinked customer to an existing profile by email, then phone.

        Lookups are batched (``any(email,[…])``, 100 values a call) and return each profile's
        consent too. A customer whose email and phone find two different profiles is a
        conflict, one whose lookup failed is failed (their outcomes are returned); one that
        matches nothing stays a ``create``.
        """
        found = await self._lookup(unlinked)
        stopped = []
        for p in unlinked:
            outcome = found.failure(p) or self._route(p, found)
            if outcome is not None:
                stopped.append(outcome)
        return stopped

    # -- per customer, before any lookup -----------------------------------------------------

    def _decide(
        self,
        customer: Customer,
        link: Link | None,
        fingerprints: Mapping[str, str],
        open_failures: Mapping[str, FailureRecord],
    ) -> Planned | Outcome:
        try:
            draft = self.draft(customer, link)
        except FormulaError as err:
            return failed(
                customer.id, failure_from_error(err, stage="mapping", customer_id=customer.id)
            )
        if not draft.has_identifier:
            return _no_identifier(customer, draft)
        fingerprint = draft.fingerprint()
        failure = open_failures.get(customer.id)
        # What a sync settles without writing; a live plan still diffs it against Klaviyo.
        settled: Outcome | None = None
        if failure is not None and not self._full and _stuck(failure, fingerprint):
            if not is_partial(failure.detail):
                return _still_failing(failure, link)
            if link is not None:
                settled = _still_left_out(failure, link)
        if link is not None and settled is None and fingerprints.get(customer.id) == fingerprint:
            settled = _unchanged(customer.id, link.profile_id, draft)
        if settled is not None and not self._live:
            return settled
        if link is None:
            planned = Planned(customer, draft, "create", fingerprint=fingerprint)
        else:
            planned = Planned(
                customer,
                draft,
                "update",
                profile_id=link.profile_id,
                link=link,
                fingerprint=fingerprint,
                settled=settled,
            )
        if failure is not None:
            withhold(planned, failure)
        return planned

    def _settle_unchanged(self, p: Planned, plan: BatchPlan) -> bool:
        """A linked customer whose diff changes nothing: unchanged, its fingerprint kept."""
        if self._full or p.route != "update" or p.diff is None or not p.diff.empty:
            return False
        assert p.profile_id is not None
        outcome = _unchanged(p.customer.id, p.profile_id, p.draft)
        if p.diff.consent is not None and p.diff.consent.skipped:
            outcome.detail["consent"] = p.diff.consent.skipped
        if p.kept is not None:
            # A value withheld: the profile still lacks it, so its failure stays open.
            kept = replace(p.kept, detail={**p.kept.detail, "fingerprint": p.fingerprint})
            outcome = replace(outcome, failure=kept)
        plan.settled.append(outcome)
        # Withheld values are not applied: the fingerprint of the draft without them.
        plan.fingerprints[p.customer.id] = p.draft.fingerprint() if p.withheld else p.fingerprint
        plan.applied[p.customer.id] = applied_state(p.applied, p.draft, p.diff.held_back)
        plan.audit.extend(confirmations(p))
        return True

    # -- what is known of each profile -------------------------------------------------------

    async def _know(self, pending: list[Planned], settled: list[Outcome]) -> None:
        """``before`` for each linked customer: the store's applied state, or with ``live``
        the profile as Klaviyo holds it (list intents still from the store)."""
        linked = [p for p in pending if p.link is not None]
        if not linked:
            return
        applied = self._store.get_applied([p.customer.id for p in linked])
        for p in linked:
            state = applied.pop(p.customer.id, None)
            p.applied = interned(state) if state else None
            p.before = Before.from_applied(p.applied)
        if not self._live:
            return
        profiles, failed_ids = await self._by_id([p.profile_id or "" for p in linked])
        sending = [p for p in linked if p.settled is None]
        _drop(pending, settled, _read_failures(sending, failed_ids, "its profile"))
        read = []
        for p in linked:
            profile = profiles.get(p.profile_id or "")
            if p.profile_id in failed_ids:
                if p.settled is not None:
                    _note(p.settled, "its profile could not be read from Klaviyo to compare")
                continue
            if profile is None and p.settled is not None:
                _note(
                    p.settled,
                    f"profile {p.profile_id} is not in Klaviyo any more; a sync leaves this "
                    "customer unchanged (its source is as last applied), a --full one routes "
                    "it again (match, else create)",
                )
            elif profile is None:
                p.draft.notes.append(
                    f"profile {p.profile_id} is not in Klaviyo any more: the sync will route "
                    "this customer again (match, else create)"
                )
                p.before = Before("klaviyo", applied=p.before.applied)
            else:
                p.before = Before.from_profile(profile, p.before)
                read.append(p)
        await self._learn(read, profiles)

    async def _identify(self, pending: list[Planned], settled: list[Outcome]) -> None:
        """Match unlinked customers; check linked ones whose email or phone changed."""
        checked = [
            p for p in pending if p.link is not None and p.settled is None and _identifiers_moved(p)
        ]
        unlinked = [p for p in pending if p.link is None]
        if not checked and not unlinked:
            return
        found = await self._lookup([*unlinked, *checked])
        stopped: list[Outcome] = []
        for p in [*unlinked, *checked]:
            outcome = found.failure(p)
            if outcome is None:
                outcome = self._route(p, found) if p.link is None else _check_link(p, found)
            if outcome is not None:
                stopped.append(outcome)
        _drop(pending, settled, stopped)

    def _route(self, p: Planned, found: _Found) -> Outcome | None:
        by_email = found.get("email", p.draft.email)
        by_phone = found.get("phone_number", p.draft.phone_number)
        if by_email and by_phone and by_email["id"] != by_phone["id"]:
            return conflict_outcome(
                p, {"email": str(by_email["id"]), "phone_number": str(by_phone["id"])}
            )
        profile = by_email or by_phone
        if profile is not None:
            p.route = "match"
            p.profile_id = str(profile["id"])
            p.matched_by = "matched_email" if by_email else "matched_phone"
            p.before = Before.from_profile(profile)
        return None

    async def _check_consent(self, pending: list[Planned], settled: list[Outcome]) -> None:
        """Read Klaviyo's consent for existing profiles a run would subscribe: Klaviyo owns it.
        A customer whose consent could not be read is failed, not subscribed blind."""
        unknown = [p for p in pending if p.existing and p.settled is None and _would_subscribe(p)]
        if not unknown:
            return
        profiles, failed_ids = await self._by_id([p.profile_id or "" for p in unknown])
        _drop(pending, settled, _read_failures(unknown, failed_ids, "its consent"))
        read = []
        for p in unknown:
            profile = profiles.get(p.profile_id or "")
            if profile is not None:
                consent = klaviyo_consent(profile.get("attributes") or {})
                p.before = p.before.with_klaviyo_consent(consent)
                read.append(p)
        await self._learn(read, profiles)
        for p in read:
            self.diff(p)

    async def _learn(self, read: Sequence[Planned], profiles: Mapping[str, Profile]) -> None:
        """Record the pending subscriptions of ``read`` (customers whose profile's consent was
        just read) that Klaviyo now has as given: the subscription (the profile is subscribed)
        or the list (the profile is a member, read from the list by email or phone)."""
        waiting: dict[str, list[Planned]] = {}
        for p in read:
            applied = p.applied or {}
            if applied.get(SUBSCRIBE_KEY) == PENDING and p.before.klaviyo == "subscribed":
                _confirm(p, SUBSCRIBE_KEY)
            for key, value in applied.items():
                kind, _, name = key.partition(":")
                if kind == "$list" and value == PENDING:
                    waiting.setdefault(name, []).append(p)
        if not waiting or self._lists is None:
            return
        for name, members in (await self._members(waiting, profiles)).items():
            for p in members:
                _confirm(p, list_key(name, consent=True))

    async def _members(
        self, waiting: Mapping[str, Sequence[Planned]], profiles: Mapping[str, Profile]
    ) -> dict[str, list[Planned]]:
        """Of the customers waiting on each list, those its members include. A read that fails
        leaves its customers pending: a later read looks again."""
        assert self._lists is not None
        try:
            directory = await self._lists.load()
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            log.warning("pending list subscriptions not checked: the lists were not read: %s", err)
            return {}
        found: dict[str, list[Planned]] = {}
        for name, planned in waiting.items():
            entry = directory.get(name)
            if entry is None:
                continue
            emails, phones = [], []
            for p in planned:
                attributes = (profiles.get(p.profile_id or "") or {}).get("attributes") or {}
                email = attributes.get("email") or p.draft.email
                phone = attributes.get("phone_number") or p.draft.phone_number
                if isinstance(email, str) and email:
                    emails.append(email)
                elif isinstance(phone, str) and phone:
                    phones.append(phone)
            members: set[str] = set()
            try:
                for identifier, values in (("email", emails), ("phone_number", phones)):
                    if values:
                        members |= await list_member_ids(self._client, entry.id, identifier, values)
            except FatalError:
                raise
            except KlaviyoSyncError as err:
                log.warning("pending subscriptions to %r not checked: %s", name, err)
                continue
            found[name] = [p for p in planned if p.profile_id in members]
        return found

    # -- lookups -----------------------------------------------------------------------------

    async def _lookup(self, planned: Sequence[Planned]) -> _Found:
        """Profiles with the drafts' emails and phone numbers, with their consent."""
        found = _Found()
        for identifier in _IDENTIFIERS:
            values = [
                value
                for p in planned
                if (value := p.draft.attributes.get(identifier)) and isinstance(value, str)
            ]
            if not values:
                continue
            looked = await look_up(
                self._client, identifier, values, additional_fields=_SUBSCRIPTIONS
            )
            found.failed[identifier] = looked.failed
            table = found.email if identifier == "email" else found.phone_number
            for profile in looked.profiles:
                value = (profile.get("attributes") or {}).get(identifier)
                if isinstance(value, str):
                    table.setdefault(value.lower() if identifier == "email" else value, profile)
        return found

    async def _by_id(
        self, profile_ids: Sequence[str]
    ) -> tuple[dict[str, Profile], dict[str, KlaviyoSyncError]]:
        """Profiles by id, and the ids whose lookup failed with its error."""
        looked = await look_up(
            self._client, "id", list(profile_ids), additional_fields=_SUBSCRIPTIONS
        )
        return {str(profile["id"]): profile for profile in looked.profiles}, looked.failed


def _confirm(p: Planned, key: str) -> None:
    """A pending subscription Klaviyo has as given: applied from now on, and audited."""
    p.applied = {**(p.applied or {}), key: True}
    p.before = p.before.with_applied(p.applied)
    p.confirmed.append(key)
    what = "SubscribeProfile" if key == SUBSCRIBE_KEY else f"LIST_{key.partition(':')[2]}"
    now = "subscribed" if key == SUBSCRIBE_KEY else "a member"
    p.draft.notes.append(f"{what}: the consent email sent before was confirmed in Klaviyo: {now}")


_CONFIRMED_UNSENT: Final = (
    "a consent email sent before was confirmed in Klaviyo; a sync records it when it next "
    "reads this profile's consent (--full, a Manual Sync, or a change of its consent or lists)"
)


def _note(outcome: Outcome, note: str) -> None:
    outcome.detail["notes"] = [*outcome.detail.get("notes", []), note]


def _drop(pending: list[Planned], settled: list[Outcome], stopped: Sequence[Outcome]) -> None:
    """Settle ``stopped`` and take their customers out of ``pending``."""
    if not stopped:
        return
    settled.extend(stopped)
    ids = {outcome.customer_id for outcome in stopped}
    pending[:] = [p for p in pending if p.customer.id not in ids]


def _read_failures(
    planned: Sequence[Planned], failed_ids: Mapping[str, KlaviyoSyncError], what: str
) -> list[Outcome]:
    """Failures of the customers whose profile could not be read by id."""
    return [
        _lookup_failed(p, failed_ids[p.profile_id], what)
        for p in planned
        if p.profile_id is not None and p.profile_id in failed_ids
    ]


def _lookup_failed(p: Planned, error: KlaviyoSyncError, what: str) -> Outcome:
    """A customer whose lookup failed all its tries: failed, and nothing written for it.

    Retryable when the error is (an outage, a rate limit): a later run reads it again."""
    failure = failure_from_error(error, stage="match", customer_id=p.customer.id)
    note = (
        f"the lookup of {what} in Klaviyo failed, so nothing was written for this customer "
        "(a create could duplicate a profile Klaviyo may hold, a subscribe could override "
        "its consent); the rest of the batch went on"
    )
    return failed(
        p.customer.id, failure, profile_id=p.profile_id, route=p.route, detail={"notes": [note]}
    )


def _identifiers_moved(p: Planned) -> bool:
    """Whether a linked customer's email or phone may now belong to another profile: it is
    not what the profile is known to hold, or the link was settled by hand after a conflict."""
    if p.link is not None and p.link.how == "conflict":
        return True
    known = p.before.fields
    email, phone = p.draft.email, p.draft.phone_number
    email_known = known.get("email")
    if email and not (isinstance(email_known, str) and email_known.lower() == email.lower()):
        return True
    return bool(phone and known.get("phone_number") != phone)


def _check_link(p: Planned, found: _Found) -> Outcome | None:
    """A linked customer whose identifiers belong to other profiles: a conflict, or (for a
    link a person chose after a conflict) those identifiers are kept off the profile."""
    elsewhere: dict[str, str] = {}
    for identifier in _IDENTIFIERS:
        profile = found.get(identifier, p.draft.attributes.get(identifier))
        if profile is not None and str(profile["id"]) != p.profile_id:
            elsewhere[identifier] = str(profile["id"])
    if not elsewhere:
        return None
    if p.link is not None and p.link.how != "conflict":
        return conflict_outcome(p, elsewhere)
    for identifier, profile_id in elsewhere.items():
        value = p.draft.attributes.pop(identifier)
        p.draft.notes.append(
            f"{identifier} {value!r} not sent: it belongs to profile {profile_id}, and this "
            f"customer was linked to profile {p.profile_id} by hand"
        )
    return None


def _would_subscribe(p: Planned) -> bool:
    """Whether the diff asks Klaviyo for consent on a profile whose consent it has not read."""
    diff = p.diff
    if diff is None or p.before.klaviyo is not None:
        return False
    consent = diff.consent
    wants = consent is not None and consent.after == "subscribed" and consent.skipped is None
    wants = wants and "SubscribeProfile" not in p.draft.overrides
    lists = any(
        c.action == "add" and c.consent and c.skipped is None and c.row not in p.draft.overrides
        for c in diff.lists
    )
    return wants or lists


def conflict_outcome(p: Planned, profiles: Mapping[str, str]) -> Outcome:
    """``conflict``: the customer's identifiers point at different profiles; nothing written."""
    involved = dict(profiles)
    if p.link is not None:
        involved = {"link": p.link.profile_id, **involved}
    elif p.profile_id is not None and p.route == "match":
        involved = {"match": p.profile_id, **involved}
    named = ", ".join(f"the {_WHAT[k]} at profile {v}" for k, v in involved.items())
    candidates = sorted(set(involved.values()))
    message = (
        f"identity conflict: {named}; nothing was written. Choose one with "
        f"`klaviyo-sync errors resolve <failure id> --profile <{' | '.join(candidates)}>`"
    )
    failure = Failure(
        customer_id=p.customer.id,
        stage="match",
        kind="conflict",
        message=message,
        detail={"profiles": involved, "candidates": candidates},
    )
    return Outcome(
        p.customer.id,
        "conflict",
        profile_id=None,
        route=p.route,
        detail={"profiles": involved},
        failure=failure,
    )


def duplicate_of(error: KlaviyoDuplicateProfileError) -> dict[str, str]:
    """The profile a 409 ``duplicate_profile`` names, for ``conflict_outcome``."""
    return {"duplicate": error.duplicate_profile_id} if error.duplicate_profile_id else {}


_WHAT: Final = {
    "link": "stored link points",
    "match": "match points",
    "email": "email is",
    "phone_number": "phone number is",
    "duplicate": "profile Klaviyo says holds its identifier is",
}


def _unchanged(customer_id: str, profile_id: str, draft: Draft) -> Outcome:
    detail: dict[str, Any] = {"notes": list(draft.notes)} if draft.notes else {}
    return Outcome(customer_id, "unchanged", profile_id=profile_id, route="update", detail=detail)


def _stuck(failure: FailureRecord, fingerprint: str) -> bool:
    """Whether ``failure`` was met by this very draft, and would be again."""
    if failure.detail.get("fingerprint") != fingerprint:
        return False
    return failure.kind in STUCK_KINDS or is_partial(failure.detail)


def _still_left_out(failure: FailureRecord, link: Link) -> Outcome:
    """The customer is as it was when Klaviyo left fields out: its profile holds the rest, so
    it is unchanged; nothing is sent, and the failure is carried so it stays open."""
    fields = ", ".join(failure.detail["fields"])
    note = (
        f"unchanged since Klaviyo left out its {fields} as invalid (error log #{failure.id}): "
        "not sent again; correct it at the source"
    )
    return Outcome(
        failure.customer_id or "",
        "unchanged",
        profile_id=link.profile_id,
        route="update",
        detail={"notes": [note]},
        failure=carried(failure),
    )


def _still_failing(failure: FailureRecord, link: Link | None) -> Outcome:
    """The customer is as it was when Klaviyo refused it: not sent again, still failed."""
    kept = Failure(
        customer_id=failure.customer_id,
        stage=failure.stage,
        kind=failure.kind,
        message=failure.message,
        retryable=False,
        detail=failure.detail,
    )
    note = (
        f"unchanged since Klaviyo refused it ({failure.kind}, error log #{failure.id}): not "
        "sent again; fix the customer at the source, or run `klaviyo-sync errors retry "
        f"{failure.id}`"
    )
    customer_id = failure.customer_id or ""
    return failed(
        customer_id,
        kept,
        profile_id=link.profile_id if link else None,
        route="update" if link else "create",
        detail={"notes": [note]},
    )


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
