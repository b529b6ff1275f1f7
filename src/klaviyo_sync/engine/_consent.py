"""Subscription state and list membership, after the profiles of a batch are written.

The seed's rules, as DESIGN.md states them:

- ``SubscribeProfile`` true subscribes (email marketing; SMS too only when ``subscribe_sms`` is
  on); false, or no such mapping at all, unsubscribes; an empty value leaves consent alone.
- ``LIST_{name}`` true subscribes to that list through the consent endpoint (a double opt-in
  list sends a confirmation email and the profile waits for it); false removes from the list.
- ``UCLIST_{name}`` true adds to the list without consent (membership endpoint, no email);
  false removes from the list.
- A profile joins lists only when ``SubscribeProfile`` is true: the seed makes that value what
  makes a profile "eligible ... to be added to lists". Removals always apply.

Calls are batched per endpoint and list. When a batched call is refused for a reason that
belongs to one record (a 400), the batch is replayed one profile at a time so only the culprit
fails; every other error fails the customers of that call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import FatalError, KlaviyoSyncError, RecordError
from ..klaviyo import KlaviyoClient, SubscriptionTarget
from ..outcome import Failure, Stage
from ._failures import failure_from_error

if TYPE_CHECKING:
    from ._writer import Written

__all__ = ["ConsentResult", "ConsentWriter", "KlaviyoList", "ListDirectory"]

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class KlaviyoList:
    id: str
    name: str
    opt_in_process: str


class ListDirectory:
    """Klaviyo's lists by name, read once per run on first use."""

    def __init__(self, client: KlaviyoClient) -> None:
        self._client = client
        self._by_name: dict[str, KlaviyoList] | None = None

    async def get(self, name: str) -> KlaviyoList | None:
        if self._by_name is None:
            self._by_name = {}
            async for item in self._client.iter_lists():
                attrs = item.get("attributes", {})
                entry = KlaviyoList(
                    str(item["id"]), str(attrs.get("name")), str(attrs.get("opt_in_process"))
                )
                self._by_name.setdefault(entry.name, entry)
        return self._by_name.get(name)


@dataclass(slots=True)
class ConsentResult:
    """What the consent stage did for one customer: ``detail`` goes into its outcome."""

    detail: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failure: Failure | None = None


@dataclass(slots=True)
class _Calls:
    """The batched calls to make, each item tagged with its customer id."""

    subscribe: list[tuple[str, SubscriptionTarget]] = field(default_factory=list)
    unsubscribe: list[tuple[str, SubscriptionTarget]] = field(default_factory=list)
    list_subscribe: dict[str, list[tuple[str, SubscriptionTarget]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    list_add: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    list_remove: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))


class ConsentWriter:
    """Applies the subscription and list intents of written drafts."""

    def __init__(
        self, client: KlaviyoClient, lists: ListDirectory, *, subscribe_sms: bool = False
    ) -> None:
        self._client = client
        self._lists = lists
        self._sms = subscribe_sms

    async def apply(self, written: Sequence[Written]) -> dict[str, ConsentResult]:
        results = {w.planned.customer.id: ConsentResult() for w in written}
        calls = _Calls()
        for w in written:
            await self._plan(w, calls, results[w.planned.customer.id])
        await self._run(calls, results)
        return results

    async def _plan(self, w: Written, calls: _Calls, result: ConsentResult) -> None:
        draft = w.planned.draft
        customer_id = w.planned.customer.id
        target = self._target(draft.email, draft.phone_number, w.profile_id)
        if draft.subscribe is not None:
            action = "subscribed" if draft.subscribe else "unsubscribed"
            if target is None:
                result.notes.append(f"consent not changed: no {self._channels_wanted()}")
            else:
                queue = calls.subscribe if draft.subscribe else calls.unsubscribe
                queue.append((customer_id, target))
                result.detail["consent"] = action
        lists: dict[str, str] = {}
        for name, want in draft.lists.items():
            lists[name] = await self._plan_list(name, want, True, w, target, calls, result)
        for name, want in draft.uclists.items():
            lists[name] = await self._plan_list(name, want, False, w, target, calls, result)
        if lists:
            result.detail["lists"] = lists

    async def _plan_list(
        self,
        name: str,
        want: bool,
        consent: bool,
        w: Written,
        target: SubscriptionTarget | None,
        calls: _Calls,
        result: ConsentResult,
    ) -> str:
        customer_id = w.planned.customer.id
        found = await self._lists.get(name)
        if found is None:
            if result.failure is None:
                result.failure = Failure(
                    customer_id,
                    "lists",
                    "unknown_list",
                    f"Klaviyo has no list named {name!r}",
                    detail={"list": name},
                )
            return "no such list"
        if not want:
            calls.list_remove[found.id].append((customer_id, w.profile_id))
            return "removed"
        if w.planned.draft.subscribe is not True:
            return "not added: SubscribeProfile is not true"
        if not consent:
            calls.list_add[found.id].append((customer_id, w.profile_id))
            return "added"
        if target is None:
            return f"not added: no {self._channels_wanted()} to ask consent with"
        calls.list_subscribe[found.id].append((customer_id, target))
        if found.opt_in_process == "double_opt_in":
            return "consent email sent (joins when confirmed)"
        return "subscribed"

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
        await _call(calls.subscribe, client.subscribe_profiles, "subscribe", results)
        await _call(calls.unsubscribe, client.unsubscribe_profiles, "subscribe", results)
        for list_id, targets in calls.list_subscribe.items():

            async def subscribe(chunk: list[SubscriptionTarget], lid: str = list_id) -> None:
                await client.subscribe_profiles(chunk, list_id=lid)

            await _call(targets, subscribe, "lists", results)
        for list_id, members in calls.list_add.items():

            async def add(ids: list[str], lid: str = list_id) -> None:
                await client.add_profiles_to_list(lid, ids)

            await _call(members, add, "lists", results)
        for list_id, members in calls.list_remove.items():

            async def remove(ids: list[str], lid: str = list_id) -> None:
                await client.remove_profiles_from_list(lid, ids)

            await _call(members, remove, "lists", results)


async def _call(
    items: list[tuple[str, T]],
    send: Callable[[list[T]], Awaitable[None]],
    stage: Stage,
    results: dict[str, ConsentResult],
) -> None:
    """Send all items in one batched call; isolate a per-record refusal by replaying singly."""
    pending = [(cid, arg) for cid, arg in items if results[cid].failure is None]
    if not pending:
        return
    try:
        await send([arg for _, arg in pending])
        return
    except FatalError:
        raise
    except RecordError as err:
        if len(pending) == 1:
            _fail(pending[0][0], err, stage, results)
            return
    except KlaviyoSyncError as err:
        for cid, _ in pending:
            _fail(cid, err, stage, results)
        return
    for cid, arg in pending:
        try:
            await send([arg])
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            _fail(cid, err, stage, results)


def _fail(
    customer_id: str, error: Exception, stage: Stage, results: dict[str, ConsentResult]
) -> None:
    result = results[customer_id]
    if result.failure is None:
        result.failure = failure_from_error(error, stage=stage, customer_id=customer_id)
