"""A phone today's Klaviyo leaves out of a write it accepts (``X-Klaviyo-Partial-Failure``).

Klaviyo's phone validation change (developer community post 18034): an invalid phone beside a
valid email no longer fails the create; the profile is made without it and the answer carries
``X-Klaviyo-Partial-Failure: phone_number``. The sandbox plays it by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from klaviyo_sync.engine._consent import ConsentResult, Step, _done
from klaviyo_sync.klaviyo import SubscriptionTarget
from klaviyo_sync.operations import retry_failures
from klaviyo_sync.outcome import AuditEntry, Outcome
from klaviyo_sync.store import FailureRecord
from tests.postgres import fresh_postgres, postgres_wanted
from tests.world import World

BAD = "+15550100199"
"""Possible for its length, so it is sent; not a valid US number, so Klaviyo leaves it out."""
REJECTED = {"Id": 7, "EmailAddress": "seven@example.com", "Phone": "(555) 010-0199"}
GOOD = {"Id": 8, "EmailAddress": "eight@example.com"}


def _open(world: World) -> list[FailureRecord]:
    with world.store() as store:
        return store.list_failures()


def _applied(world: World, customer_id: str = "7") -> dict[str, Any]:
    with world.store() as store:
        return store.get_applied([customer_id])[customer_id]


def _bodies(world: World, method: str) -> list[dict[str, Any]]:
    return [r.body["data"]["attributes"] for r in world.requests(method, "/api/profiles")]


async def _created_without_phone(world: World) -> tuple[Outcome, FailureRecord]:
    first = await world.sync(REJECTED, GOOD)
    assert [o.kind for o in first] == ["created", "created"]
    outcome = first[0]
    assert outcome.failure is not None
    [logged] = _open(world)
    return outcome, logged


async def test_the_profile_is_created_and_the_phone_logged(world: World) -> None:
    outcome, logged = await _created_without_phone(world)

    assert outcome.failure is not None
    assert outcome.failure.kind == "phone_rejected"
    assert BAD in outcome.failure.message
    assert "X-Klaviyo-Partial-Failure: phone_number" in outcome.failure.message
    assert any("left out" in note and BAD in note for note in outcome.detail["notes"])
    profile = world.profile(outcome.profile_id or "")
    assert (profile.email, profile.phone_number) == ("seven@example.com", None)

    assert (logged.customer_id, logged.kind, logged.stage) == ("7", "phone_rejected", "write")
    assert logged.is_open
    assert not logged.retryable
    assert logged.detail["fields"] == {"phone_number": BAD}
    assert logged.detail["klaviyo"]["partial_failure"] == "phone_number"
    assert logged.detail["klaviyo"]["request"] == "POST /api/profiles"
    assert logged.detail["payload"]["data"]["attributes"]["phone_number"] == BAD

    applied = _applied(world)
    assert "phone_number" not in applied, "the phone is not recorded as applied"
    assert applied["email"] == "seven@example.com"
    with world.store() as store:
        assert store.get_links(["7"])["7"].profile_id == outcome.profile_id


async def test_an_unchanged_resync_keeps_it_open_and_sends_nothing(world: World) -> None:
    _, logged = await _created_without_phone(world)
    writes = len(world.writes())

    again = await world.sync(REJECTED, GOOD)

    assert len(world.writes()) == writes, "nothing changed: no write request"
    assert [o.kind for o in again] == ["unchanged", "unchanged"]
    assert again[0].failure is not None
    assert again[0].failure.kind == "phone_rejected"
    assert "not sent again" in again[0].detail["notes"][0]
    [still] = _open(world)
    assert (still.id, still.attempts) == (logged.id, 2)
    assert still.detail["fields"] == {"phone_number": BAD}


async def test_a_change_elsewhere_goes_out_without_the_phone(world: World) -> None:
    outcome, logged = await _created_without_phone(world)

    [changed] = await world.sync({**REJECTED, "LastName": "Seven"})

    assert changed.kind == "updated"
    assert changed.failure is not None
    assert changed.failure.kind == "phone_rejected"
    [patch] = _bodies(world, "PATCH")
    assert patch["last_name"] == "Seven"
    assert "phone_number" not in patch, "a PATCH carrying it would be refused whole"
    assert world.profile(outcome.profile_id or "").last_name == "Seven"
    [still] = _open(world)
    assert (still.id, still.attempts) == (logged.id, 2)
    assert "phone_number" not in _applied(world)

    writes = len(world.writes())
    [again] = await world.sync({**REJECTED, "LastName": "Seven"})
    assert again.kind == "unchanged"
    assert again.failure is not None
    assert len(world.writes()) == writes


async def test_a_corrected_phone_resolves_it(world: World) -> None:
    outcome, _ = await _created_without_phone(world)

    [fixed] = await world.sync({**REJECTED, "Phone": "(415) 555-2671"})

    assert fixed.kind == "updated"
    assert fixed.failure is None
    [patch] = _bodies(world, "PATCH")
    assert patch["phone_number"] == "+14155552671"
    assert world.profile(outcome.profile_id or "").phone_number == "+14155552671"
    assert _open(world) == [], "the phone applied resolves the entry"
    assert _applied(world)["phone_number"] == "+14155552671"


async def test_a_phone_removed_at_the_source_resolves_it(world: World) -> None:
    await _created_without_phone(world)
    [fixed] = await world.sync({**REJECTED, "Phone": None, "LastName": "Seven"})
    assert (fixed.kind, fixed.failure) == ("updated", None)
    assert _open(world) == []


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_wanted(), reason="PostgreSQL is not reachable")
async def test_logged_kept_open_and_resolved_on_postgresql(tmp_path: Path) -> None:
    world = World.make(tmp_path, KLAVIYO_SYNC_STORE=fresh_postgres())
    _, logged = await _created_without_phone(world)
    [again] = await world.sync(REJECTED)
    assert again.kind == "unchanged"
    assert again.failure is not None
    assert [(f.id, f.attempts) for f in _open(world)] == [(logged.id, 2)]
    assert "phone_number" not in _applied(world)
    [fixed] = await world.sync({**REJECTED, "Phone": "(415) 555-2671"})
    assert fixed.failure is None
    assert _open(world) == []


async def test_full_and_retry_do_not_send_the_phone_again(world: World) -> None:
    _, logged = await _created_without_phone(world)

    [full] = await world.sync(REJECTED, full=True)
    assert full.kind == "updated"
    assert full.failure is not None
    [retry] = await retry_failures(world.settings, [logged.id], connections=world.connections)
    assert retry.outcome is not None
    assert retry.outcome.failure is not None

    assert all("phone_number" not in body for body in _bodies(world, "PATCH"))
    [still] = _open(world)
    assert (still.id, still.attempts) == (logged.id, 3)


async def test_sms_consent_is_not_asked_with_a_phone_klaviyo_left_out(world: World) -> None:
    world.settings = world.settings.model_copy(update={"subscribe_sms": True})
    [outcome] = await world.sync(REJECTED)

    assert outcome.kind == "created"
    assert outcome.failure is not None
    subscribed = [
        profile["attributes"]
        for r in world.requests("POST", "/api/profile-subscription-bulk-create-jobs")
        for profile in r.body["data"]["attributes"]["profiles"]["data"]
    ]
    assert subscribed, "the email was still subscribed"
    assert all("phone_number" not in p and "sms" not in p["subscriptions"] for p in subscribed)
    assert any("SMS consent not asked" in note for note in outcome.detail["notes"])
    assert world.profile(outcome.profile_id or "").sms_marketing is None
    assert "$subscribe" not in _applied(world), "the SMS consent it stands for is not applied"
    with world.store() as store:
        [audited] = [r for r in store.list_audit(customer_id="7") if r.action == "subscribe"]
    assert "email only" in audited.after


def _entry(action: str = "subscribe", list_name: str | None = None) -> AuditEntry:
    return AuditEntry("7", "P7", action, "new", "subscribed", "SubscribeProfile", list_name)  # type: ignore[arg-type]


def _step(entry: AuditEntry, key: str = "$subscribe") -> Step:
    return Step(key, True, entry)


@pytest.mark.parametrize(
    ("target", "audited", "key"),
    [
        (
            SubscriptionTarget(email="a@x.com", phone_number=BAD, sms_marketing=True),
            "subscribed (email only)",
            "$subscribe",
        ),
        (
            SubscriptionTarget(phone_number=BAD, email_marketing=False, sms_marketing=True),
            None,
            "$subscribe",
        ),
    ],
)
def test_consent_a_subscription_job_dropped_is_not_counted(
    target: SubscriptionTarget, audited: str | None, key: str
) -> None:
    # The job's header names no profile: every SMS consent it carried is not counted as given.
    result = ConsentResult()
    _done(result, target, _step(_entry(), key), ("phone_number",))
    assert [entry.after for entry in result.audit] == ([audited] if audited else [])
    assert result.unsettled == {key}
    assert result.done == {}, "not applied"
    assert "Klaviyo left out phone_number" in result.notes[0]


def test_a_list_subscription_job_that_dropped_the_phone_leaves_the_list_unsettled() -> None:
    result = ConsentResult()
    sms_only = SubscriptionTarget(phone_number=BAD, email_marketing=False, sms_marketing=True)
    entry = _entry("list_add", "Sms Subscribers")
    _done(result, sms_only, _step(entry, "$list:Sms Subscribers"), ("phone_number",))
    assert result.audit == []
    assert result.unsettled == {"$list:Sms Subscribers"}
    clean = ConsentResult()
    _done(clean, SubscriptionTarget(email="a@x.com"), _step(_entry()), ("phone_number",))
    assert [e.after for e in clean.audit] == ["subscribed"], "no SMS asked: nothing lost"
    assert clean.done == {"$subscribe": True}
