"""Seed scenario "Double vs single opt-in"."""

from __future__ import annotations

from tests.acceptance.customers import ada
from tests.world import World


async def test_double_opt_in_list_sends_a_consent_email(world: World) -> None:
    lists = world.list_ids
    [outcome] = await world.sync(ada())
    profile_id = outcome.profile_id or ""
    sms = lists["Sms Subscribers"]

    [email] = [e for e in world.sandbox.emails if e.list_id == sms]
    assert (email.to, email.profile_id) == ("ada@example.com", profile_id)
    assert profile_id not in world.sandbox.lists[sms].members
    assert "consent email" in outcome.detail["lists"]["Sms Subscribers"]

    world.sandbox.confirm(sms, profile_id=profile_id)
    assert profile_id in world.sandbox.lists[sms].members


async def test_single_opt_in_uclist_subscribes_without_email(world: World) -> None:
    lists = world.list_ids
    [outcome] = await world.sync(ada())
    preview = lists["Preview List"]
    assert outcome.profile_id in world.sandbox.lists[preview].members
    assert [e for e in world.sandbox.emails if e.list_id == preview] == []
    assert outcome.detail["lists"]["Preview List"] == "added"


async def test_false_removes_from_the_list(world: World) -> None:
    lists = world.list_ids
    [outcome] = await world.sync(ada())
    world.with_mapping(
        '[[rows]]\ndestination = "UCLIST_Preview List"\nkind = "static"\nsource = false\n'
    )
    await world.sync(ada())
    assert outcome.profile_id not in world.sandbox.lists[lists["Preview List"]].members
