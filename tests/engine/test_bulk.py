"""The bulk strategy against the in-process sandbox: the same Klaviyo state as per record, import
errors in the error log with the right customer, nothing sent for an unchanged resync."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from klaviyo_sandbox import FaultRule, ManualClock, SubscriptionRequest

from klaviyo_sync.operations import Connections
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import RecordsSource
from tests.acceptance.customers import ada
from tests.engine.twins import engine, klaviyo_state, strategy_world
from tests.world import World

JOBS = "/api/profile-bulk-import-jobs"


def _customer(n: int, **extra: Any) -> dict[str, Any]:
    return {"Id": n, "EmailAddress": f"c{n}@example.com", "FirstName": f"C{n}", **extra}


def _mix() -> list[dict[str, Any]]:
    """Every kind of customer the seed talks about, in one batch."""
    return [
        ada(),
        _customer(1, Phone="+44 20 7946 0958", LastName="Wiśniewski"),
        _customer(2, EmailAddress="Known@Example.com"),  # matches an existing profile by email
        {"Id": 3, "Phone": "(212) 555-0100", "FirstName": "Phone only"},  # matches by phone
        {"Id": 4, "Phone": "(646) 555-0101", "FirstName": "New phone only"},
        _customer(5, Phone="(555) 010-0199"),  # possible, but Klaviyo rejects it
        _customer(6, Phone="555 0100"),  # cannot be normalized: omitted, never null
        {"Id": 7, "FirstName": "Nobody"},  # no identifier
        _customer(8, EmailAddress="not-an-email"),  # Klaviyo refuses the email
        _customer(9, EmailAddress="shared@example.com"),  # two customers, one email
        _customer(10, EmailAddress="SHARED@example.com", LastName="Second"),
        _customer(11, CustomFields={"Tier": "gold"}, Company="Zoë & Søren"),
        _customer(12, Addresses=[{"Address1": "1 Shipping Lane", "IsPrimaryShipping": True}]),
    ]


def _seed_existing(world: World) -> None:
    world.sandbox.create_profile(
        {"email": "known@example.com", "title": "Kept", "phone_number": "+14155550123"}
    )
    world.sandbox.create_profile({"phone_number": "+12125550100", "title": "Kept too"})


def _kinds(outcomes: list[Outcome]) -> dict[str, str]:
    return {o.customer_id: o.failure.kind if o.failure is not None else o.kind for o in outcomes}


async def test_bulk_and_per_record_leave_klaviyo_in_the_same_state(tmp_path: Path) -> None:
    bulk = strategy_world(tmp_path / "bulk", "bulk")
    per_record = strategy_world(tmp_path / "per-record", "per-record")
    for world in (bulk, per_record):
        _seed_existing(world)

    first = [await world.sync(*_mix()) for world in (bulk, per_record)]
    # Today's Klaviyo leaves an invalid phone out of a create (X-Klaviyo-Partial-Failure) and
    # refuses a bulk import job for it; the bulk path sends that row again without the phone,
    # so both paths make customer 5's profile without it, and both log the phone.
    assert klaviyo_state(bulk) == klaviyo_state(per_record)
    for world, outcomes in zip((bulk, per_record), first, strict=True):
        five = world.sandbox.find_profile(external_id="5")
        assert five is not None
        assert (five.email, five.phone_number) == ("c5@example.com", None)
        assert [o.kind for o in outcomes if o.customer_id == "5"] == ["created"]
    assert _kinds(first[0]) == _kinds(first[1])
    assert _kinds(first[0]) == {
        "55260": "created",
        "1": "created",
        "2": "matched_email",
        "3": "matched_phone",
        "4": "created",
        "5": "phone_rejected",
        "6": "created",
        "7": "no_identifier",
        "8": "invalid",
        "9": "created",
        "10": "matched_email",
        "11": "created",
        "12": "created",
    }
    assert bulk.requests("POST", JOBS), "the bulk world imported through a job"
    assert not per_record.requests("POST", JOBS)

    # A second run: changes, a new customer, and a linked profile someone deleted in Klaviyo.
    for world in (bulk, per_record):
        gone = world.sandbox.find_profile(external_id="4")
        assert gone is not None
        world.sandbox.delete_profile(gone.id)
    changed = [
        ada(LastName="King", Phone=None),
        _customer(1, Phone="+44 20 7946 0958", LastName="Nowak"),
        {"Id": 4, "Phone": "(646) 555-0101", "FirstName": "Back again"},
        _customer(13),
    ]
    second = [await world.sync(*changed) for world in (bulk, per_record)]
    assert klaviyo_state(bulk) == klaviyo_state(per_record)
    assert _kinds(second[0]) == _kinds(second[1])
    assert _kinds(second[0]) == {
        "55260": "updated",
        "1": "updated",
        "4": "created",
        "13": "created",
    }
    for world in (bulk, per_record):
        ada_profile = world.by_email("ada@example.com")
        assert ada_profile is not None
        assert ada_profile.phone_number == "+14155552671", "no phone in the source keeps Klaviyo's"


def _behave(world: World, **settings: str) -> World:
    world.sandbox.behaviour = world.sandbox.behaviour.updated(settings)
    return world


async def test_rows_refused_at_submit_fail_with_the_job_row_and_the_rest_go_in_one_more_job(
    tmp_path: Path,
) -> None:
    # Klaviyo today: the job is a 400 naming rows 10 and 21, and nothing is imported.
    world = strategy_world(tmp_path, "bulk")
    good = [_customer(n, Phone=f"(415) 555-{2600 + n:04d}") for n in range(20)]
    rejected = _customer(77, Phone="(555) 010-0177")
    refused = _customer(78, EmailAddress="nope@")
    outcomes = await world.sync(*good[:10], rejected, *good[10:], refused)

    first, second = world.requests("POST", JOBS)
    assert first.status == 400
    resent = second.body["data"]["attributes"]["profiles"]["data"]
    assert len(resent) == 21, "the others, and 77 without the phone it was refused for"
    [again] = [r["attributes"] for r in resent if r["attributes"]["external_id"] == "77"]
    assert "phone_number" not in again
    assert not world.requests("POST", "/api/profiles"), "no request per customer"
    with world.store() as store:
        failures = {f.customer_id: f for f in store.list_failures()}
        links = store.get_links([*map(str, range(20)), "77"])
    assert set(failures) == {"77", "78"}
    # 77 has its profile, without the phone, and the phone is logged as left out, open, as a
    # create per record has it with today's Klaviyo (X-Klaviyo-Partial-Failure).
    assert (failures["77"].kind, failures["77"].stage) == ("phone_rejected", "write")
    assert failures["77"].is_open
    assert failures["77"].detail["fields"] == {"phone_number": "+15550100177"}
    assert "refused the bulk import job for it" in failures["77"].message
    assert world.profile(links["77"].profile_id).phone_number is None
    assert failures["78"].kind == "invalid"
    assert failures["78"].detail["klaviyo"]["pointer"] == "/data/attributes/email"
    assert "(row 21)" in failures["78"].message
    assert len(links) == 21, "every other customer is linked to its own profile"
    for n, link in links.items():
        assert world.profile(link.profile_id).external_id == n
    created = {o.customer_id for o in outcomes if o.kind == "created"}
    assert created == {*map(str, range(20)), "77"}

    # Unchanged, 77 is not sent again and its entry stays open; a corrected phone resolves it.
    again_outcomes = await world.sync(*good, rejected, refused)
    assert {o.customer_id: o.kind for o in again_outcomes}["77"] == "unchanged"
    fixed = await world.sync(_customer(77, Phone="(415) 555-0177"))
    assert [o.kind for o in fixed] == ["updated"]
    with world.store() as store:
        assert not store.list_failures(customer_id="77")
        [resolved] = store.list_failures(customer_id="77", include_resolved=True)
        assert not resolved.is_open
    assert world.profile(links["77"].profile_id).phone_number == "+14155550177"


async def test_import_errors_of_a_job_accepted_whole_land_with_the_right_customer(
    tmp_path: Path,
) -> None:
    # Klaviyo before, and rows that fail only once imported: the job runs, errors come after.
    world = _behave(strategy_world(tmp_path, "bulk"), bulk_import_validation="row")
    good = [_customer(n, Phone=f"(415) 555-{2600 + n:04d}") for n in range(20)]
    rejected = _customer(77, Phone="(555) 010-0177")
    refused = _customer(78, EmailAddress="nope@")
    outcomes = await world.sync(*good[:10], rejected, *good[10:], refused)

    assert [len(world.requests("POST", JOBS))] == [1]
    with world.store() as store:
        failures = {f.customer_id: f for f in store.list_failures()}
        links = store.get_links([str(n) for n in range(20)])
    assert set(failures) == {"77", "78"}
    assert (failures["77"].kind, failures["77"].stage) == ("phone_rejected", "write")
    assert failures["77"].detail["klaviyo"]["pointer"] == "/data/attributes/phone_number"
    assert "bulk import job" in failures["77"].message
    assert failures["78"].kind == "invalid"
    assert failures["78"].detail["klaviyo"]["pointer"] == "/data/attributes/email"
    assert len(links) == 20
    assert {o.customer_id for o in outcomes if o.kind == "created"} == {str(n) for n in range(20)}


@pytest.mark.slow
async def test_a_refused_job_of_1500_with_one_bad_email_costs_one_more_job_not_1500_requests(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk", spec_checked=False)
    customers = [_customer(n) for n in range(1_500)]
    customers[700] = _customer(700, EmailAddress="not-an-email")
    outcomes = await world.sync(*customers)

    kinds = _kinds(outcomes)
    assert kinds.pop("700") == "invalid"
    assert set(kinds.values()) == {"created"}
    assert len(kinds) == 1_499
    assert len(world.requests("POST", JOBS)) == 2, "the refused job and one more"
    assert not world.requests("POST", "/api/profiles")
    assert not world.requests("PATCH")
    writes = world.writes()
    # Two import jobs, then 1,000 customers a request for each of the template's consent and
    # list steps (subscribe, LIST_ consent, UCLIST_ membership): nothing per customer.
    assert len(writes) == 2 + 3 * 2, [(r.method, r.path) for r in writes]
    reads = world.requests("GET")
    assert len(reads) <= 50, "lookups of 100 and a few polls"
    assert len(world.sandbox.profiles) == 1_499


class _RefuseEveryJob(httpx.AsyncBaseTransport):
    """Klaviyo refusing every job at submit, each time naming its first row."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == JOBS:
            error = {
                "id": "9b8c2f7e-0000-4000-8000-000000000000",
                "status": 400,
                "code": "invalid",
                "title": "Invalid input.",
                "detail": "Invalid email address",
                "source": {"pointer": "/data/attributes/profiles/data/0/attributes/email"},
                "links": {},
                "meta": {},
            }
            return httpx.Response(400, json={"errors": [error]}, request=request)
        return await self._inner.handle_async_request(request)


