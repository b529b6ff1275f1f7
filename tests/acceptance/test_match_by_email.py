"""Seed scenario "Match by email": the existing profile is linked, not duplicated."""

from __future__ import annotations

from tests.acceptance.customers import ada
from tests.world import World


async def test_match_by_email(world: World) -> None:
    existing = world.sandbox.create_profile({"email": "ADA@example.com", "first_name": "A."})

    [outcome] = await world.sync(ada())

    assert outcome.kind == "matched_email"
    assert outcome.profile_id == existing.id
    assert len(world.sandbox.profiles) == 1
    assert world.profile(existing.id).first_name == "Ada"
    assert world.profile(existing.id).external_id == "55260"
    assert not world.requests("POST", prefix="/api/profiles")
    with world.store() as store:
        link = store.get_link("55260")
    assert link is not None
    assert (link.profile_id, link.how) == (existing.id, "matched_email")

    [second] = await world.sync(ada(FirstName="Augusta"))
    assert (second.kind, second.profile_id) == ("updated", existing.id)
