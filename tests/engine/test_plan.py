"""Plans: what a sync would do, per customer, against the store or Klaviyo; nothing written."""

from __future__ import annotations

from typing import Any

from klaviyo_sync.engine import PlanEntry
from klaviyo_sync.operations import plan_source
from klaviyo_sync.sources import RecordsSource
from tests.acceptance.customers import ada
from tests.world import World


def _by_id(entries: list[PlanEntry]) -> dict[str, PlanEntry]:
    return {entry.customer_id: entry for entry in entries}


def _fields(entry: PlanEntry) -> dict[str, tuple[str, Any, Any]]:
    assert entry.diff is not None
    return {c.field: (c.kind, c.before, c.after) for c in entry.diff.fields}


def _store_state(world: World) -> tuple[Any, ...]:
    with world.store() as store:
        ids = [str(n) for n in range(1, 10)] + ["55260"]
        return (
            [r.id for r in store.list_runs(limit=100)],
            store.get_links(ids),
            store.get_fingerprints(ids),
            store.get_applied(ids),
            store.count_failures(include_resolved=True),
            store.count_audit(),
        )


async def test_a_plan_writes_nothing_anywhere(world: World) -> None:
    await world.sync(ada(), {"Id": 2, "EmailAddress": "b@example.com"})
    before = _store_state(world)
    seen = len(world.sandbox.requests)
    _, report = await world.plan(
        ada(LastName="King"), {"Id": 3, "EmailAddress": "c@example.com"}, live=True
    )
    await world.plan(ada(LastName="King", Phone=None), {"Id": 4, "Phone": "bad"})
    asked = list(world.sandbox.requests)[seen:]
    assert asked, "a plan looks customers up"
    assert {r.method for r in asked} == {"GET"}, [r.method + " " + r.path for r in asked]
    assert _store_state(world) == before
    assert report.routes == {"update": 1, "create": 1}


async def test_diffs_for_create_update_unchanged_and_matched(world: World) -> None:
    await world.sync(ada(), {"Id": 2, "EmailAddress": "same@example.com", "FirstName": "Bo"})
    existing = world.sandbox.create_profile(
        {"email": "grace@example.com", "first_name": "Amazing Grace", "organization": "Navy"}
    )
    by_phone = world.sandbox.create_profile({"phone_number": "+16175550199"})
    entries, report = await world.plan(
        ada(LastName="King"),
        {"Id": 2, "EmailAddress": "same@example.com", "FirstName": "Bo"},
        {"Id": 3, "EmailAddress": "grace@example.com", "FirstName": "Grace"},
        {"Id": 4, "Phone": "(617) 555-0199", "FirstName": "Margaret"},
        {"Id": 5, "EmailAddress": "new@example.com"},
    )
    plans = _by_id(entries)
    assert [e.customer_id for e in entries] == ["55260", "2", "3", "4", "5"], "source order"

    update = plans["55260"]
    assert update.route == "update"
    assert _fields(update) == {"last_name": ("change", "Lovelace", "King")}
    assert update.diff is not None
    assert update.diff.before.source == "store"
    assert update.diff.consent is None, "consent as last applied"
    assert update.diff.lists == ()
    assert update.payload is not None
    assert update.payload["data"]["id"] == update.profile_id
    assert update.payload["data"]["attributes"]["last_name"] == "King"

    assert plans["2"].route == "unchanged"
    assert plans["2"].payload is None

    matched = plans["3"]
    assert (matched.route, matched.profile_id) == ("matched_email", existing.id)
    assert matched.diff is not None
    assert matched.diff.before.source == "klaviyo"
    assert _fields(matched)["first_name"] == ("change", "Amazing Grace", "Grace")
    assert _fields(matched)["organization"] == ("kept", "Navy", None), "no Company: kept"

    phone = plans["4"]
    assert (phone.route, phone.profile_id) == ("matched_phone", by_phone.id)
    assert _fields(phone)["first_name"] == ("set", None, "Margaret")

    create = plans["5"]
    assert create.route == "create"
    assert create.profile_id is None
    assert _fields(create)["email"] == ("set", None, "new@example.com")
    assert create.diff is not None
    assert create.diff.consent is not None
    assert create.payload is not None
    assert "id" not in create.payload["data"]
    assert report.routes == {
        "update": 1,
        "unchanged": 1,
        "matched_email": 1,
        "matched_phone": 1,
        "create": 1,
    }