async def test_a_second_refusal_fails_its_rows_and_submits_nothing_more(tmp_path: Path) -> None:
    world = strategy_world(tmp_path, "bulk")
    assert world.connections.transport is not None
    world.connections = Connections(_RefuseEveryJob(world.connections.transport), world.clock)
    outcomes = await world.sync(*(_customer(n) for n in range(5)))

    failures = {o.customer_id: o.failure for o in outcomes if o.failure is not None}
    assert set(failures) == {"0", "1", "2", "3", "4"}
    assert (failures["0"].kind, failures["0"].retryable) == ("invalid", False)
    assert (failures["1"].kind, failures["1"].retryable) == ("invalid", False)
    for n in "234":
        failure = failures[n]
        assert (failure.kind, failure.retryable) == ("klaviyo_unavailable", True)
        assert "refused this profile's bulk import job at submit for other rows" in failure.message
    assert not world.requests("POST", "/api/profiles")


@pytest.mark.parametrize("strategy", ["bulk", "per-record", "auto"])
async def test_an_unchanged_resync_sends_no_write_request(tmp_path: Path, strategy: str) -> None:
    world = strategy_world(tmp_path, strategy, KLAVIYO_SYNC_BULK_THRESHOLD="2")
    customers = [ada(), *(_customer(n) for n in range(5))]
    await world.sync(*customers)
    before = len(world.sandbox.requests)

    outcomes = await world.sync(*customers)

    assert {o.kind for o in outcomes} == {"unchanged"}
    assert list(world.sandbox.requests)[before:] == [], "not a single request, read or write"
    resent = await world.sync(*customers, full=True)
    assert {o.kind for o in resent} == {"updated"}


