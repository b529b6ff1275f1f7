"""Seed scenario "Create a new profile"."""

from __future__ import annotations

from tests.acceptance.customers import ada
from tests.world import World


async def test_create_a_new_profile(world: World) -> None:
    [outcome] = await world.sync(ada())

    assert outcome.kind == "created"
    profile = world.profile(outcome.profile_id or "")
    assert profile.email == "ada@example.com"
    assert profile.first_name == "Ada"
    assert profile.last_name == "Lovelace"
    assert profile.organization == "Analytical Engines Ltd"
    assert profile.phone_number == "+14155552671"
    assert profile.location == {
        "address1": "12 Babbage Row",
        "address2": "Suite 3",
        "city": "San Francisco",
        "region": "CA",
        "zip": "94107",
        "country": "US",
    }
    # The iPaaS.com external id is stored on the profile, and the link in the store.
    assert profile.external_id == "55260"
    with world.store() as store:
        link = store.get_link("55260")
    assert link is not None
    assert (link.profile_id, link.how) == (profile.id, "created")
    # Looked up by email, then by phone, found nothing, created.
    lookups = world.requests(prefix="/api/profiles")
    assert [r.method for r in lookups] == ["GET", "GET", "POST"]
    assert lookups[0].query["filter"] == 'any(email,["ada@example.com"])'
    assert lookups[1].query["filter"] == 'any(phone_number,["+14155552671"])'
