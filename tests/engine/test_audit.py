"""The consent audit: every consent or list change the engine makes, with before and after."""

from __future__ import annotations

from typing import Any

from klaviyo_sync.engine import PlanEntry
from klaviyo_sync.engine._consent import (
    CONFIRMED_LIST,
    CONFIRMED_SUBSCRIBE,
    PENDING_LIST,
    PENDING_SUBSCRIBE,
)
from klaviyo_sync.engine._diff import PENDING_REMOVED
from klaviyo_sync.operations import plan_source
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import AuditRecord
from tests.acceptance.customers import ada
from tests.world import World

NEWSLETTER = """
[[rows]]
destination = "SubscribeProfile"
kind = "field"
source = "CustomFields.Newsletter"

[[rows]]
destination = "UCLIST_Preview List"
kind = "field"
source = "CustomFields.Preview"
"""


PENDING_ROWS = """
[[rows]]
destination = "SubscribeProfile"
kind = "field"
source = "CustomFields.Newsletter"

[[rows]]
destination = "LIST_Sms Subscribers"
kind = "field"
source = "CustomFields.Sms"
"""


PREVIEW_ROW = """
[[rows]]
destination = "LIST_Preview List"
kind = "field"
source = "CustomFields.Preview"
"""


def _audit(world: World, customer_id: str = "55260") -> list[AuditRecord]:
    with world.store() as store:
        return list(reversed(store.list_audit(customer_id=customer_id)))


def _changes(records: list[AuditRecord]) -> list[tuple[str | None, ...]]:
    return [(r.action, r.list_name, r.before, r.after, r.row) for r in records]


async def test_the_audit_shows_each_consent_and_list_change(world: World) -> None:
    world.with_mapping(NEWSLETTER)
    subscribed = {"Newsletter": True, "Preview": True}
    [created] = await world.sync(ada(CustomFields=subscribed))
    first = _audit(world)
    # Klaviyo's default account is double opt-in: the subscription waits for a confirmation.
    assert _changes(first) == [
        (
            "subscribe",
            None,
            "new",
            "consent email sent (subscribed when confirmed)",
            "SubscribeProfile",
        ),
        (
            "list_add",
            "Sms Subscribers",
            "unknown",
            "consent email sent (joins when confirmed)",
            "LIST_Sms Subscribers",
        ),
        ("list_add", "Preview List", "unknown", "member", "UCLIST_Preview List"),
    ]
    assert {r.profile_id for r in first} == {created.profile_id}
    runs = {r.run_id for r in first}

    [changed] = await world.sync(ada(LastName="King", CustomFields=subscribed))
    assert changed.kind == "updated"
    assert len(_audit(world)) == 3, "consent as last applied: no change, nothing audited"

    await world.sync(ada(CustomFields={"Newsletter": False, "Preview": False}))
    latest = _audit(world)[3:]
    # The consent email was never confirmed: the profile is unsubscribed from pending.
    assert _changes(latest) == [
        ("unsubscribe", None, "pending", "unsubscribed", "SubscribeProfile"),
        ("list_remove", "Preview List", "member", "removed", "UCLIST_Preview List"),
    ]
    assert len(runs | {r.run_id for r in latest}) == 2
    assert world.profile(created.profile_id or "").email_marketing is not None


async def test_a_seed_unsubscribe_without_a_row_names_the_missing_row(world: World) -> None:
    world.with_mapping('remove = ["SubscribeProfile"]\n')
    await world.sync(ada())
    [unsubscribed] = [r for r in _audit(world) if r.action == "unsubscribe"]
    assert unsubscribed.row == "(no SubscribeProfile row)"


async def test_changes_not_made_are_not_audited(world: World) -> None:
    # A list Klaviyo does not have fails that list's step only: it is not audited, the
    # customer's other consent and list changes are made (and audited), and its outcome says
    # the profile was created, carrying the list step's failure.
    world.with_mapping('[[rows]]\ndestination = "UCLIST_Nowhere"\nkind = "static"\nsource = true\n')
    [outcome] = await world.sync(ada())
    assert outcome.kind == "created"
    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.stage) == ("unknown_list", "lists")
    assert outcome.detail["lists"]["Nowhere"] == "no such list"
    audited = _audit(world)
    assert "Nowhere" not in {r.list_name for r in audited}
    assert {(r.action, r.list_name) for r in audited} == {
        ("subscribe", None),
        ("list_add", "Sms Subscribers"),
        ("list_add", "Preview List"),
    }


def _applied(world: World, customer_id: str = "55260") -> dict[str, Any]:
    with world.store() as store:
        return store.get_applied([customer_id])[customer_id]


async def _full_plan(world: World, *customers: dict[str, Any], live: bool = False) -> PlanEntry:
    entries: list[PlanEntry] = []
    await plan_source(
        world.settings,
        RecordsSource(list(customers)),
        full=True,
        live=live,
        on_entry=entries.append,
        connections=world.connections,
    )
    [entry] = entries
    return entry