async def test_auto_uses_jobs_only_for_batches_past_the_threshold(tmp_path: Path) -> None:
    world = strategy_world(tmp_path, "auto", KLAVIYO_SYNC_BULK_THRESHOLD="3")
    await world.sync(_customer(1), _customer(2))
    assert not world.requests("POST", JOBS)
    assert len(world.requests("POST", "/api/profiles")) == 2

    await world.sync(*(_customer(n) for n in range(3, 8)))
    assert len(world.requests("POST", JOBS)) == 1
    assert len(world.requests("POST", "/api/profiles")) == 2


async def test_the_bulk_path_never_sends_null_and_keeps_what_the_source_lacks(
    tmp_path: Path,
) -> None:
    # Seed 000: a record without a phone must not clear the phone Klaviyo has.
    world = strategy_world(tmp_path, "bulk")
    world.sandbox.create_profile(
        {"email": "ada@example.com", "phone_number": "+14155552671", "title": "Countess"}
    )
    bare = {"Id": 55260, "EmailAddress": "ada@example.com", "Phone": "", "Company": None}
    [outcome] = await world.sync(bare)

    assert outcome.kind == "matched_email"
    [job] = world.requests("POST", JOBS)
    [row] = job.body["data"]["attributes"]["profiles"]["data"]
    assert "phone_number" not in row["attributes"]
    assert "organization" not in row["attributes"]
    assert "location" not in row["attributes"]
    profile = world.by_email("ada@example.com")
    assert profile is not None
    assert (profile.phone_number, profile.title) == ("+14155552671", "Countess")


