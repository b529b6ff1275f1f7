"""Subscription state and list membership, after the profiles of a batch are written.

The seed's rules, as DESIGN.md states them:

- ``SubscribeProfile`` true subscribes (email marketing; SMS too only when ``subscribe_sms`` is
  on); false, or no such mapping at all, unsubscribes; an empty value leaves consent alone.
  Such a subscription names no list, so it follows the account's opt-in process
  (``account_opt_in``, double opt-in unless the account changed it): then the profile is sent a
  consent email, and the audit and outcome say so, not "subscribed".
- ``LIST_{name}`` true subscribes to that list through the consent endpoint (a double opt-in
  list sends a confirmation email and the profile waits for it); false removes from the list.
- ``UCLIST_{name}`` true adds to the list without consent (membership endpoint, no email);
  false removes from the list.
- A profile joins lists only when ``SubscribeProfile`` is true: the seed makes that value what
  makes a profile "eligible ... to be added to lists". Removals always apply.

Only what changed is sent: each customer's diff (``_diff``) says which consent and list changes
its draft makes against what was last applied, and which are skipped (Klaviyo owns consent: a
profile unsubscribed in Klaviyo is not subscribed again; no email address to ask consent with).
So a customer who unsubscribed inside Klaviyo stays unsubscribed however often the source says
true. Every change made is returned as an ``AuditEntry``, and only a change: a resend (``--full``,
a Manual Sync) of what already holds is sent but not audited. A double opt-in subscription is
audited, and kept as applied, as pending (``PENDING``), never as subscribed or member. Intents
that could not be carried out for a reason a later run may not have (no email address yet,
``SubscribeProfile`` not true yet) are returned as *unsettled*, so the store does not remember
them as applied.

Each step is on its own: a list Klaviyo does not have, or a call that failed, fails that step
only (its intent is returned as *failed*, so the store keeps what was applied before and the next
run sends it again); the customer's other steps go on, and its outcome still says what happened
to its profile, carrying the step's failure. Calls are batched per endpoint and list, one
request's worth at a time (1,000 profiles a subscription job or list call, 100 an
unsubscription job), so a request that fails all its tries fails only the customers it carried:
the calls before and after it go on, and those customers' step fails retryable. When a batched
call is refused for a reason that belongs to one record (a 400), that call is replayed one
profile at a time so only the culprit fails. Klaviyo's lists are read once per run; when that
read fails, only the list steps fail.

What the consent stage will do with a change (``decide_list``, ``ConsentChange.shown_after``)
is decided by the same code for a plan (``ConsentWriter.preview``) as for a sync.

A phone Klaviyo left out of the profile write (``X-Klaviyo-Partial-Failure``, see ``_partial``)
asks for no SMS consent; and when a subscription job answers that it dropped a field, the
consent on that field's channel is not counted as given for the profiles of that job (the
header names no profile): neither audited as given nor kept as applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from ..exceptions import FatalError, KlaviyoSyncError, RecordError
from ..klaviyo import (
    MAX_LIST_MEMBERS_PER_CALL,
    MAX_SUBSCRIBE_PER_CALL,
    MAX_UNSUBSCRIBE_PER_CALL,
    KlaviyoClient,
    SubscriptionTarget,
)
from ..outcome import AuditAction, AuditEntry, Failure, Stage
from ._diff import (
    PENDING,
    PENDING_LIST,
    PENDING_SUBSCRIBE,
    SUBSCRIBE_KEY,
    ConsentChange,
    Diff,
    ListChange,
    list_key,
    no_channel,
)
from ._failures import failure_from_error

if TYPE_CHECKING:
    from ._plan import Planned, Written

__all__ = [
    "CONFIRMED_LIST",
    "CONFIRMED_SUBSCRIBE",
    "PENDING_LIST",
    "PENDING_SUBSCRIBE",
    "ConsentResult",
    "ConsentWriter",
    "KlaviyoList",
    "ListDecision",
    "ListDirectory",
    "Preview",
    "confirmations",
    "decide_list",
    "intents",
]

CONFIRMED_SUBSCRIBE: Final = "subscribed (confirmed)"
"""A pending subscription Klaviyo has since as subscribed, as the audit records it."""
CONFIRMED_LIST: Final = "member (confirmed)"
"""A pending ``LIST_`` subscription Klaviyo has since as a member, as the audit records it."""

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class KlaviyoList:
    id: str
    name: str
    opt_in_process: str


class ListDirectory:
    """Klaviyo's lists by name, read once per run on first use.

    A read that fails is not kept: half a directory would make lists look missing."""

    def __init__(self, client: KlaviyoClient) -> None:
        self._client = client
        self._by_name: dict[str, KlaviyoList] | None = None

    async def load(self, *, carrying: int = 1) -> Mapping[str, KlaviyoList]:
        """The lists; ``carrying``: how many customers wait on them (see ``RetryPolicy``)."""
        if self._by_name is None:
            by_name: dict[str, KlaviyoList] = {}
            async for item in self._client.iter_lists(carrying=carrying):
                attrs = item.get("attributes", {})
                entry = KlaviyoList(
                    str(item["id"]), str(attrs.get("name")), str(attrs.get("opt_in_process"))
                )
                by_name.setdefault(entry.name, entry)
            self._by_name = by_name
        return self._by_name

    async def get(self, name: str) -> KlaviyoList | None:
        return (await self.load()).get(name)


@dataclass(slots=True)
class ConsentResult:
    """What the consent stage did for one customer: ``detail`` goes into its outcome, ``audit``
    holds the changes made. The other fields are keys of the applied state (``$subscribe``,
    ``$list:{name}``, ``$uclist:{name}``): ``unsettled`` the intents left for a later run,
    ``failed`` those whose step failed (``failure`` is the first such failure), ``done`` the
    state each intent carried out now has (True, False, or ``PENDING``)."""

    detail: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failure: Failure | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    unsettled: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    done: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Step:
    """One change as a call carries it out: the applied-state key, the state it leaves once
    the call went through, and its audit entry (None: nothing changes, a resend of what holds)."""

    key: str
    value: bool | str
    entry: AuditEntry | None


_Item = tuple[str, T, Step]
"""One call's part for one customer: its id, what to send, and the change it makes."""

