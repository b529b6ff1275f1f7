"""Field ownership: create-only rows, and Klaviyo as the system of record for consent."""

from __future__ import annotations

from klaviyo_sandbox import SubscriptionRequest

from tests.acceptance.customers import ada
from tests.world import World

CREATE_ONLY_FIRST_NAME = """
[[rows]]
destination = "FirstName"
kind = "field"
source = "FirstName"
on = "create"
"""

SUBSCRIBE_WITH_OVERRIDE = """
[[rows]]
destination = "SubscribeProfile"
kind = "static"
source = true
override_klaviyo_consent = true
"""


def _consent(world: World, profile_id: str | None) -> str:
    consent = world.profile(profile_id or "").email_marketing
    return consent.consent if consent else "NEVER_SUBSCRIBED"


def _unsubscribe_in_klaviyo(world: World, email: str) -> None:
    world.sandbox.unsubscribe([SubscriptionRequest(email=email, channels={"email": None})])


def _subscribe_jobs(world: World) -> int:
    return len([r for r in world.requests("POST") if r.operation_id == "bulk_subscribe_profiles"])


async def test_a_create_only_field_edited_in_klaviyo_survives_later_updates(
    world: World,
) -> None:
    world.with_mapping(CREATE_ONLY_FIRST_NAME)
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    assert world.profile(profile_id).first_name == "Ada"
    world.sandbox.update_profile(profile_id, {"first_name": "Augusta"})

    [unchanged] = await world.sync(ada())
    assert unchanged.kind == "unchanged", "the add draft's extra field is no change"
    [updated] = await world.sync(ada(LastName="King", FirstName="Ada Augusta"))
    assert updated.kind == "updated"
    assert "first_name" not in world.requests("PATCH")[-1].body["data"]["attributes"]
    assert world.profile(profile_id).first_name == "Augusta"
    assert world.profile(profile_id).last_name == "King"


async def test_a_create_only_field_is_sent_when_an_existing_profile_is_first_linked(
    world: World,
) -> None:
    world.with_mapping(CREATE_ONLY_FIRST_NAME)
    existing = world.sandbox.create_profile({"email": "ada@example.com", "first_name": "A."})
    [matched] = await world.sync(ada())
    assert (matched.kind, matched.profile_id) == ("matched_email", existing.id)
    assert world.profile(existing.id).first_name == "Ada"


async def test_a_klaviyo_side_unsubscribe_survives_subscribe_profile_true(world: World) -> None:
    world.single_opt_in()  # about who owns consent, not about confirming it
    [created] = await world.sync(ada())
    assert _consent(world, created.profile_id) == "SUBSCRIBED"
    _unsubscribe_in_klaviyo(world, "ada@example.com")
    jobs, emails = _subscribe_jobs(world), len(world.sandbox.emails)

    [updated] = await world.sync(ada(LastName="King"))
    assert updated.kind == "updated"
    assert _consent(world, created.profile_id) == "UNSUBSCRIBED"
    assert _subscribe_jobs(world) == jobs, "consent as last applied: nothing to send"

    # Even a resend of everything (--full, a Manual Sync) asks Klaviyo first, and keeps it.
    [resent] = await world.sync(ada(LastName="King"), full=True)
    assert _consent(world, created.profile_id) == "UNSUBSCRIBED"
    assert resent.detail["consent"].startswith("kept: Klaviyo has this profile as unsubscribed")
    manual = await world.sync_one("55260", [ada(LastName="King")])
    assert _consent(world, manual.profile_id) == "UNSUBSCRIBED"
    assert _subscribe_jobs(world) == jobs
    # The LIST_ row asks consent through the same endpoint: no new confirmation email either.
    assert resent.detail["lists"]["Sms Subscribers"].startswith("kept")
    assert len(world.sandbox.emails) == emails


async def test_a_profile_unsubscribed_in_klaviyo_is_not_subscribed_when_first_matched(
    world: World,
) -> None:
    existing = world.sandbox.create_profile({"email": "ada@example.com"})
    _unsubscribe_in_klaviyo(world, "ada@example.com")
    [matched] = await world.sync(ada())
    assert matched.kind == "matched_email"
    assert _consent(world, existing.id) == "UNSUBSCRIBED"
    assert "kept" in matched.detail["consent"]
    assert matched.detail["lists"]["Sms Subscribers"].startswith("kept")
    assert matched.detail["lists"]["Preview List"] == "added", "UCLIST_ touches no consent"


async def test_the_override_lets_the_source_subscribe_again(world: World) -> None:
    world.single_opt_in()  # about who owns consent, not about confirming it
    world.with_mapping(SUBSCRIBE_WITH_OVERRIDE)
    [created] = await world.sync(ada())
    _unsubscribe_in_klaviyo(world, "ada@example.com")
    manual = await world.sync_one("55260", [ada()])
    assert manual.detail["consent"] == "subscribed"
    assert _consent(world, created.profile_id) == "SUBSCRIBED"


async def test_turning_the_override_on_subscribes_the_kept_profiles_on_the_next_run(
    world: World,
) -> None:
    world.single_opt_in()  # about who owns consent, not about confirming it
    world.with_mapping(SUBSCRIBE_WITH_OVERRIDE.replace("consent = true", "consent = false"))
    [created] = await world.sync(ada())
    _unsubscribe_in_klaviyo(world, "ada@example.com")
    [kept] = await world.sync(ada(), full=True)
    assert kept.detail["consent"].startswith("kept")
    [still] = await world.sync(ada())
    assert still.kind == "unchanged", "kept once, not asked again while nothing changes"
    # A source that only lost a value is looked at (its draft changed) and is still no change.
    [emptied] = await world.sync(ada(Phone=None))
    assert emptied.kind == "unchanged"
    assert emptied.detail["consent"].startswith("kept")

    world.with_mapping(SUBSCRIBE_WITH_OVERRIDE)
    [again] = await world.sync(ada(Phone=None))
    assert again.detail["consent"] == "subscribed", "no --full needed: the mapping changed"
    assert _consent(world, created.profile_id) == "SUBSCRIBED"


async def test_an_unsubscribe_from_the_source_always_applies(world: World) -> None:
    world.single_opt_in()  # about who owns consent, not about confirming it
    world.with_mapping(
        '[[rows]]\ndestination = "SubscribeProfile"\nkind = "field"\n'
        'source = "CustomFields.Newsletter"\n'
    )
    [created] = await world.sync(ada(CustomFields={"Newsletter": True}))
    assert _consent(world, created.profile_id) == "SUBSCRIBED"
    [opted_out] = await world.sync(ada(CustomFields={"Newsletter": False}))
    assert opted_out.detail["consent"] == "unsubscribed"
    assert _consent(world, created.profile_id) == "UNSUBSCRIBED"
