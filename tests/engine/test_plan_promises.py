"""A plan promises only what the sync then does, customer by customer (issue 15, point 3).

A varied file is planned, then synced, against the same sandbox and store, twice (new customers,
then changes to them), and every customer's plan is compared with its outcome: the route and
outcome kind, the payload sent, what the consent and list steps do, and the failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from klaviyo_sandbox import SubscriptionRequest

from klaviyo_sync.engine import PlanEntry
from klaviyo_sync.outcome import Outcome
from tests.engine.twins import strategy_world
from tests.world import World

MAPPING = """
remove = ["UCLIST_Preview List"]

[[rows]]
destination = "SubscribeProfile"
kind = "field"
source = "CustomFields.Subscribe"

[[rows]]
destination = "LIST_Preview List"
kind = "static"
source = true

[[rows]]
destination = "LIST_Nowhere"
kind = "field"
source = "CustomFields.Nowhere"
"""
"""SubscribeProfile from the record (true, false or empty); the double opt-in list
``Sms Subscribers`` (the template's row) and the single opt-in ``Preview List`` for everyone;
a list Klaviyo does not have for the records that ask for it."""

YES = {"Subscribe": True}

FIRST = [
    {"Id": 1, "EmailAddress": "only-email@example.com", "FirstName": "Email", "CustomFields": YES},
    {"Id": 2, "Phone": "(415) 555-0102", "FirstName": "Phone", "CustomFields": YES},
    {
        "Id": 3,
        "EmailAddress": "both@example.com",
        "Phone": "(415) 555-0103",
        "CustomFields": YES,
    },
    {"Id": 4, "FirstName": "Nobody", "CustomFields": YES},
    {"Id": 5, "EmailAddress": "bad-phone@example.com", "Phone": "12", "CustomFields": YES},
    {
        "Id": 6,
        "EmailAddress": "unicode@example.com",
        "FirstName": "Zoë",
        "LastName": "Ångström-李",
        "Company": "Ōkami 🐺",
        "CustomFields": {"Subscribe": False},
    },
    {
        "Id": 7,
        "EmailAddress": "existing@example.com",
        "FirstName": "Matched",
        "CustomFields": YES,
    },
    {
        "Id": 8,
        "EmailAddress": "new-for-a-phone@example.com",
        "Phone": "(415) 555-0108",
        "CustomFields": YES,
    },
    {"Id": 9, "EmailAddress": "empty-consent@example.com", "CustomFields": {"Subscribe": ""}},
    {
        "Id": 10,
        "EmailAddress": "nowhere@example.com",
        "CustomFields": {"Subscribe": True, "Nowhere": True},
    },
    {"Id": 11, "EmailAddress": "opted-out@example.com", "CustomFields": YES},
]

SECOND = [
    {
        "Id": 1,
        "EmailAddress": "only-email@example.com",
        "FirstName": "Emily",
        "CustomFields": {"Subscribe": False},
    },
    {key: value for key, value in FIRST[1].items() if key != "FirstName"},
    {**FIRST[2], "LastName": "Both"},
    FIRST[3],
    FIRST[4],
    FIRST[5],
    {**FIRST[6], "CustomFields": {"Subscribe": False}},
    {**FIRST[7], "FirstName": "Eight"},
    {**FIRST[8], "CustomFields": YES},
    FIRST[9],
    FIRST[10],
    {"Id": 12, "Phone": "(415) 555-0112", "CustomFields": {"Subscribe": False}},
]

_KIND = {"create": "created", "update": "updated"}


def _promised(entry: PlanEntry) -> dict[str, Any]:
    return {
        "outcome": _KIND.get(entry.route, entry.route),
        "payload": entry.payload,
        "consent": entry.consent,
        "lists": entry.lists,
        "failure": entry.failure.kind if entry.failure else None,
    }


def _done(outcome: Outcome) -> dict[str, Any]:
    return {
        "outcome": outcome.kind,
        "payload": outcome.detail.get("payload"),
        "consent": outcome.detail.get("consent"),
        "lists": outcome.detail.get("lists", {}),
        "failure": outcome.failure.kind if outcome.failure else None,
    }


async def _plan_then_sync(world: World, records: list[dict[str, Any]]) -> dict[str, Any]:
    entries, _ = await world.plan(*records)
    outcomes = await world.sync(*records)
    planned = {e.customer_id: _promised(e) for e in entries}
    done = {o.customer_id: _done(o) for o in outcomes}
    assert list(planned) == list(done) == [str(r["Id"]) for r in records]
    for customer_id in planned:
        assert planned[customer_id] == done[customer_id], f"customer {customer_id}"
    return done


@pytest.mark.parametrize("strategy", ["per-record", "bulk"])
async def test_the_plan_of_a_varied_file_is_what_the_sync_does(
    tmp_path: Path, strategy: str
) -> None:
    world = strategy_world(tmp_path, strategy).with_mapping(MAPPING)
    world.sandbox.create_profile({"email": "existing@example.com", "first_name": "Old"})
    world.sandbox.create_profile({"phone_number": "+14155550108"})
    world.sandbox.create_profile({"email": "opted-out@example.com"})
    world.sandbox.unsubscribe(
        [SubscriptionRequest(email="opted-out@example.com", channels={"email": None})]
    )

    first = await _plan_then_sync(world, FIRST)
    # What was compared is what this test is about.
    assert {c: d["outcome"] for c, d in first.items()} == {
        "1": "created",
        "2": "created",
        "3": "created",
        "4": "failed",
        "5": "created",
        "6": "created",
        "7": "matched_email",
        "8": "matched_phone",
        "9": "created",
        "10": "created",
        "11": "matched_email",
    }
    assert first["2"]["consent"] == "consent not changed: no email address"
    assert first["2"]["lists"]["Sms Subscribers"].startswith("not added: no email address")
    assert first["1"]["consent"] == "consent email sent (subscribed when confirmed)"
    assert first["1"]["lists"] == {
        "Sms Subscribers": "consent email sent (joins when confirmed)",
        "Preview List": "subscribed",
    }
    assert first["4"]["failure"] == "no_identifier"
    assert first["9"]["consent"] is None
    assert first["10"]["failure"] == "unknown_list"
    assert first["10"]["lists"]["Nowhere"] == "no such list"
    assert first["11"]["consent"].startswith("kept: Klaviyo has this profile as unsubscribed")
    assert "phone_number" not in first["5"]["payload"]["data"]["attributes"]

    second = await _plan_then_sync(world, SECOND)
    assert {c: d["outcome"] for c, d in second.items()} == {
        "1": "updated",
        "2": "unchanged",
        "3": "updated",
        "4": "failed",
        "5": "unchanged",
        "6": "unchanged",
        "7": "updated",
        "8": "updated",
        "9": "updated",
        "10": "updated",
        "11": "unchanged",
        "12": "created",
    }
    assert second["2"]["consent"] == "consent not changed: no email address", "a lost value"
    assert second["1"]["consent"] == "unsubscribed"
    assert second["7"]["consent"] == "unsubscribed"
    assert second["9"]["consent"] == "consent email sent (subscribed when confirmed)"
    assert second["10"]["failure"] == "unknown_list", "the list step is tried again"
