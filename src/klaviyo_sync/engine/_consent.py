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
profile unsubscribed in Klaviyo is not subscribed again). So a customer who unsubscribed inside
Klaviyo stays unsubscribed however often the source says true. Every change made is returned
as an ``AuditEntry``; intents that could not be carried out for a reason a later run may not
have (no email address yet, ``SubscribeProfile`` not true yet) are returned as *unsettled*, so
the store does not remember them as applied.

Calls are batched per endpoint and list, one request's worth at a time (1,000 profiles a
subscription job or list call, 100 an unsubscription job), so a request that fails all its
tries fails only the customers it carried: the calls before and after it go on, and those
customers fail retryable with their profiles written and linked. When a batched call is refused
for a reason that belongs to one record (a 400), that call is replayed one profile at a time so
only the culprit fails. Klaviyo's lists are read once per run; when that read fails, only the
customers with list changes fail their list step.

A phone Klaviyo left out of the profile write (``X-Klaviyo-Partial-Failure``, see ``_partial``)
asks for no SMS consent; and when a subscription job answers that it dropped a field, the
consent on that field's channel is not counted as given for the profiles of that job (the
header names no profile): neither audited as given nor kept as applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..exceptions import FatalError, KlaviyoSyncError, RecordError
from ..klaviyo import (
    MAX_LIST_MEMBERS_PER_CALL,
    MAX_SUBSCRIBE_PER_CALL,
    MAX_UNSUBSCRIBE_PER_CALL,
    KlaviyoClient,
    SubscriptionTarget,
)
from ..outcome import AuditAction, AuditEntry, Failure, Stage
from ._diff import SUBSCRIBE_KEY, ConsentChange, ListChange, list_key
from ._failures import failure_from_error

if TYPE_CHECKING:
    from ._writer import Written

__all__ = [
    "PENDING_LIST",
    "PENDING_SUBSCRIBE",
    "ConsentResult",
    "ConsentWriter",
    "KlaviyoList",
    "ListDirectory",
]

PENDING_SUBSCRIBE: Final = "consent email sent (subscribed when confirmed)"
"""A subscription without a list on a double opt-in account, as the audit shows it."""
PENDING_LIST: Final = "consent email sent (joins when confirmed)"
"""A ``LIST_`` subscription to a double opt-in list, as the audit shows it."""

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
    holds the changes made, ``unsettled`` the intents left for a later run (keys of the applied
    state: ``$subscribe``, ``$list:{name}``, ``$uclist:{name}``)."""

    detail: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failure: Failure | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    unsettled: set[str] = field(default_factory=set)


_Item = tuple[str, T, AuditEntry]
"""One call's part for one customer: its id, what to send, and the change it makes."""

_SUBSCRIBE, _UNSUB, _MEMBERS = (
    MAX_SUBSCRIBE_PER_CALL,
    MAX_UNSUBSCRIBE_PER_CALL,
    MAX_LIST_MEMBERS_PER_CALL,
)
"""Customers per request: a subscription job, an unsubscription job, a list call."""

_Lists = Mapping[str, KlaviyoList] | KlaviyoSyncError
"""Klaviyo's lists by name, or why they could not be read."""