_SUBSCRIBE, _UNSUB, _MEMBERS = (
    MAX_SUBSCRIBE_PER_CALL,
    MAX_UNSUBSCRIBE_PER_CALL,
    MAX_LIST_MEMBERS_PER_CALL,
)
"""Customers per request: a subscription job, an unsubscription job, a list call."""

_Lists = Mapping[str, KlaviyoList] | KlaviyoSyncError
"""Klaviyo's lists by name, or why they could not be read."""

ListCall = Literal["subscribe", "add", "remove"]


@dataclass(slots=True, frozen=True)
class ListDecision:
    """What the consent stage does with one list change: what the outcome shows for it, the
    call it makes (None: none), the list, and why the step fails, if it does."""

    change: ListChange
    shown: str
    call: ListCall | None = None
    list_id: str | None = None
    error: KlaviyoSyncError | None = None
    """the lists could not be read"""
    unknown: bool = False
    """Klaviyo has no list by that name"""
    unsettled: bool = False
    """not made for a reason a later run may not have"""

    @property
    def value(self) -> bool | str:
        """The intent's state once the call went through."""
        if self.call == "remove":
            return False
        return PENDING if self.change.consent and self.change.confirm else True

    @property
    def after(self) -> str:
        """The change's after, as the audit records it."""
        if self.call == "subscribe":
            return PENDING_LIST if self.change.confirm else "subscribed"
        return self.change.shown_after

    @property
    def changes(self) -> bool:
        """Whether the call changes anything: not a resend of what holds already."""
        before = self.change.shown_before
        now = {True: "member", False: "not a member", PENDING: PENDING}[self.value]
        return before != now

    def failure(self, customer_id: str) -> Failure | None:
        if self.error is not None:
            return failure_from_error(self.error, stage="lists", customer_id=customer_id)
        if self.unknown:
            return Failure(
                customer_id,
                "lists",
                "unknown_list",
                f"Klaviyo has no list named {self.change.name!r}",
                detail={"list": self.change.name},
            )
        return None


