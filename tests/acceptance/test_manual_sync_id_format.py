"""Seed scenario "Manual Sync ID format": a customer synced by its iPaaS.com id, e.g. 55260."""

from __future__ import annotations

import pytest

from klaviyo_sync.exceptions import CustomerNotFoundError
from tests.acceptance.customers import ada
from tests.world import World


async def test_manual_sync_id_format(world: World) -> None:
    others = [ada(Id=1, EmailAddress="one@example.com"), ada(Id="2", EmailAddress="two@ex.com")]
    created = await world.sync_one("55260", [*others, ada()])
    assert created.kind == "created"
    assert world.profile(created.profile_id or "").external_id == "55260"
    assert len(world.sandbox.profiles) == 1

    updated = await world.sync_one("55260", [ada(FirstName="Augusta")])
    assert (updated.kind, updated.profile_id) == ("updated", created.profile_id)
    assert world.profile(created.profile_id or "").first_name == "Augusta"


async def test_manual_sync_sends_even_when_unchanged(world: World) -> None:
    await world.sync_one("55260", [ada()])
    again = await world.sync_one("55260", [ada()])
    assert again.kind == "updated"


async def test_manual_sync_of_an_unknown_id_says_so(world: World) -> None:
    with pytest.raises(CustomerNotFoundError, match="'99' is not in customers"):
        await world.sync_one("99", [ada()])
