"""Seed scenario "Update an existing profile": same profile patched, unmapped fields kept."""

from __future__ import annotations

from tests.acceptance.customers import ada
from tests.world import World


async def test_update_an_existing_profile(world: World) -> None:
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    # Maintained directly in Klaviyo: fields the collections do not map.
    world.sandbox.update_profile(profile_id, {"title": "Countess", "properties": {"vip": True}})

    [updated] = await world.sync(ada(LastName="King", Company="Difference Engines"))

    assert updated.kind == "updated"
    assert updated.route == "update"
    assert updated.profile_id == profile_id
    profile = world.profile(profile_id)
    assert (profile.last_name, profile.organization) == ("King", "Difference Engines")
    assert profile.title == "Countess"
    assert profile.properties is not None
    assert profile.properties["vip"] is True
    assert len(world.sandbox.profiles) == 1
    patch = world.requests("PATCH")[-1]
    assert patch.path == f"/api/profiles/{profile_id}"
    assert "title" not in patch.body["data"]["attributes"]


async def test_unchanged_customer_sends_nothing(world: World) -> None:
    await world.sync(ada())
    before = len(world.requests())
    [again] = await world.sync(ada())
    assert again.kind == "unchanged"
    assert len(world.requests()) == before
