"""A customer whose profile was written, but whose subscription or list step failed (issue 15).

The outcome says what happened to the profile (``created``, ``updated``, ``matched_…``) and
carries the step's failure, which the error log keeps open; the run summary counts it; the
store keeps the link and what was applied, without the failed intent, so the next run sends
that intent again. The same on the per-record and the bulk path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from klaviyo_sandbox import FaultRule

from klaviyo_sync.engine import RunSummary
from klaviyo_sync.operations import sync_source
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import FailureRecord
from tests.engine.twins import strategy_world
from tests.world import World

UNKNOWN_LIST = '[[rows]]\ndestination = "LIST_Nowhere"\nkind = "static"\nsource = true\n'
STRATEGIES = ["per-record", "bulk"]


def _customers(n: int = 3) -> list[dict[str, Any]]:
    return [
        {"Id": i, "EmailAddress": f"step{i}@example.com", "FirstName": f"S{i}"} for i in range(n)
    ]


async def _sync(world: World, records: list[dict[str, Any]]) -> tuple[RunSummary, list[Outcome]]:
    outcomes: list[Outcome] = []
    summary = await sync_source(
        world.settings,
        RecordsSource(records),
        on_outcome=outcomes.append,
        connections=world.connections,
    )
    return summary, outcomes


def _open(world: World) -> list[FailureRecord]:
    with world.store() as store:
        return store.list_failures()


def _applied(world: World, customer_id: str) -> dict[str, Any]:
    with world.store() as store:
        return store.get_applied([customer_id])[customer_id]


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_list_klaviyo_lacks_leaves_the_outcome_created_with_the_failure(
    tmp_path: Path, strategy: str
) -> None:
    world = strategy_world(tmp_path, strategy).with_mapping(UNKNOWN_LIST)
    records = _customers()
    summary, outcomes = await _sync(world, records)

    assert [o.kind for o in outcomes] == ["created"] * 3, "the profiles were created"
    for outcome in outcomes:
        assert outcome.failure is not None
        assert (outcome.failure.stage, outcome.failure.kind) == ("lists", "unknown_list")
        assert not outcome.failure.retryable
        assert outcome.detail["lists"]["Nowhere"] == "no such list"
        profile = world.profile(outcome.profile_id or "")
        assert profile.email == f"step{outcome.customer_id}@example.com"
    jobs = world.requests("POST", "/api/profile-bulk-import-jobs")
    assert bool(jobs) == (strategy == "bulk"), "the path under test wrote the profiles"
    # The summary says there were failures, though no customer failed outright.
    assert summary.failed == 0
    assert summary.failures == {"unknown_list": 3}
    assert summary.partial == 3
    assert summary.outcomes == {"created": 3}
    logged = _open(world)
    assert {(f.customer_id, f.kind, f.stage) for f in logged} == {
        (str(i), "unknown_list", "lists") for i in range(3)
    }
    with world.store() as store:
        links = store.get_links(["0", "1", "2"])
        assert {c: link.profile_id for c, link in links.items()} == {
            o.customer_id: o.profile_id for o in outcomes
        }
    applied = _applied(world, "0")
    assert applied["email"] == "step0@example.com"
    assert "$list:Nowhere" not in applied, "the list step failed: not applied"
    assert applied["$list:Sms Subscribers"] == "pending", "the other steps went on"

    # The next run sends the list step again (Klaviyo still lacks it): still failing, open.
    _, again = await _sync(world, records)
    assert [o.kind for o in again] == ["updated"] * 3
    assert {o.failure.kind for o in again if o.failure} == {"unknown_list"}
    assert [(f.customer_id, f.attempts) for f in _open(world)] == [(str(i), 2) for i in (2, 1, 0)]

    # Once the list exists, the next run adds the profiles and the failures are resolved.
    world.sandbox.create_list("Nowhere", "single_opt_in")
    _, fixed = await _sync(world, records)
    assert [(o.kind, o.failure) for o in fixed] == [("updated", None)] * 3
    assert _open(world) == []
    for outcome in fixed:
        lists = {item.name for item in world.sandbox.lists_of(outcome.profile_id or "")}
        assert "Nowhere" in lists
    assert _applied(world, "0")["$list:Nowhere"] is True
    _, settled = await _sync(world, records)
    assert [o.kind for o in settled] == ["unchanged"] * 3


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("operation", "stage"),
    [
        ("bulk_subscribe_profiles", "subscribe"),
        ("add_profiles_to_list", "lists"),
    ],
)
async def test_a_consent_call_failing_every_try_leaves_the_profile_written(
    tmp_path: Path, strategy: str, operation: str, stage: str
) -> None:
    world = strategy_world(tmp_path, strategy).single_opt_in()
    records = _customers()
    world.sandbox.set_faults([FaultRule(operation=operation, status=503)])
    summary, outcomes = await _sync(world, records)
    jobs = world.requests("POST", "/api/profile-bulk-import-jobs")
    assert bool(jobs) == (strategy == "bulk"), "the path under test wrote the profiles"

    assert [o.kind for o in outcomes] == ["created"] * 3
    assert {
        (o.failure.stage, o.failure.kind, o.failure.retryable) for o in outcomes if o.failure
    } == {(stage, "klaviyo_unavailable", True)}
    assert all(o.failure is not None for o in outcomes)
    assert summary.failures == {"klaviyo_unavailable": 3}
    assert summary.partial == 3
    retryable = _open(world)
    assert len(retryable) == 3
    assert all(f.retryable and f.next_retry_at is not None for f in retryable)
    applied = _applied(world, "0")
    failed_key = "$subscribe" if stage == "subscribe" else "$uclist:Preview List"
    assert failed_key not in applied, "the failed step is not recorded as applied"

    world.sandbox.set_faults([])
    _, again = await _sync(world, records)
    assert [(o.kind, o.failure) for o in again] == [("updated", None)] * 3
    assert _open(world) == []
    for outcome in again:
        profile = world.profile(outcome.profile_id or "")
        if stage == "subscribe":
            assert profile.email_marketing is not None
            assert profile.email_marketing.consent == "SUBSCRIBED"
        else:
            lists = {item.name for item in world.sandbox.lists_of(profile.id)}
            assert "Preview List" in lists
    assert _applied(world, "0")[failed_key] is True


async def test_a_phone_left_out_and_a_list_step_failing_keeps_both_in_view(
    world: World,
) -> None:
    # The outcome carries one failure: the phone's, whose being open keeps the phone withheld;
    # the list step's is named in a note, and the next run still sends the list again.
    world.with_mapping(UNKNOWN_LIST)
    record = {"Id": 7, "EmailAddress": "seven@example.com", "Phone": "(555) 010-0199"}
    [outcome] = await world.sync(record)
    assert outcome.kind == "created"
    assert outcome.failure is not None
    assert outcome.failure.kind == "phone_rejected"
    assert any("list step failed (unknown_list)" in n for n in outcome.detail["notes"])

    world.sandbox.create_list("Nowhere", "single_opt_in")
    [again] = await world.sync(record)
    assert again.kind == "updated", "not taken for unchanged: the list step is sent again"
    assert again.failure is not None
    assert again.failure.kind == "phone_rejected", "the phone is still withheld, still open"
    lists = {item.name for item in world.sandbox.lists_of(again.profile_id or "")}
    assert "Nowhere" in lists
    [settled] = await world.sync(record)
    assert settled.kind == "unchanged"
