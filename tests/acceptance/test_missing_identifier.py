"""Seed scenario "Missing identifier": the transfer errors, is logged, and nothing is sent."""

from __future__ import annotations

from tests.world import World


async def test_missing_identifier(world: World) -> None:
    [outcome] = await world.sync({"Id": "1005", "FirstName": "Nobody", "Phone": "n/a"})

    assert outcome.kind == "failed"
    assert outcome.failure is not None
    assert outcome.failure.kind == "no_identifier"
    assert outcome.failure.stage == "identify"
    assert world.writes() == []
    assert world.sandbox.profiles == {}
    with world.store() as store:
        [logged] = store.list_failures()
    assert (logged.customer_id, logged.kind) == ("1005", "no_identifier")
    assert "no email address and no phone number" in logged.message
