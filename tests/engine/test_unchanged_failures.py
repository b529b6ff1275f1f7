"""A customer Klaviyo refused for its own data is not sent again while it is unchanged.

Refused whole: Klaviyo before its phone validation change (``invalid_phone = "refuse"``). A bulk
import job refused for a row's phone sends that row again without it, so there the phone is left
out, as today's Klaviyo leaves it out of a create (``test_partial_failures``).
"""

from __future__ import annotations

import pytest
from klaviyo_sandbox import Behaviour

from klaviyo_sync.operations import retry_failures
from tests.world import World

# Possible for its length, so it is sent; not a valid US number, so Klaviyo refuses it.
REJECTED = {"Id": 7, "EmailAddress": "seven@example.com", "Phone": "(555) 010-0199"}
GOOD = {"Id": 8, "EmailAddress": "eight@example.com"}


@pytest.fixture(autouse=True)
def refusing(world: World) -> None:
    world.sandbox.behaviour = Behaviour(invalid_phone="refuse")


@pytest.mark.parametrize(
    ("strategy", "first_kind", "again_kind"),
    [
        ("per-record", "failed", "failed"),
        # Refused in a job, the row goes again without its phone: the profile is made and the
        # phone is logged as left out, as a create per record has it with today's Klaviyo.
        ("bulk", "created", "unchanged"),
    ],
)
async def test_an_unchanged_resync_sends_no_write_request(
    world: World, strategy: str, first_kind: str, again_kind: str
) -> None:
    world.settings = world.settings.model_copy(update={"strategy": strategy})
    first = await world.sync(REJECTED, GOOD)
    assert [o.kind for o in first] == [first_kind, "created"]
    assert first[0].failure is not None
    assert first[0].failure.kind == "phone_rejected"
    writes = len(world.writes())
    with world.store() as store:
        [logged] = store.list_failures()

    again = await world.sync(REJECTED, GOOD)
    assert len(world.writes()) == writes, "nothing changed: no write request"
    assert [o.kind for o in again] == [again_kind, "unchanged"]
    assert again[0].failure is not None
    assert again[0].failure.kind == "phone_rejected"
    if strategy == "per-record":
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
