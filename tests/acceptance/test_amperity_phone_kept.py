"""Seed 000: a source record without a phone must not clear the phone Klaviyo holds."""

from __future__ import annotations

from tests.acceptance.customers import ada
from tests.world import World


async def test_a_missing_phone_leaves_the_klaviyo_phone_in_place(world: World) -> None:
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    assert world.profile(profile_id).phone_number == "+14155552671"

    # The next record arrives with the phone missing, empty, blank, or unusable.
    for phone in (None, "", "   ", "n/a"):
        record = ada(LastName=f"King {phone!r}")
        if phone is None:
            del record["Phone"]
        else:
            record["Phone"] = phone
        [outcome] = await world.sync(record)
        assert outcome.kind == "updated"
        patch = world.requests("PATCH")[-1].body["data"]["attributes"]
        assert "phone_number" not in patch
        assert None not in patch.values()
        assert world.profile(profile_id).phone_number == "+14155552671"


async def test_a_row_that_says_clear_is_the_only_way_to_send_null(world: World) -> None:
    world.with_mapping(
        '[[rows]]\ndestination = "Organization"\nkind = "field"\nsource = "Company"\n'
        'when_empty = "clear"\n'
    )
    [created] = await world.sync(ada())
    await world.sync(ada(Company=""))
    patch = world.requests("PATCH")[-1].body["data"]["attributes"]
    assert patch["organization"] is None
    assert [k for k, v in patch.items() if v is None] == ["organization"]
    assert world.profile(created.profile_id or "").organization is None