async def test_a_job_refused_whole_is_written_per_record_so_only_the_culprit_fails(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk")
    huge = _customer(99, CustomFields={"Notes": "x" * 120_000})
    world.with_mapping(
        '[[rows]]\ndestination = "Notes"\nkind = "formula"\nsource = "custom(\'Notes\')"\n'
    )
    outcomes = await world.sync(_customer(1), huge, _customer(2))

    kinds = _kinds(outcomes)
    assert kinds["1"] == kinds["2"] == "created"
    assert kinds["99"] != "created"
    [job] = world.requests("POST", JOBS)
    assert len(job.body["data"]["attributes"]["profiles"]["data"]) == 2


async def test_klaviyo_unavailable_for_jobs_fails_the_rows_as_retryable(tmp_path: Path) -> None:
    world = strategy_world(tmp_path, "bulk")
    world.sandbox.set_faults([FaultRule(operation="bulk_import_profiles", status=503)])
    outcomes = await world.sync(_customer(1), _customer(2))
    assert {(o.failure.kind, o.failure.retryable) for o in outcomes if o.failure} == {
        ("klaviyo_unavailable", True)
    }
    world.sandbox.set_faults([])
    again = await world.sync(_customer(1), _customer(2))
    assert {o.kind for o in again} == {"created"}


async def test_batches_overlap_but_one_customer_is_never_written_twice_at_once(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk")
    source = RecordsSource(
        [_customer(1), _customer(2), _customer(3), _customer(1, LastName="Later"), _customer(4)]
    )
    outcomes: list[Outcome] = []
    with world.store() as store:
        run = engine(world, store, strategy="bulk", bulk_batch_size=2)
        summary = await run.run(source, on_outcome=outcomes.append)
        links = store.get_links(["1", "2", "3", "4"])

    assert summary.total == 5
    assert [(o.customer_id, o.kind) for o in outcomes] == [
        ("1", "created"),
        ("2", "created"),
        ("3", "created"),
        ("1", "updated"),
        ("4", "created"),
    ]
    assert len(world.sandbox.profiles) == 4
    assert world.profile(links["1"].profile_id).last_name == "Later"
    assert len({link.profile_id for link in links.values()}) == 4


class _ProfileArrivesFirst(httpx.AsyncBaseTransport):
    """Creates a profile in Klaviyo just before the bulk job that would have created it, as
    another integration might between our lookup and our job."""

    def __init__(self, inner: httpx.AsyncBaseTransport, arrive: Callable[[], None]) -> None:
        self._inner, self._arrive = inner, arrive

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == JOBS:
            self._arrive()
        return await self._inner.handle_async_request(request)


async def test_a_row_merged_into_a_profile_made_meanwhile_is_a_match_and_keeps_its_consent(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk")
    assert world.connections.transport is not None
    clock = world.sandbox.clock = ManualClock()  # Klaviyo's timestamps have whole seconds

    def arrive() -> None:
        clock.advance(1.0)
        world.sandbox.create_profile({"email": "ada@example.com", "first_name": "Old"})
        world.sandbox.unsubscribe(
            [SubscriptionRequest(email="ada@example.com", channels={"email": None})]
        )
        clock.advance(1.0)

    transport = _ProfileArrivesFirst(world.connections.transport, arrive)
    world.connections = Connections(transport, world.clock)
    [outcome] = await world.sync(ada())
    assert outcome.kind == "matched_email"
    assert "merged this customer into existing profile" in outcome.detail["notes"][-1]
    profile = world.by_email("ada@example.com")
    assert profile is not None
    assert outcome.profile_id == profile.id
    assert profile.email_marketing is not None
    assert profile.email_marketing.consent == "UNSUBSCRIBED", "Klaviyo owns consent"
    assert outcome.detail["consent"].startswith("kept")


_CLEARING = """
[[rows]]
destination = "Loyalty Tier"
kind = "field"
source = "CustomFields.Tier"
when_empty = "clear"

[[rows]]
destination = "Organization"
kind = "field"
source = "Company"
when_empty = "clear"
"""


def _tiered(n: int, tier: str | None, **extra: Any) -> dict[str, Any]:
    return _customer(n, CustomFields={"Tier": tier} if tier else {}, **extra)


@pytest.mark.parametrize("nulls", ["ignore", "clear"])
async def test_a_clear_reaches_klaviyo_on_the_bulk_path_whatever_bulk_import_does_with_null(
    tmp_path: Path, nulls: str
) -> None:
    world = _behave(strategy_world(tmp_path, "bulk"), bulk_import_null=nulls)
    world.with_mapping(_CLEARING)
    # One profile Klaviyo already has, with values the source no longer holds: a match.
    world.sandbox.create_profile(
        {"email": "c9@example.com", "organization": "Old Co", "properties": {"Loyalty Tier": "x"}}
    )
    await world.sync(*(_tiered(n, "gold", Company="Acme") for n in range(4)))

    before = len(world.sandbox.requests)
    outcomes = await world.sync(
        _tiered(0, None, LastName="Cleared"),  # linked: the store applied gold and Acme
        _tiered(1, "silver", Company="Acme"),  # a change that clears nothing
        _tiered(2, "gold", Company="Acme", LastName="Kept"),
        _tiered(9, None),  # matched: Klaviyo's profile holds both
    )

    assert {o.customer_id: o.kind for o in outcomes} == {
        "0": "updated",
        "1": "updated",
        "2": "updated",
        "9": "matched_email",
    }
    for email in ("c0@example.com", "c9@example.com"):
        profile = world.by_email(email)
        assert profile is not None
        assert "Loyalty Tier" not in profile.properties, email
        assert profile.organization is None, email
    silver = world.by_email("c1@example.com")
    assert silver is not None
    assert (silver.properties["Loyalty Tier"], silver.organization) == ("silver", "Acme")
    run = list(world.sandbox.requests)[before:]
    [job] = [r for r in run if r.method == "POST" and r.path == JOBS]
    rows = job.body["data"]["attributes"]["profiles"]["data"]
    assert len(rows) == 2, "the customers whose clears matter are not left to the job"
    patched = sorted(r.path for r in run if r.method == "PATCH")
    assert patched == sorted(
        f"/api/profiles/{world.by_email(f'c{n}@example.com').id}"  # type: ignore[union-attr]
        for n in (0, 9)
    )


async def test_a_clear_known_to_be_applied_stays_in_the_job_unless_the_run_is_full(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk").with_mapping(_CLEARING)
    await world.sync(*(_tiered(n, "gold") for n in range(3)))
    await world.sync(*(_tiered(n, None) for n in range(3)))  # cleared per record
    assert len(world.requests("PATCH")) == 3

    await world.sync(*(_tiered(n, None, LastName="Later") for n in range(3)))
    assert len(world.requests("PATCH")) == 3, "Tier is empty as last applied: the job will do"
    assert len(world.requests("POST", JOBS)) == 2

    # Someone set a tier in Klaviyo since; --full trusts nothing the store knows.
    drifted = world.by_email("c0@example.com")
    assert drifted is not None
    world.sandbox.update_profile(drifted.id, {"properties": {"Loyalty Tier": "set in Klaviyo"}})
    await world.sync(*(_tiered(n, None, LastName="Later") for n in range(3)), full=True)
    assert len(world.requests("PATCH")) == 6
    assert "Loyalty Tier" not in world.profile(drifted.id).properties


async def test_a_create_merged_into_a_profile_made_meanwhile_has_its_clears_patched(
    tmp_path: Path,
) -> None:
    world = strategy_world(tmp_path, "bulk").with_mapping(_CLEARING)
    assert world.connections.transport is not None
    clock = world.sandbox.clock = ManualClock()

    def arrive() -> None:
        clock.advance(1.0)
        world.sandbox.create_profile(
            {
                "email": "c1@example.com",
                "organization": "Old Co",
                "properties": {"Loyalty Tier": "x"},
            }
        )
        clock.advance(1.0)

    transport = _ProfileArrivesFirst(world.connections.transport, arrive)
    world.connections = Connections(transport, world.clock)
    [outcome] = await world.sync(_tiered(1, None))

    assert outcome.kind == "matched_email"
    assert "a PATCH cleared" in outcome.detail["notes"][-1]
    profile = world.by_email("c1@example.com")
    assert profile is not None
    assert "Loyalty Tier" not in profile.properties
    assert profile.organization is None