@dataclass(slots=True)
class _Calls:
    """The batched calls to make, each item tagged with its customer and audit entry."""

    subscribe: list[_Item[SubscriptionTarget]] = field(default_factory=list)
    unsubscribe: list[_Item[SubscriptionTarget]] = field(default_factory=list)
    list_subscribe: dict[str, list[_Item[SubscriptionTarget]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    list_add: dict[str, list[_Item[str]]] = field(default_factory=lambda: defaultdict(list))
    list_remove: dict[str, list[_Item[str]]] = field(default_factory=lambda: defaultdict(list))


class ConsentWriter:
    """Applies the subscription and list intents of written drafts."""

    def __init__(
        self,
        client: KlaviyoClient,
        lists: ListDirectory,
        *,
        subscribe_sms: bool = False,
        account_opt_in: str = "double_opt_in",
    ) -> None:
        self._client = client
        self._lists = lists
        self._sms = subscribe_sms
        # A subscription without a list follows the account's opt-in process, which Klaviyo's
        # API does not show: the operator states it, and the audit says what it implies.
        self._double = account_opt_in == "double_opt_in"

    async def apply(self, written: Sequence[Written]) -> dict[str, ConsentResult]:
        results = {w.planned.customer.id: ConsentResult() for w in written}
        calls = _Calls()
        lists = await self._read_lists(written)
        for w in written:
            self._plan(w, calls, results[w.planned.customer.id], lists)
        await self._run(calls, results)
        if isinstance(lists, KlaviyoSyncError):
            # After the calls, so the customers' subscriptions still went out.
            for w in written:
                if w.planned.diff is not None and w.planned.diff.lists:
                    _fail(w.planned.customer.id, lists, "lists", results)
        return results

    async def _read_lists(self, written: Sequence[Written]) -> _Lists:
        """Klaviyo's lists when a customer's lists change; a failed read is returned, and
        fails the list step of those customers only."""
        waiting = sum(1 for w in written if w.planned.diff is not None and w.planned.diff.lists)
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
        change = diff.consent
        result.unsettled.update(diff.held_back)
        if change is not None and change.skipped:
            result.detail["consent"] = change.skipped
        elif change is not None and target is None:
            result.notes.append(f"consent not changed: no {self._channels_wanted()}")
            result.unsettled.add(SUBSCRIBE_KEY)
        elif change is not None and target is not None:
            self._plan_consent(w, change, target, calls)
            result.detail["consent"] = self._after(change)
            if self._sms and refused is not None:
                # The SMS consent this intent stands for is not given: not applied either.
                result.notes.append(
                    f"SMS consent not asked: Klaviyo left out the phone {refused!r}"
                )
                result.unsettled.add(SUBSCRIBE_KEY)
        shown = {}
        for item in diff.lists:
            shown[item.name] = self._plan_list(item, w, target, calls, result, lists)
        if shown:
            result.detail["lists"] = shown

    def _plan_consent(
        self, w: Written, change: ConsentChange, target: SubscriptionTarget, calls: _Calls
    ) -> None:
        subscribe = change.after == "subscribed"
        action: AuditAction = "subscribe" if subscribe else "unsubscribe"
        after = self._after(change)
        if self._sms and "phone_number" in w.left_out:
            after = f"{after} (email only: Klaviyo left out the phone)"
        entry = self._entry(w, action, change.before, after, change.row)
        (calls.subscribe if subscribe else calls.unsubscribe).append(
            (w.planned.customer.id, target, entry)
        )

    def _plan_list(
        self,
        change: ListChange,
        w: Written,
        target: SubscriptionTarget | None,
        calls: _Calls,
        result: ConsentResult,
        lists: _Lists,
    ) -> str:
        customer_id = w.planned.customer.id
        if isinstance(lists, KlaviyoSyncError):
            return "not changed: Klaviyo's lists could not be read"
        found = lists.get(change.name)
        key = list_key(change.name, consent=change.consent)
        if found is None:
            if result.failure is None:
                result.failure = Failure(
                    customer_id,
                    "lists",
                    "unknown_list",
                    f"Klaviyo has no list named {change.name!r}",
                    detail={"list": change.name},
                )
            return "no such list"
        if change.skipped:
            return change.skipped
        before = _membership(change.before)
        if change.action == "remove":
            entry = self._entry(w, "list_remove", before, "removed", change.row, change.name)
            calls.list_remove[found.id].append((customer_id, w.profile_id, entry))
            return "removed"
        if not change.consent:
            entry = self._entry(w, "list_add", before, "member", change.row, change.name)
            calls.list_add[found.id].append((customer_id, w.profile_id, entry))
            return "added"
        if target is None:
            result.unsettled.add(key)
            return f"not added: no {self._channels_wanted()} to ask consent with"
        shown = "subscribed"
        if found.opt_in_process == "double_opt_in":
            shown = PENDING_LIST
        entry = self._entry(w, "list_add", before, shown, change.row, change.name)
        calls.list_subscribe[found.id].append((customer_id, target, entry))
        return shown

    def _after(self, change: ConsentChange) -> str:
        """What a consent change does: a double opt-in subscription waits for the profile to
        confirm, so it is pending, not subscribed."""
        if change.after == "subscribed" and self._double:
            return PENDING_SUBSCRIBE
        return change.after

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

    def _channels_wanted(self) -> str:
        return "email address or phone number" if self._sms else "email address"

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
    fails only its own customers. Each item that went through is audited."""
    pending = [item for item in items if results[item[0]].failure is None]
    for start in range(0, len(pending), size):
        await _call_once(pending[start : start + size], send, stage, results)


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
            _fail(pending[0][0], err, stage, results)
            return
    except KlaviyoSyncError as err:
        for cid, _, _ in pending:
            _fail(cid, err, stage, results)
        return
    else:
        for cid, arg, entry in pending:
            _done(results[cid], arg, entry, dropped or ())
        return
    for cid, arg, entry in pending:
        try:
            dropped = await send([arg])
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            _fail(cid, err, stage, results)
        else:
            _done(results[cid], arg, entry, dropped or ())


def _done(result: ConsentResult, arg: object, entry: AuditEntry, dropped: Sequence[str]) -> None:
    """Audit a change that went through, less the channels whose identifier Klaviyo left out
    (the SMS consent goes with a dropped phone); a change lost so is not applied."""
    channels = arg.channels() if isinstance(arg, SubscriptionTarget) else []
    lost = [channel for channel, identifier in channels if identifier in dropped]
    if not lost:
        result.audit.append(entry)
        return
    result.unsettled.add(_intent(entry))
    result.notes.append(
        f"{'/'.join(lost)} consent not counted as given: Klaviyo left out {', '.join(dropped)} "
        "as invalid in this subscription job (X-Klaviyo-Partial-Failure)"
    )
    kept = [channel for channel, _ in channels if channel not in lost]
    if kept:
        result.audit.append(replace(entry, after=f"{entry.after} ({', '.join(kept)} only)"))


def _intent(entry: AuditEntry) -> str:
    """The applied-state key of the intent an audit entry carries out."""
    if entry.action == "list_add" and entry.list_name is not None:
        return list_key(entry.list_name, consent=True)
    return SUBSCRIBE_KEY


def _membership(before: bool | None) -> str:
    return "unknown" if before is None else "member" if before else "not a member"


def _fail(
    customer_id: str, error: Exception, stage: Stage, results: dict[str, ConsentResult]
) -> None:
    result = results[customer_id]
    if result.failure is None:
        result.failure = failure_from_error(error, stage=stage, customer_id=customer_id)
