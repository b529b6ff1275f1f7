"""Seed scenario "Phone normalization": E.164 out; a number Klaviyo rejects is logged."""

from __future__ import annotations

import pytest
from klaviyo_sandbox import Behaviour

from tests.acceptance.customers import ada
from tests.world import World


@pytest.mark.parametrize(
    ("phone", "country", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
async def test_phone_normalization(world: World, phone: str, country: str, expected: str) -> None:
    address = {"Address1": "1 Road", "Country": country, "IsPrimaryBilling": True}
    [outcome] = await world.sync(ada(Phone=phone, Addresses=[address]))
    assert world.profile(outcome.profile_id or "").phone_number == expected


async def test_unnormalizable_phone_is_omitted_not_sent(world: World) -> None:
    [outcome] = await world.sync(ada(Phone="12345"))
    assert outcome.kind == "created"
    assert world.profile(outcome.profile_id or "").phone_number is None
    assert "phone_number" not in world.requests("POST")[0].body["data"]["attributes"]
    assert any("12345" in note for note in outcome.detail["notes"])


async def test_phone_rejected_by_klaviyo_is_logged(world: World) -> None:
    # Possible (the right length) so it is sent, but not a valid US number. Today's Klaviyo
    # creates the profile without it and says so in X-Klaviyo-Partial-Failure (post 18034).
    [outcome] = await world.sync(ada(Phone="(555) 010-0199"))

    assert outcome.kind == "created"
    profile = world.profile(outcome.profile_id or "")
    assert (profile.email, profile.phone_number) == ("ada@example.com", None)
    assert outcome.failure is not None
    assert outcome.failure.kind == "phone_rejected"
    assert "+15550100199" in outcome.failure.message
    assert "X-Klaviyo-Partial-Failure: phone_number" in outcome.failure.message
    with world.store() as store:
        [logged] = store.list_failures()
    assert (logged.kind, logged.is_open) == ("phone_rejected", True)
    assert logged.detail["fields"] == {"phone_number": "+15550100199"}
    assert logged.detail["payload"]["data"]["attributes"]["phone_number"] == "+15550100199"


async def test_phone_rejected_by_klaviyo_before_its_phone_validation_change(world: World) -> None:
    # The seed's scenario as written: Klaviyo refused the whole create with a 400.
    world.sandbox.behaviour = Behaviour(invalid_phone="refuse")
    [outcome] = await world.sync(ada(Phone="(555) 010-0199"))

    assert outcome.kind == "failed"
    assert outcome.failure is not None
    assert outcome.failure.kind == "phone_rejected"
    assert "Invalid phone number" in outcome.failure.message
    assert not world.sandbox.profiles
    with world.store() as store:
        [logged] = store.list_failures()
    assert logged.kind == "phone_rejected"
    assert logged.detail["klaviyo"]["pointer"] == "/data/attributes/phone_number"
    assert logged.detail["payload"]["data"]["attributes"]["phone_number"] == "+15550100199"
