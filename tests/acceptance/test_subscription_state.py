"""Seed scenario "Subscription state": false or unmapped unsubscribes; true makes eligible."""

from __future__ import annotations

from klaviyo_sandbox import SubscriptionRequest

from tests.acceptance.customers import ada
from tests.world import World


def _consent(world: World, profile_id: str | None) -> str:
    consent = world.profile(profile_id or "").email_marketing
    return consent.consent if consent else "NEVER_SUBSCRIBED"


async def test_subscribe_profile_false_unsubscribes(world: World) -> None:
    world.with_mapping(
        '[[rows]]\ndestination = "SubscribeProfile"\nkind = "static"\nsource = false\n'
    )
    [outcome] = await world.sync(ada())
    assert outcome.detail["consent"] == "unsubscribed"
    assert _consent(world, outcome.profile_id) == "UNSUBSCRIBED"
    # Not eligible for list membership either.
    assert world.sandbox.emails == []
    assert outcome.detail["lists"]["Preview List"].startswith("not added")


async def test_subscribe_profile_unmapped_unsubscribes(world: World) -> None:
    world.with_mapping('remove = ["SubscribeProfile"]\n')
    [outcome] = await world.sync(ada())
    assert _consent(world, outcome.profile_id) == "UNSUBSCRIBED"


async def test_subscribe_profile_true_with_a_list_is_eligible(world: World) -> None:
    # Klaviyo's default: the account is double opt-in, so a subscription that names no list
    # sends a consent email and the profile is subscribed once it confirms. It is eligible for
    # lists at once: the seed's rule is about the source's value, not Klaviyo's answer.
    lists = world.list_ids
    [outcome] = await world.sync(ada())
    profile_id = outcome.profile_id or ""
    assert _consent(world, profile_id) == "NEVER_SUBSCRIBED"
    assert outcome.detail["consent"] == "consent email sent (subscribed when confirmed)"
    assert profile_id in world.sandbox.lists[lists["Preview List"]].members
    [email] = [e for e in world.sandbox.emails if e.list_id is None]
    assert (email.to, email.profile_id) == ("ada@example.com", profile_id)
    with world.store() as store:
        [entry] = [e for e in store.list_audit(customer_id="55260") if e.action == "subscribe"]
    assert entry.after == "consent email sent (subscribed when confirmed)", "pending, as it is"

    world.sandbox.confirm(None, profile_id=profile_id)
    assert _consent(world, profile_id) == "SUBSCRIBED"


async def test_subscribe_profile_true_on_a_single_opt_in_account_subscribes_at_once(
    world: World,
) -> None:
    lists = world.single_opt_in().list_ids
    [outcome] = await world.sync(ada())
    assert _consent(world, outcome.profile_id) == "SUBSCRIBED"
    assert outcome.detail["consent"] == "subscribed"
    assert outcome.profile_id in world.sandbox.lists[lists["Preview List"]].members
    assert [e for e in world.sandbox.emails if e.list_id is None] == []


async def test_empty_subscribe_value_leaves_consent_alone(world: World) -> None:
    world.with_mapping(
        '[[rows]]\ndestination = "SubscribeProfile"\nkind = "field"\n'
        'source = "CustomFields.Newsletter"\n'
    )
    existing = world.sandbox.create_profile({"email": "ada@example.com"})
    world.sandbox.unsubscribe(
        [SubscriptionRequest(email="ada@example.com", channels={"email": None})]
    )
    [outcome] = await world.sync(ada())
    assert "consent" not in outcome.detail
    assert _consent(world, existing.id) == "UNSUBSCRIBED"
