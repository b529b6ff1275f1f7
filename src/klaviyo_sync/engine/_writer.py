"""The writer: applies a batch plan to Klaviyo and reports outcomes, links and fingerprints.

Profiles are created or patched one request each (the seed's per-record strategy), a few at a
time within the client's rate limits. A 409 ``duplicate_profile`` on create links the existing
profile and patches it instead; a 409 on a patch (the email or phone belongs to another
profile) is an identity conflict, and nothing more is written for that customer; a 404 on a
linked profile drops the stale link and routes the customer as if it were new. Consent and
list changes follow, batched (see ``_consent``).

Every profile write reads what Klaviyo left out of it (``X-Klaviyo-Partial-Failure``: an
invalid phone beside a valid email is dropped and the write answers 2xx). The customer's
outcome still says the profile was written, with a note, and carries a failure for the field
(``_partial``); its applied state and fingerprint leave the field out.

So does a customer whose profile was written but whose subscription or list step failed (a
list Klaviyo does not have, a call that failed all its tries): its outcome says what happened
to the profile (``created``, ``updated``, ``matched_…``) and carries the step's failure, which
the error log keeps open. Its link and applied state are stored, without the failed intents
(they keep what was applied before), and its fingerprint is the draft's without them, so the
next run sends them again. Should Klaviyo also have left a field out, the outcome carries that
field's failure (its being open is what keeps the value withheld) and names the step's in a
note; the failed intents are sent again on the next run all the same.

``write_each`` and ``finish`` are the two halves of ``apply``: the bulk writer (``_bulk``)
writes profiles its own way and hands its results to the same ``finish``, so consent, lists
and outcomes work the same on both paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..draft import Draft
from ..exceptions import (
    FatalError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
)
from ..klaviyo import KlaviyoClient, Saved
from ..outcome import Failure, Link, LinkHow, Outcome, OutcomeKind
from ._consent import ConsentResult, ConsentWriter, confirmations, intents
from ._diff import SUBSCRIBE_KEY, Before, Diff, applied_state
from ._failures import failed, failure_from_error
from ._partial import left_out, partial_failure, without
from ._plan import Attempt, BatchPlan, BatchResult, MatchedBy, Planned, Written
from ._planner import Planner, conflict_outcome, duplicate_of

__all__ = ["Writer", "adopt", "changes", "duplicate_reason"]

_SUBSCRIPTIONS = ("subscriptions",)


class Writer:
    """Writes profiles, then consent and lists, for one batch at a time."""

    def __init__(
        self,
        client: KlaviyoClient,
        planner: Planner,
        consent: ConsentWriter,
        *,
        concurrency: int = 8,
    ) -> None:
        self._client = client
        self._planner = planner
        self._consent = consent
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def planner(self) -> Planner:
        return self._planner

    async def apply(self, plan: BatchPlan) -> tuple[BatchResult, FatalError | None]:
        """Apply ``plan``; a FatalError stops nothing already under way and is returned."""
        return await self.finish(plan, await self.write_each(plan.planned))

    async def write_each(self, planned: Sequence[Planned]) -> list[Attempt]:
        """Write each profile with its own request, a few at a time: one attempt per plan."""
        return list(await asyncio.gather(*(self._guarded(p) for p in planned)))

    async def finish(
        self, plan: BatchPlan, tries: Sequence[Attempt]
    ) -> tuple[BatchResult, FatalError | None]:
        """Consent and lists for the profiles written, then every customer's outcome.

        ``tries`` holds one attempt per ``plan.planned``, in the same order.
        """
        result = BatchResult(
            outcomes=list(plan.settled),
            fingerprints=dict(plan.fingerprints),
            applied=dict(plan.applied),
            audit=list(plan.audit),
        )
        written = [t for t in tries if isinstance(t, Written)]
        fatal = next((t for t in tries if isinstance(t, FatalError)), None)
        for p, outcome in zip(plan.planned, tries, strict=True):
            if isinstance(outcome, Outcome):
                result.outcomes.append(outcome)
            elif isinstance(outcome, FatalError):
                failure = failure_from_error(outcome, stage="write", customer_id=p.customer.id)
                result.outcomes.append(failed(p.customer.id, failure, route=p.route))
        consent: dict[str, ConsentResult] = {}
        if fatal is None:
            try:
                consent = await self._consent.apply(written)
            except FatalError as err:
                fatal = err
        if fatal is not None:
            # The profiles were written, but nothing after them was: fail the rest loudly.
            for w in written:
                failure = failure_from_error(
                    fatal, stage="subscribe", customer_id=w.planned.customer.id
                )
                diff = w.planned.diff
                keys = intents(diff) if diff is not None else set()
                consent[w.planned.customer.id] = ConsentResult(failure=failure, failed=keys)
        for w in written:
            self._settle(w, consent.get(w.planned.customer.id), result)
        return result, fatal

    async def _guarded(self, planned: Planned) -> Attempt:
        async with self._slots:
            try:
                return await self._write(planned)
            except FatalError as err:
                return err
            except Exception as err:  # every customer ends in exactly one outcome
                return _write_failed(planned, err)

    async def _write(self, p: Planned) -> Written | Outcome:
        attributes = p.draft.profile_attributes()
        if p.route == "create":
            return await self._create(p, attributes)
        assert p.profile_id is not None
        try:
            saved = await self._client.update_profile(p.profile_id, attributes)
        except KlaviyoNotFoundError:
            return await self._reroute(p)
        except KlaviyoDuplicateProfileError as err:
            # The new email or phone belongs to another profile: which one is meant is a
            # person's call, and writing on would move identifiers between profiles.
            return conflict_outcome(p, duplicate_of(err))
        payload = p.draft.profile_document(p.profile_id)
        if p.route == "update":
            return _written(p, saved, "updated", payload, _PATCH)
        how = p.matched_by or "matched_email"
        link = Link(p.customer.id, p.profile_id, how)
        return _written(p, saved, how, payload, _PATCH, link)

    async def _create(self, p: Planned, attributes: dict[str, Any]) -> Written | Outcome:
        try:
            saved = await self._client.create_profile(attributes)
        except KlaviyoDuplicateProfileError as err:
            if err.duplicate_profile_id is None:
                raise
            return await self._adopt_duplicate(p, err.duplicate_profile_id)
        link = Link(p.customer.id, saved.id, "created")
        return _written(p, saved, "created", p.draft.profile_document(), _POST, link)

    async def _adopt_duplicate(self, p: Planned, profile_id: str) -> Written | Outcome:
        """Klaviyo already has a profile with one of our identifiers: link it and patch it.
        Its consent is read with it: an existing profile's consent is Klaviyo's."""
        existing = await self._client.get_profile(profile_id, additional_fields=_SUBSCRIPTIONS)
        how, kind = adopt(self._planner, p, existing)
        try:
            saved = await self._client.update_profile(profile_id, p.draft.profile_attributes())
        except KlaviyoDuplicateProfileError as err:
            return conflict_outcome(p, duplicate_of(err))
        note = f"create met 409 duplicate_profile; linked existing profile {profile_id}"
        link = Link(p.customer.id, profile_id, how)
        payload = p.draft.profile_document(profile_id)
        written = _written(p, saved, kind, payload, _PATCH, link)
        written.notes = (note, *written.notes)
        return written

    async def reroute(self, p: Planned) -> Attempt:
        """``_reroute`` for one customer, with every error turned into its outcome."""
        async with self._slots:
            try:
                return await self._reroute(p)
            except FatalError as err:
                return err
            except Exception as err:
                return _write_failed(p, err)

    async def _reroute(self, p: Planned) -> Written | Outcome:
        """The linked or matched profile is gone (404): route the customer as unlinked."""
        draft = self._planner.draft(p.customer, None)
        fresh = Planned(p.customer, draft, "create", fingerprint=draft.fingerprint())
        if p.route == "update":
            conflicts = await self._planner.match([fresh])
            if conflicts:
                return conflicts[0]
        self._planner.diff(fresh)
        written = await self._write(fresh)
        if isinstance(written, Written):
            note = (
                f"profile {p.profile_id} no longer exists in Klaviyo; the stale link was replaced"
            )
            written.notes = (*written.notes, note)
        return written

    def _settle(self, w: Written, consent: ConsentResult | None, result: BatchResult) -> None:
        """The customer's outcome, link, applied state, fingerprint and audit. A step of the
        consent stage that failed leaves the outcome saying what happened to the profile, and
        carrying that failure."""
        p = w.planned
        customer_id = p.customer.id
        consent = consent or ConsentResult()
        detail = _detail(w, consent)
        if w.link is not None:
            result.links.append(w.link)
        result.audit.extend(confirmations(p))
        result.audit.extend(consent.audit)
        failed_keys = frozenset(consent.failed)
        unsettled = frozenset(consent.unsettled)
        if failed_keys:
            # What was applied, without the failed intents: the next run sends them again.
            applied = _without_intents(without(p.draft, list(w.dropped)), failed_keys)
            fingerprint = applied.fingerprint()
        elif w.left_out:
            fingerprint = without(p.draft, list(w.dropped)).fingerprint()
        else:
            fingerprint = p.fingerprint or p.draft.fingerprint()
        result.fingerprints[customer_id] = fingerprint
        result.applied[customer_id] = _applied(p, w.dropped, unsettled, consent, failed_keys)
        failure = _left_out_failure(w, fingerprint if failed_keys else None)
        if consent.failure is not None:
            step = "subscription" if consent.failure.stage == "subscribe" else "list"
            note = (
                f"the profile was written, but its {step} step failed "
                f"({consent.failure.kind}): sent again on the next run"
            )
            if failure is not None:
                note += f"; {consent.failure.message}"
            detail["notes"] = [*detail.get("notes", []), note]
            failure = failure or consent.failure
        result.outcomes.append(
            Outcome(
                customer_id,
                w.kind,
                w.profile_id,
                route=p.route,
                detail=detail,
                failure=failure,
            )
        )


_POST = "POST /api/profiles"
_PATCH = "PATCH /api/profiles/{id}"


def _written(
    p: Planned,
    saved: Saved,
    kind: OutcomeKind,
    payload: dict[str, Any],
    request: str,
    link: Link | None = None,
) -> Written:
    """A profile write Klaviyo accepted, with the fields it left out of it."""
    dropped = left_out(p.draft, saved.dropped)
    notes: tuple[str, ...] = ()
    if dropped:
        named = ", ".join(f"{name} {value!r}" for name, value in dropped.items())
        notes = (
            f"Klaviyo left out {named} as invalid (X-Klaviyo-Partial-Failure): the profile "
            "was written without it",
        )
    return Written(
        p,
        saved.id,
        kind,
        payload,
        link,
        notes,
        dropped=dropped,
        request=request.replace("{id}", saved.id),
        status=201 if saved.created else 200,
    )


def _left_out_failure(w: Written, fingerprint: str | None = None) -> Failure | None:
    """The failure the outcome of a profile written without some fields carries: a new one
    for fields Klaviyo left out now, else the open one for values withheld (kept open).

    It holds the fingerprint of the draft it was met with, so the next run with the same draft
    does not send it again; ``fingerprint`` replaces it when something else (a failed consent
    step) must be sent again."""
    p = w.planned
    failure = p.kept
    if w.dropped:
        failure = partial_failure(
            p,
            w.left_out,
            done=w.kind,
            header=", ".join(w.dropped),
            request=w.request,
            status=w.status,
            payload=w.payload,
            answer=w.answer or None,
        )
    if failure is None:
        return None
    # The draft as the source has it now: an unchanged customer is then not sent again.
    kept = fingerprint or p.fingerprint
    return replace(failure, detail={**failure.detail, "fingerprint": kept})


def _applied(
    p: Planned,
    dropped: dict[str, Any],
    unsettled: frozenset[str],
    consent: ConsentResult,
    failed: frozenset[str],
) -> dict[str, Any]:
    """The applied state, with what Klaviyo left out as it was before (a dropped phone leaves
    a stored one as it was) or absent, the consent stage's intents as it left them (pending,
    failed)."""
    state = applied_state(p.applied, p.draft, unsettled, done=consent.done, failed=failed)
    before = p.applied or {}
    for name in dropped:
        if name in before:
            state[name] = before[name]
        else:
            state.pop(name, None)
    return state


def _without_intents(draft: Draft, keys: frozenset[str]) -> Draft:
    """``draft`` without the consent and list intents named by applied-state keys."""
    lists, uclists = dict(draft.lists), dict(draft.uclists)
    subscribe = None if SUBSCRIBE_KEY in keys else draft.subscribe
    for key in keys:
        kind, _, name = key.partition(":")
        (lists if kind == "$list" else uclists).pop(name, None)
    return replace(draft, subscribe=subscribe, lists=lists, uclists=uclists)


def _write_failed(planned: Planned, error: Exception) -> Outcome:
    failure = failure_from_error(
        error,
        stage="write",
        customer_id=planned.customer.id,
        payload=planned.draft.profile_document(planned.profile_id),
    )
    return failed(planned.customer.id, failure, profile_id=planned.profile_id, route=planned.route)


def adopt(planner: Planner, p: Planned, profile: dict[str, Any]) -> tuple[LinkHow, OutcomeKind]:
    """A create met a profile Klaviyo already had: it is now a match of that profile, its diff
    is against the profile as Klaviyo returned it; returns how it is linked and its outcome."""
    how, kind = duplicate_reason(p.draft, profile.get("attributes") or {})
    p.route = "match"
    p.profile_id = str(profile["id"])
    p.matched_by = _MATCHED.get(how)
    p.before = Before.from_profile(profile)
    planner.diff(p)
    return how, kind


_MATCHED: dict[str, MatchedBy] = {
    "matched_email": "matched_email",
    "matched_phone": "matched_phone",
}


def duplicate_reason(draft: Draft, existing: dict[str, Any]) -> tuple[LinkHow, OutcomeKind]:
    email = existing.get("email")
    if draft.email and isinstance(email, str) and email.lower() == draft.email.lower():
        return "matched_email", "matched_email"
    if draft.phone_number and existing.get("phone_number") == draft.phone_number:
        return "matched_phone", "matched_phone"
    return "duplicate", "updated"


def _detail(w: Written, consent: ConsentResult | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"route": w.planned.route, "payload": w.payload}
    if w.planned.matched_by:
        detail["matched_by"] = w.planned.matched_by
    if w.planned.diff is not None and w.planned.existing:
        detail.update(changes(w.planned.diff))
    notes = [*w.planned.draft.notes, *w.notes]
    if consent is not None:
        detail.update(consent.detail)
        notes.extend(consent.notes)
    if notes:
        detail["notes"] = notes
    return detail


_CHANGE_NAMES = {"set": "set", "change": "changed", "clear": "cleared", "kept": "kept"}


def changes(diff: Diff) -> dict[str, list[str]]:
    """The fields a diff sets, changes, clears and keeps, by name, for an outcome's detail."""
    named: dict[str, list[str]] = {}
    for change in diff.fields:
        named.setdefault(_CHANGE_NAMES[change.kind], []).append(change.field)
    return named