async def test_a_full_resend_of_what_holds_records_nothing(world: World) -> None:
    # Double opt-in (Klaviyo's default): the subscription and the LIST_ one are pending.
    await world.sync(ada())
    first = _changes(_audit(world))
    assert len(first) == 3
    outcome = await world.sync_one("55260", [ada()])
    assert outcome.kind == "updated"
    assert outcome.detail["consent"] == PENDING_SUBSCRIBE, "sent again, and still pending"
    assert _changes(_audit(world)) == first, "pending → pending, member → member: no change"


async def test_a_full_resend_to_a_single_opt_in_account_records_nothing(world: World) -> None:
    world.single_opt_in()
    await world.sync(ada())
    first = _changes(_audit(world))
    assert ("subscribe", None, "new", "subscribed", "SubscribeProfile") in first
    await world.sync_one("55260", [ada()])
    await world.sync_one("55260", [ada()])
    assert _changes(_audit(world)) == first, "no subscribed → subscribed, no member → member"


async def test_a_double_opt_in_subscription_stays_pending_until_confirmed(world: World) -> None:
    [created] = await world.sync(ada())
    applied = _applied(world)
    assert applied["$subscribe"] == "pending"
    assert applied["$list:Sms Subscribers"] == "pending"
    assert applied["$uclist:Preview List"] is True

    # A plan that resends everything, against the store and against Klaviyo, says pending.
    for live in (False, True):
        entry = await _full_plan(world, ada(), live=live)
        assert entry.diff is not None
        consent = entry.diff.consent
        assert consent is not None
        assert (consent.shown_before, consent.shown_after) == ("pending", PENDING_SUBSCRIBE)
        [sms] = [c for c in entry.diff.lists if c.name == "Sms Subscribers"]
        assert (sms.shown_before, sms.shown_after) == ("pending", PENDING_LIST)
        assert "member" not in (sms.shown_before, sms.shown_after)
        assert entry.lists["Sms Subscribers"] == PENDING_LIST
        assert entry.consent == PENDING_SUBSCRIBE
    assert world.profile(created.profile_id or "").email_marketing is None, "nothing written"


async def test_unsubscribing_a_pending_profile_is_audited_from_pending(world: World) -> None:
    world.with_mapping(PENDING_ROWS)
    await world.sync(ada(CustomFields={"Newsletter": True, "Sms": True}))
    await world.sync(ada(CustomFields={"Newsletter": False, "Sms": False}))
    latest = _changes(_audit(world))[3:]
    assert latest == [
        ("unsubscribe", None, "pending", "unsubscribed", "SubscribeProfile"),
        ("list_remove", "Sms Subscribers", "pending", PENDING_REMOVED, "LIST_Sms Subscribers"),
    ]
    applied = _applied(world)
    assert (applied["$subscribe"], applied["$list:Sms Subscribers"]) == (False, False)


async def test_a_confirmation_is_recorded_once_when_the_engine_reads_it(world: World) -> None:
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    before = len(_audit(world))
    # The customer confirms both consent emails.
    world.sandbox.confirm(None, profile_id=profile_id)
    world.sandbox.confirm(world.list_ids["Sms Subscribers"], profile_id=profile_id)

    # A plan reads it and shows it, and records nothing.
    entry = await _full_plan(world, ada())
    assert entry.diff is not None
    assert entry.diff.consent is not None
    assert entry.diff.consent.before == "subscribed"
    [sms] = [c for c in entry.diff.lists if c.name == "Sms Subscribers"]
    assert (sms.shown_before, sms.shown_after) == ("member", "member")
    assert len(_audit(world)) == before

    # A Manual Sync reads Klaviyo's consent before resending: it records the confirmations.
    outcome = await world.sync_one("55260", [ada()])
    assert outcome.detail["consent"] == "subscribed"
    confirmed = _changes(_audit(world))[before:]
    assert confirmed == [
        ("subscribe", None, "pending", CONFIRMED_SUBSCRIBE, "SubscribeProfile"),
        ("list_add", "Sms Subscribers", "pending", CONFIRMED_LIST, "LIST_Sms Subscribers"),
    ]
    applied = _applied(world)
    assert (applied["$subscribe"], applied["$list:Sms Subscribers"]) == (True, True)

    await world.sync_one("55260", [ada()])
    await world.sync(ada(LastName="King"))
    assert len(_audit(world)) == before + 2, "recorded once"


async def test_a_confirmation_is_learned_when_an_intent_changes(world: World) -> None:
    # Not only on --full: a sync whose source asks for a new consent list reads the profile's
    # consent first, and learns the confirmation of the subscription pending since.
    world.with_mapping(PENDING_ROWS + PREVIEW_ROW)
    subscribed = {"Newsletter": True, "Sms": True}
    [created] = await world.sync(ada(CustomFields=subscribed))
    world.sandbox.confirm(None, profile_id=created.profile_id)
    before = len(_audit(world))
    [outcome] = await world.sync(ada(CustomFields={**subscribed, "Preview": True}))
    assert outcome.kind == "updated"
    assert _changes(_audit(world))[before:] == [
        ("subscribe", None, "pending", CONFIRMED_SUBSCRIBE, "SubscribeProfile"),
        ("list_add", "Preview List", "unknown", "subscribed", "LIST_Preview List"),
    ]
    applied = _applied(world)
    assert applied["$subscribe"] is True
    assert applied["$list:Sms Subscribers"] == "pending", "that one is not confirmed"