def decide_list(change: ListChange, lists: _Lists, *, channel: str | None) -> ListDecision:
    """What a list change comes to, with Klaviyo's lists (or why they could not be read);
    ``channel`` is what the customer lacks to be asked consent with (None: nothing)."""
    if isinstance(lists, KlaviyoSyncError):
        return ListDecision(change, "not changed: Klaviyo's lists could not be read", error=lists)
    found = lists.get(change.name)
    if found is None:
        return ListDecision(change, "no such list", unknown=True)
    if change.skipped:
        return ListDecision(change, change.skipped)
    if change.action == "remove":
        return ListDecision(change, "removed", "remove", found.id)
    if not change.consent:
        return ListDecision(change, "added", "add", found.id)
    if channel is not None:
        return ListDecision(change, f"not added: no {channel} to ask consent with", unsettled=True)
    # A member already is not asked again: Klaviyo sends nothing to a confirmed member.
    confirm = found.opt_in_process == "double_opt_in" and not change.member
    change = replace(change, confirm=confirm)
    return ListDecision(change, PENDING_LIST if confirm else "subscribed", "subscribe", found.id)


def intents(diff: Diff) -> set[str]:
    """The applied-state keys of the consent and list changes a diff would make."""
    keys = {list_key(c.name, consent=c.consent) for c in diff.lists if c.skipped is None}
    if diff.consent is not None and diff.consent.skipped is None:
        keys.add(SUBSCRIBE_KEY)
    return keys


def confirmations(p: Planned) -> list[AuditEntry]:
    """The audit entries for the pending subscriptions the planner found confirmed."""
    entries = []
    for key in p.confirmed:
        if key == SUBSCRIBE_KEY:
            action: AuditAction = "subscribe"
            after, row, name = CONFIRMED_SUBSCRIBE, "SubscribeProfile", None
        else:
            action, after = "list_add", CONFIRMED_LIST
            name = key.partition(":")[2]
            row = f"LIST_{name}"
        entries.append(
            AuditEntry(p.customer.id, p.profile_id or "", action, PENDING, after, row, name)
        )
    return entries


@dataclass(slots=True)
class Preview:
    """What the consent stage would do for one planned customer, as a plan shows it: the
    outcome's ``consent`` and ``lists`` detail, the diff with what Klaviyo's lists say, and the
    failure of its list step, if it would fail."""

    consent: str | None = None
    lists: dict[str, str] = field(default_factory=dict)
    diff: Diff | None = None
    failure: Failure | None = None


