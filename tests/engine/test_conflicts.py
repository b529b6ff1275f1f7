"""Identity conflicts: detected before anything is written, parked, settled by a person."""

from __future__ import annotations

import pytest

from klaviyo_sync.exceptions import ConfigError
from klaviyo_sync.operations import resolve_failure
from tests.acceptance.customers import ada
from tests.world import World


async def _email_and_phone_apart(world: World) -> tuple[str, str]:
    by_email = world.sandbox.create_profile({"email": "ada@example.com", "last_name": "L"})
    by_phone = world.sandbox.create_profile({"phone_number": "+14155552671"})
    return by_email.id, by_phone.id


async def test_email_and_phone_pointing_at_two_profiles_is_a_conflict(world: World) -> None:
    email_profile, phone_profile = await _email_and_phone_apart(world)
    [outcome] = await world.sync(ada())
    assert outcome.kind == "conflict"
    assert outcome.detail["profiles"] == {"email": email_profile, "phone_number": phone_profile}
    assert world.writes() == [], "nothing is written"
    assert outcome.failure is not None
    assert email_profile in outcome.failure.message
    assert phone_profile in outcome.failure.message
    with world.store() as store:
        [logged] = store.list_failures(kind="conflict")
        assert logged.customer_id == "55260"
        assert sorted(logged.detail["candidates"]) == sorted([email_profile, phone_profile])
        assert store.get_link("55260") is None
        [run] = store.list_runs(limit=1)
        assert run.counts == {"conflict": 1}


async def test_a_settled_conflict_proceeds_with_the_chosen_profile(world: World) -> None:
    email_profile, phone_profile = await _email_and_phone_apart(world)
    await world.sync(ada())
    with world.store() as store:
        [logged] = store.list_failures(kind="conflict")

    with pytest.raises(ConfigError, match="not one of the profiles in conflict"):
        resolve_failure(world.settings, logged.id, profile="01NOTINVOLVED")
    resolved = resolve_failure(world.settings, logged.id, profile=email_profile)
    assert resolved.resolved_at is not None
    with world.store() as store:
        link = store.get_link("55260")
        assert link is not None
        assert (link.profile_id, link.how) == (email_profile, "conflict")

    [outcome] = await world.sync(ada())
    assert (outcome.kind, outcome.profile_id) == ("updated", email_profile)
    patch = world.requests("PATCH")[-1].body["data"]["attributes"]
    assert "phone_number" not in patch, "the phone belongs to the other profile"
    assert any(phone_profile in note for note in outcome.detail["notes"])
    assert world.profile(email_profile).last_name == "Lovelace"
    assert world.profile(phone_profile).phone_number == "+14155552671"
    [again] = await world.sync(ada())
    assert again.kind == "unchanged", "settled: the next runs cost nothing"


async def test_a_linked_customer_moving_to_another_profiles_email_is_a_conflict(
    world: World,
) -> None:
    [created] = await world.sync(ada())
    other = world.sandbox.create_profile({"email": "grace@example.com"})
    writes = len(world.writes())
    [outcome] = await world.sync(ada(EmailAddress="grace@example.com"))
    assert outcome.kind == "conflict"
    assert outcome.detail["profiles"] == {"link": created.profile_id, "email": other.id}
    assert len(world.writes()) == writes
    assert world.profile(created.profile_id or "").email == "ada@example.com"


async def test_resolving_anything_but_a_conflict_with_a_profile_is_refused(world: World) -> None:
    await world.sync({"Id": 1, "Phone": "nope"})
    with world.store() as store:
        [logged] = store.list_failures()
    with pytest.raises(ConfigError, match="not an identity conflict"):
        resolve_failure(world.settings, logged.id, profile="P1")
    assert resolve_failure(world.settings, logged.id).resolved_at is not None
