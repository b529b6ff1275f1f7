"""Seed scenario "Match by phone fallback": no email, the phone finds the profile."""

from __future__ import annotations

from tests.world import World


async def test_match_by_phone_fallback(world: World) -> None:
    existing = world.sandbox.create_profile({"phone_number": "+12125550175"})

    [outcome] = await world.sync({"Id": "1003", "FirstName": "Alan", "Phone": "212.555.0175"})

    assert outcome.kind == "matched_phone"
    assert outcome.profile_id == existing.id
    assert outcome.detail["matched_by"] == "matched_phone"
    assert len(world.sandbox.profiles) == 1
    assert world.profile(existing.id).first_name == "Alan"


async def test_email_is_tried_before_phone(world: World) -> None:
    by_email = world.sandbox.create_profile({"email": "alan@example.com"})
    world.sandbox.create_profile({"phone_number": "+12125550175"})

    [outcome] = await world.sync(
        {"Id": "1003", "EmailAddress": "alan@example.com", "Phone": "+1 646 555 0100"}
    )

    assert (outcome.kind, outcome.profile_id) == ("matched_email", by_email.id)