@dataclass(slots=True)
class _Calls:
    """The batched calls to make, each item tagged with its customer and step."""

    subscribe: list[_Item[SubscriptionTarget]] = field(default_factory=list)
    unsubscribe: list[_Item[SubscriptionTarget]] = field(default_factory=list)
    list_subscribe: dict[str, list[_Item[SubscriptionTarget]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    list_add: dict[str, list[_Item[str]]] = field(default_factory=lambda: defaultdict(list))
    list_remove: dict[str, list[_Item[str]]] = field(default_factory=lambda: defaultdict(list))


class ConsentWriter:
    """Applies the subscription and list intents of written drafts.

    Whether a subscription without a list waits for a consent email (the account's opt-in
    process, ``account_opt_in``) is decided in the diff (``ConsentChange.confirm``)."""

    def __init__(
        self,
        client: KlaviyoClient,
        lists: ListDirectory,
        *,
        subscribe_sms: bool = False,
    ) -> None:
        self._client = client
        self._lists = lists
        self._sms = subscribe_sms

    @property
    def lists(self) -> ListDirectory:
        return self._lists

    async def apply(self, written: Sequence[Written]) -> dict[str, ConsentResult]:
        results = {w.planned.customer.id: ConsentResult() for w in written}
        calls = _Calls()
        lists = await self._read_lists([w.planned for w in written])
        for w in written:
            self._plan(w, calls, results[w.planned.customer.id], lists)
        await self._run(calls, results)
        return results

    async def preview(self, planned: Sequence[Planned]) -> dict[str, Preview]:
        """What ``apply`` would do for each planned customer, if its profile is written as
        planned; nothing is sent (Klaviyo's lists are read)."""
        lists = await self._read_lists(planned)
        previews = {}
        for p in planned:
            diff = p.diff
            if diff is None:
                continue
            shown = Preview(diff=diff)
            if diff.consent is not None:
                shown.consent = diff.consent.skipped or diff.consent.shown_after
            changes = []
            for change in diff.lists:
                decision = decide_list(change, lists, channel=None)
                shown.lists[change.name] = decision.shown
                shown.failure = shown.failure or decision.failure(p.customer.id)
                changes.append(decision.change)
            if changes:
                shown.diff = replace(diff, lists=tuple(changes))
            previews[p.customer.id] = shown
        return previews

    async def _read_lists(self, planned: Sequence[Planned]) -> _Lists:
        """Klaviyo's lists when a customer's lists change; a failed read is returned, and
        fails the list step of those customers only."""
        waiting = sum(1 for p in planned if p.diff is not None and p.diff.lists)
        if not waiting:
            return {}
        try:
            return await self._lists.load(carrying=waiting)
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            return err

    def _plan(self, w: Written, calls: _Calls, result: ConsentResult, lists: _Lists) -> None:
        draft, diff = w.planned.draft, w.planned.diff
        if diff is None:
            raise AssertionError("the planner gives every planned customer a diff")
        refused = w.left_out.get("phone_number")
        phone = None if refused is not None else draft.phone_number
        target = self._target(draft.email, phone, w.profile_id)
        channel = None if target is not None else no_channel(self._sms)
        change = diff.consent
        result.unsettled.update(diff.held_back)
        if change is not None and change.skipped:
            result.detail["consent"] = change.skipped
        elif change is not None and target is None:
            # Only the phone Klaviyo left out of the profile could have been asked.
            result.detail["consent"] = f"consent not changed: no {channel}"
            result.unsettled.add(SUBSCRIBE_KEY)
        elif change is not None and target is not None:
            self._plan_consent(w, change, target, calls)
            result.detail["consent"] = change.shown_after
            if self._sms and refused is not None:
                # The SMS consent this intent stands for is not given: not applied either.
                result.notes.append(
                    f"SMS consent not asked: Klaviyo left out the phone {refused!r}"
                )
                result.unsettled.add(SUBSCRIBE_KEY)
        shown = {}
        for item in diff.lists:
            shown[item.name] = self._plan_list(item, w, target, channel, calls, result, lists)
        if shown:
            result.detail["lists"] = shown

    def _plan_consent(
        self, w: Written, change: ConsentChange, target: SubscriptionTarget, calls: _Calls
    ) -> None:
        subscribe = change.after == "subscribed"
        action: AuditAction = "subscribe" if subscribe else "unsubscribe"
        after = change.shown_after
        if self._sms and "phone_number" in w.left_out:
            after = f"{after} (email only: Klaviyo left out the phone)"
        entry = None
        if change.before != change.state_after:
            entry = self._entry(w, action, change.before, after, change.row)
        value: bool | str = PENDING if change.state_after == PENDING else subscribe
        step = Step(SUBSCRIBE_KEY, value, entry)
        (calls.subscribe if subscribe else calls.unsubscribe).append(
            (w.planned.customer.id, target, step)
        )

    def _plan_list(
        self,
        change: ListChange,
        w: Written,
        target: SubscriptionTarget | None,
        channel: str | None,
        calls: _Calls,
        result: ConsentResult,
        lists: _Lists,
    ) -> str:
        customer_id = w.planned.customer.id
        decision = decide_list(change, lists, channel=channel)
        key = list_key(change.name, consent=change.consent)
        failure = decision.failure(customer_id)
        if failure is not None:
            _failed(result, failure, key)
            return decision.shown
        if decision.unsettled:
            result.unsettled.add(key)
        if decision.call is None or decision.list_id is None:
            return decision.shown
        change = decision.change
        entry = None
        if decision.changes:
            action: AuditAction = "list_remove" if decision.call == "remove" else "list_add"
            before = change.shown_before
            entry = self._entry(w, action, before, decision.after, change.row, change.name)
        step = Step(key, decision.value, entry)
        if decision.call == "subscribe":
            assert target is not None, "decide_list subscribes only with a channel"
            calls.list_subscribe[decision.list_id].append((customer_id, target, step))
        elif decision.call == "add":
            calls.list_add[decision.list_id].append((customer_id, w.profile_id, step))
        else:
            calls.list_remove[decision.list_id].append((customer_id, w.profile_id, step))
        return decision.shown

    @staticmethod
    def _entry(
        w: Written,
        action: AuditAction,
        before: str,
        after: str,
        row: str,
        list_name: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            customer_id=w.planned.customer.id,
            profile_id=w.profile_id,
            action=action,
            before=before,
            after=after,
            row=row,
            list_name=list_name,
        )

    def _target(
        self, email: str | None, phone: str | None, profile_id: str
    ) -> SubscriptionTarget | None:
        sms = self._sms and phone is not None
        if email is None and not sms:
            return None
        return SubscriptionTarget(
            email=email,
            phone_number=phone if sms else None,
            profile_id=profile_id,
            email_marketing=email is not None,
            sms_marketing=sms,
        )

    async def _run(self, calls: _Calls, results: dict[str, ConsentResult]) -> None:
        client = self._client
        await _call(calls.subscribe, client.subscribe_profiles, "subscribe", results, _SUBSCRIBE)
        await _call(calls.unsubscribe, client.unsubscribe_profiles, "subscribe", results, _UNSUB)
        for list_id, targets in calls.list_subscribe.items():

            async def subscribe(chunk: list[SubscriptionTarget], lid: str = list_id) -> None:
                await client.subscribe_profiles(chunk, list_id=lid)

            await _call(targets, subscribe, "lists", results, _SUBSCRIBE)
        for list_id, members in calls.list_add.items():

            async def add(ids: list[str], lid: str = list_id) -> None:
                await client.add_profiles_to_list(lid, ids)

            await _call(members, add, "lists", results, _MEMBERS)
        for list_id, members in calls.list_remove.items():

            async def remove(ids: list[str], lid: str = list_id) -> None:
                await client.remove_profiles_from_list(lid, ids)

            await _call(members, remove, "lists", results, _MEMBERS)


Send = Callable[[list[T]], Awaitable[Sequence[str] | None]]
"""One batched call; it returns the fields Klaviyo left out as invalid, if it can say."""


async def _call(
    items: list[_Item[T]],
    send: Send[T],
    stage: Stage,
    results: dict[str, ConsentResult],
    size: int,
) -> None:
    """Send the items in calls of at most ``size`` (one request each), so a call that fails
    fails only its own customers' step. Each item that went through is audited."""
    for start in range(0, len(items), size):
        await _call_once(items[start : start + size], send, stage, results)


async def _call_once(
    pending: list[_Item[T]],
    send: Send[T],
    stage: Stage,
    results: dict[str, ConsentResult],
) -> None:
    """One batched call; a per-record refusal is isolated by replaying the call singly."""
    try:
        dropped = await send([arg for _, arg, _ in pending])
    except FatalError:
        raise
    except RecordError as err:
        if len(pending) == 1:
            cid, _, step = pending[0]
            _fail(cid, err, stage, results, step.key)
            return
    except KlaviyoSyncError as err:
        for cid, _, step in pending:
            _fail(cid, err, stage, results, step.key)
        return
    else:
        for cid, arg, step in pending:
            _done(results[cid], arg, step, dropped or ())
        return
    for cid, arg, step in pending:
        try:
            dropped = await send([arg])
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            _fail(cid, err, stage, results, step.key)
        else:
            _done(results[cid], arg, step, dropped or ())


def _done(result: ConsentResult, arg: object, step: Step, dropped: Sequence[str]) -> None:
    """Audit a change that went through, less the channels whose identifier Klaviyo left out
    (the SMS consent goes with a dropped phone); a change lost so is not applied."""
    channels = arg.channels() if isinstance(arg, SubscriptionTarget) else []
    lost = [channel for channel, identifier in channels if identifier in dropped]
    entry = step.entry
    if not lost:
        result.done[step.key] = step.value
        if entry is not None:
            result.audit.append(entry)
        return
    result.unsettled.add(step.key)
    result.notes.append(
        f"{'/'.join(lost)} consent not counted as given: Klaviyo left out {', '.join(dropped)} "
        "as invalid in this subscription job (X-Klaviyo-Partial-Failure)"
    )
    kept = [channel for channel, _ in channels if channel not in lost]
    if kept and entry is not None:
        result.audit.append(replace(entry, after=f"{entry.after} ({', '.join(kept)} only)"))


def _fail(
    customer_id: str,
    error: Exception,
    stage: Stage,
    results: dict[str, ConsentResult],
    key: str,
) -> None:
    result = results[customer_id]
    _failed(result, failure_from_error(error, stage=stage, customer_id=customer_id), key)


def _failed(result: ConsentResult, failure: Failure, key: str) -> None:
    """A step failed: its intent is not applied, and the first failure is the customer's."""
    result.failed.add(key)
    if result.failure is None:
        result.failure = failure
