"""A customer Klaviyo refused for its own data is not sent again while it is unchanged.

Refused whole: Klaviyo before its phone validation change (``invalid_phone = "refuse"``), and a
bulk import row today. A phone today's Klaviyo leaves out of a create is in
``test_partial_failures``.
"""

from __future__ import annotations

import pytest

from klaviyo_sync.sandbox import Behaviour
from klaviyo_sync.sync import retry_failures
from tests.world import World

# Possible for its length, so it is sent; not a valid US number, so Klaviyo refuses it.
REJECTED = {"Id": 7, "EmailAddress": "seven@example.com", "Phone": "(555) 010-0199"}
GOOD = {"Id": 8, "EmailAddress": "eight@example.com"}


@pytest.fixture(autouse=True)
def refusing(world: World) -> None:
    world.sandbox.behaviour = Behaviour(invalid_phone="refuse")


@pytest.mark.parametrize("strategy", ["per-record", "bulk"])
async def test_an_unchanged_resync_sends_no_write_request(world: World, strategy: str) -> None:
    world.settings = world.settings.model_copy(update={"strategy": strategy})
    first = await world.sync(REJECTED, GOOD)
    assert [o.kind for o in first] == ["failed", "created"]
    assert first[0].failure is not None
    assert first[0].failure.kind == "phone_rejected"
    writes = len(world.writes())
    with world.store() as store:
        [logged] = store.list_failures()

    again = await world.sync(REJECTED, GOOD)
    assert len(world.writes()) == writes, "nothing changed: no write request"
    assert [o.kind for o in again] == ["failed", "unchanged"]
    assert again[0].failure is not None
    assert again[0].failure.kind == "phone_rejected"
    assert "not sent again" in again[0].detail["notes"][0]
    with world.store() as store:
        [still] = store.list_failures()
    assert still.id == logged.id
    assert still.attempts == 2
    assert still.detail["klaviyo"] == logged.detail["klaviyo"], "Klaviyo's answer is kept"


async def test_a_change_a_retry_or_full_sends_it_again(world: World) -> None:
    await world.sync(REJECTED)
    writes = len(world.writes())
    await world.sync(REJECTED, full=True)
    assert len(world.writes()) == writes + 1, "--full resends"
    with world.store() as store:
        [logged] = store.list_failures()
    [result] = await retry_failures(world.settings, [logged.id], connections=world.connections)
    assert result.outcome is not None
    assert result.outcome.kind == "failed"
    assert len(world.writes()) == writes + 2, "errors retry resends"
    [fixed] = await world.sync({**REJECTED, "Phone": "(415) 555-2671"})
    assert fixed.kind == "created"
    with world.store() as store:
        assert store.list_failures() == [], "the success resolves it"