async def test_the_amperity_case_shows_the_phone_as_kept(world: World) -> None:
    await world.sync(ada())
    entries, report = await world.plan(ada(Phone=None, LastName="King"))
    [entry] = entries
    assert _fields(entry)["phone_number"] == ("kept", "+14155552671", None)
    assert entry.payload is not None
    assert "phone_number" not in entry.payload["data"]["attributes"]
    assert report.changes["fields_kept"] == 1
    assert report.changes["fields_cleared"] == 0


async def test_a_source_that_only_lost_a_value_changes_nothing(world: World) -> None:
    await world.sync(ada())
    writes = len(world.writes())
    [entry], _ = await world.plan(ada(Phone=None))
    assert entry.route == "unchanged"
    [outcome] = await world.sync(ada(Phone=None))
    assert outcome.kind == "unchanged"
    assert len(world.writes()) == writes


async def test_live_diffs_against_the_profile_as_klaviyo_holds_it(world: World) -> None:
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    world.sandbox.update_profile(profile_id, {"last_name": "Byron", "organization": "Edited"})
    [offline], _ = await world.plan(ada(LastName="King"))
    [live], _ = await world.plan(ada(LastName="King"), live=True)
    assert _fields(offline)["last_name"] == ("change", "Lovelace", "King")
    assert _fields(live)["last_name"] == ("change", "Byron", "King")
    assert _fields(live)["organization"] == ("change", "Edited", "Analytical Engines Ltd")
    assert live.diff is not None
    assert live.diff.before.source == "klaviyo"


async def test_a_plan_shows_what_would_fail(world: World) -> None:
    entries, report = await world.plan({"Id": 9, "Phone": "not a phone"})
    [entry] = entries
    assert entry.route == "failed"
    assert entry.failure is not None
    assert entry.failure.kind == "no_identifier"
    assert report.failures == {"no_identifier": 1}


async def test_live_diffs_every_customer_against_klaviyo_unchanged_ones_too(
    world: World,
) -> None:
    customers = [ada(), *({"Id": i, "EmailAddress": f"c{i}@example.com"} for i in range(1, 150))]
    [created, *_] = await world.sync(*customers)
    profile_id = created.profile_id or ""
    world.sandbox.update_profile(profile_id, {"last_name": "Byron"})

    offline, _ = await world.plan(*customers)
    assert {e.route for e in offline} == {"unchanged"}
    assert offline[0].diff is None, "against the store: nothing to compare"

    reads = len(world.requests("GET", "/api/profiles"))
    live, report = await world.plan(*customers, live=True)
    id_reads = [
        r
        for r in world.requests("GET", "/api/profiles")[reads:]
        if "any(id," in str(r.query.get("filter", ""))
    ]
    assert len(id_reads) == 2, "150 linked customers: one batched read per 100"
    edited = live[0]
    assert edited.route == "unchanged", "a sync sends nothing: the source is as last applied"
    assert _fields(edited)["last_name"] == ("change", "Byron", "Lovelace")
    assert edited.diff is not None
    assert edited.diff.before.source == "klaviyo"
    assert any("sync --full" in note for note in edited.notes)
    assert [e.diff for e in live[1:]] == [None] * 149, "Klaviyo holds what was applied"
    assert report.drifted == 1
    assert report.routes == {"unchanged": 150}
    assert not report.changes, "the summary counts what a sync would do"

    # --full sends it, and the plan says so.
    entries: list[PlanEntry] = []
    await plan_source(
        world.settings,
        RecordsSource([ada()]),
        live=True,
        full=True,
        on_entry=entries.append,
        connections=world.connections,
    )
    [full] = entries
    assert full.route == "update"
    assert _fields(full)["last_name"] == ("change", "Byron", "Lovelace")
    [outcome] = await world.sync(ada(), full=True)
    assert world.profile(profile_id).last_name == "Lovelace"
    assert outcome.kind == "updated"
