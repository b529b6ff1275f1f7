"""One request that fails all its tries fails only the customers it carried (issue 13, point 6).

Each test syncs thousands of customers through the bulk path while exactly one request (a
lookup, a bulk import job, a subscription job, a list call, ...) fails every try; the customers
that request carried fail retryable, every other customer of the batch goes on, and a rerun once
the fault is over leaves nothing failing and no profile twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from klaviyo_sync.engine._consent import ListDirectory
from klaviyo_sync.exceptions import KlaviyoUnavailableError
from klaviyo_sync.klaviyo import KlaviyoClient, RetryPolicy
from klaviyo_sync.outcome import Outcome
from tests.engine.faults import OneRequestFails, customers, failing_world, heal
from tests.klaviyo.conftest import KEY
from tests.klaviyo.fakes import FakeClock, FakeKlaviyo, a_list, error, pages
from tests.world import World

# Each test syncs 3,000 customers.
pytestmark = pytest.mark.slow

N = 3_000
JOBS = "/api/profile-bulk-import-jobs"
SUBSCRIBE = "/api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "/api/profile-subscription-bulk-delete-jobs"
UNSUBSCRIBING = '[[rows]]\ndestination = "SubscribeProfile"\nkind = "static"\nsource = false\n'
_ID = re.compile(r"c(\d+)@example\.com")


def _carried(text: str) -> set[str]:
    """The customers a request carried, by the emails in its filter or body."""
    return set(_ID.findall(text))


def _failed(outcomes: list[Outcome]) -> dict[str, Outcome]:
    """Customers that failed, or whose profile was written with a step after it failing."""
    return {
        o.customer_id: o
        for o in outcomes
        if o.kind in ("failed", "conflict") or o.failure is not None
    }


def _only_these_failed(outcomes: list[Outcome], carried: set[str], stage: str) -> None:
    failed = _failed(outcomes)
    assert set(failed) == carried
    if stage in ("subscribe", "lists"):
        # The profile was written before the step failed: the outcome says so.
        assert {o.kind for o in failed.values()} == {"created"}
    assert {
        (o.failure.stage, o.failure.kind, o.failure.retryable)
        for o in failed.values()
        if o.failure is not None
    } == {(stage, "klaviyo_unavailable", True)}
    assert {o.kind for o in outcomes if o.customer_id not in carried} <= {"created"}


async def _rerun_leaves_nothing_failing(
    world: World, failing: OneRequestFails, records: list[dict[str, Any]], *, force: bool = False
) -> list[Outcome]:
    heal(world, failing)
    again = await world.sync(*records, force=force)
    assert _failed(again) == {}
    external_ids = [p.external_id for p in world.sandbox.profiles.values()]
    assert sorted(external_ids, key=str) == sorted((str(r["Id"]) for r in records), key=str)
    with world.store() as store:
        assert store.count_failures() == 0
    return again


def _get(path: str, filter_prefix: str = "") -> Any:
    def picks(request: httpx.Request, body: Any) -> bool:
        wanted = request.url.params.get("filter", "").startswith(filter_prefix)
        return request.method == "GET" and request.url.path == path and wanted

    return picks


def _poll(request: httpx.Request, body: Any) -> bool:
    return request.method == "GET" and re.fullmatch(f"{JOBS}/[^/]+", request.url.path) is not None


def _post(path: str, *, to_list: bool | None = None) -> Any:
    def picks(request: httpx.Request, body: Any) -> bool:
        if request.method != "POST" or not re.fullmatch(path, request.url.path):
            return False
        relationships = (body or {}).get("data", {}).get("relationships") if to_list else None
        return to_list is None or bool(relationships) == to_list

    return picks


def _lists_of(world: World, profile_id: str) -> set[str]:
    return {item.name for item in world.sandbox.lists_of(profile_id)}


@pytest.mark.parametrize("identifier", ["email", "phone_number"])
async def test_a_lookup_failing_every_try_fails_only_its_customers_and_creates_none(
    tmp_path: Path, identifier: str
) -> None:
    records = customers(N)
    # The 13th lookup of the batch, by its first value: the customers from 1,200 on.
    first = records[1_200]["EmailAddress"] if identifier == "email" else "+14155551200"
    world, failing = failing_world(
        tmp_path, lambda r, b: f'any({identifier},["{first}"' in r.url.params.get("filter", "")
    )
    outcomes = await world.sync(*records)

    assert failing.url is not None
    filter_ = failing.url.params["filter"]
    carried = (
        _carried(filter_)
        if identifier == "email"
        else {str(int(n)) for n in re.findall(r"\+1415555(\d{4})", filter_)}
    )
    assert len(carried) == 100
    _only_these_failed(outcomes, carried, "match")
    assert failing.tries == RetryPolicy().attempts(100) == 8, "a lookup of 100 is patient"
    for customer_id in carried:
        assert world.sandbox.find_profile(external_id=customer_id) is None, "none created"
    assert len(world.sandbox.profiles) == N - 100
    note = _failed(outcomes)[min(carried)].detail["notes"][-1]
    assert "nothing was written" in note

    again = await _rerun_leaves_nothing_failing(world, failing, records)
    assert {o.customer_id for o in again if o.kind == "created"} == carried


@pytest.mark.parametrize("after", [False, True], ids=["dropped before", "dropped after"])
async def test_a_bulk_import_job_failing_every_try_fails_only_its_rows(
    tmp_path: Path, after: bool
) -> None:
    # 2 KB rows: 3,000 of them are cut into two jobs at 5 MB.
    records = customers(N, CustomFields={"Notes": "n" * 2_000})
    world, failing = failing_world(tmp_path, _post(JOBS), how="drop", after=after)
    world.with_mapping(
        '[[rows]]\ndestination = "Notes"\nkind = "formula"\nsource = "custom(\'Notes\')"\n'
    )
    outcomes = await world.sync(*records)

    rows = failing.body["data"]["attributes"]["profiles"]["data"]
    carried = {row["attributes"]["external_id"] for row in rows}
    assert 0 < len(carried) < N, "the batch made two jobs"
    # Dropped before, Klaviyo saw the other job only; after, it saw every try too.
    assert len(world.requests("POST", JOBS)) == (1 if not after else 1 + failing.tries)
    assert {o.kind for o in outcomes if o.customer_id not in carried} == {"created"}
    _only_these_failed(outcomes, carried, "write")

    again = await _rerun_leaves_nothing_failing(world, failing, records)
    retried = {o.customer_id: o.kind for o in again if o.customer_id in carried}
    # Dropped after Klaviyo applied it, the job made the profiles: the rerun matches them.
    assert set(retried.values()) == ({"matched_email"} if after else {"created"})


async def test_failed_polls_are_polled_again_and_the_job_completes(tmp_path: Path) -> None:
    records = customers(50)
    patient = RetryPolicy().attempts(50)
    world, failing = failing_world(tmp_path, _poll, times=2 * patient)
    outcomes = await world.sync(*records)

    assert failing.tries == 2 * patient, "two polls failed every try"
    assert {o.kind for o in outcomes} == {"created"}


async def test_a_job_whose_polls_keep_failing_fails_its_rows_and_a_rerun_duplicates_nothing(
    tmp_path: Path,
) -> None:
    records = customers(50)
    world, failing = failing_world(tmp_path, _poll)
    outcomes = await world.sync(*records)

    assert failing.tries == 3 * RetryPolicy().attempts(50), "three polls in a row, then given up"
    _only_these_failed(outcomes, {str(r["Id"]) for r in records}, "write")
    again = await _rerun_leaves_nothing_failing(world, failing, records)
    assert {o.kind for o in again} == {"matched_email"}, "the job had made them"


async def test_a_failed_lookup_of_created_profiles_falls_back_to_the_next_identifier(
    tmp_path: Path,
) -> None:
    records = customers(N)
    world, failing = failing_world(tmp_path, _get("/api/profiles", "any(external_id,"))
    outcomes = await world.sync(*records)

    assert failing.url is not None
    assert failing.url.params["filter"].startswith("any(external_id,")
    assert failing.tries == RetryPolicy().attempts(100)
    assert {o.kind for o in outcomes} == {"created"}, "found by email instead"
    with world.store() as store:
        assert len(store.get_links([str(r["Id"]) for r in records])) == N


async def test_a_subscription_job_failing_every_try_fails_only_its_customers(
    tmp_path: Path,
) -> None:
    records = customers(N)
    world, failing = failing_world(tmp_path, _post(SUBSCRIBE, to_list=False))
    world.single_opt_in()  # so a subscription that went out shows at once
    outcomes = await world.sync(*records)

    carried = _carried(json.dumps(failing.body))
    assert len(carried) == 1_000
    failed = _failed(outcomes)
    assert set(failed) == carried
    assert {(o.failure.stage, o.failure.retryable) for o in failed.values() if o.failure} == {
        ("subscribe", True)
    }
    assert {o.kind for o in failed.values()} == {"created"}, "the profile was created"
    assert {o.kind for o in outcomes if o.customer_id not in carried} == {"created"}
    with world.store() as store:
        links = store.get_links(sorted(carried))
    assert len(links) == 1_000, "their profiles were written and linked"
    for customer_id, outcome in failed.items():
        assert outcome.profile_id == links[customer_id].profile_id
        assert world.profile(links[customer_id].profile_id).email_marketing is None
    subscribed = [p for p in world.sandbox.profiles.values() if p.email_marketing is not None]
    assert len(subscribed) == N - 1_000

    again = await _rerun_leaves_nothing_failing(world, failing, records)
    assert {o.kind for o in again if o.customer_id in carried} == {"updated"}
    assert all(p.email_marketing is not None for p in world.sandbox.profiles.values())


async def test_an_unsubscription_job_failing_every_try_fails_only_its_customers(
    tmp_path: Path,
) -> None:
    records = customers(N)
    world, failing = failing_world(tmp_path, _post(UNSUBSCRIBE))
    world.with_mapping(UNSUBSCRIBING)
    outcomes = await world.sync(*records)

    carried = _carried(json.dumps(failing.body))
    assert len(carried) == 100
    _only_these_failed(outcomes, carried, "subscribe")
    # The store knows nothing of those profiles' consent, so the guardrail counts the rerun's
    # unsubscribes as real ones (100 of 3,000, past its 1%): a person confirms them.
    await _rerun_leaves_nothing_failing(world, failing, records, force=True)


async def test_a_list_call_failing_every_try_fails_only_its_customers(tmp_path: Path) -> None:
    records = customers(N)
    world, failing = failing_world(tmp_path, _post(r"/api/lists/[^/]+/relationships/profiles"))
    outcomes = await world.sync(*records)

    profile_ids = {item["id"] for item in failing.body["data"]}
    carried = {o.customer_id for o in outcomes if o.profile_id in profile_ids}
    assert len(carried) == len(profile_ids) == 1_000
    _only_these_failed(outcomes, carried, "lists")
    members = [
        p for p in world.sandbox.profiles.values() if "Preview List" in _lists_of(world, p.id)
    ]
    assert len(members) == N - 1_000

    await _rerun_leaves_nothing_failing(world, failing, records)


async def test_a_list_subscription_job_failing_every_try_fails_only_its_customers(
    tmp_path: Path,
) -> None:
    records = customers(N)
    world, failing = failing_world(tmp_path, _post(SUBSCRIBE, to_list=True))
    outcomes = await world.sync(*records)

    carried = _carried(json.dumps(failing.body))
    assert len(carried) == 1_000
    _only_these_failed(outcomes, carried, "lists")
    await _rerun_leaves_nothing_failing(world, failing, records)


async def test_a_consent_read_failing_every_try_fails_only_its_customers(tmp_path: Path) -> None:
    # Linked profiles the source now subscribes: Klaviyo's consent is read first, 100 a call.
    records = customers(300)
    world, failing = failing_world(tmp_path, _get("/api/profiles", "any(id,"))
    world.with_mapping(UNSUBSCRIBING)
    await world.sync(*records)
    world.with_mapping("")
    outcomes = await world.sync(*records)

    assert failing.url is not None
    ids = set(re.findall(r'"([^"]+)"', failing.url.params["filter"]))
    carried = {o.customer_id for o in outcomes if o.profile_id in ids}
    assert len(carried) == len(ids) == 100
    failed = _failed(outcomes)
    assert set(failed) == carried
    assert {(o.failure.stage, o.failure.retryable) for o in failed.values() if o.failure} == {
        ("match", True)
    }
    assert {o.kind for o in outcomes if o.customer_id not in carried} == {"updated"}
    for customer_id in carried:
        profile = world.sandbox.find_profile(external_id=customer_id)
        assert profile is not None
        assert profile.email_marketing is not None
        assert profile.email_marketing.consent == "UNSUBSCRIBED", "not subscribed blind"


async def test_lists_that_cannot_be_read_fail_only_the_list_step(tmp_path: Path) -> None:
    records = customers(20)
    world, failing = failing_world(tmp_path, _get("/api/lists"))
    world.single_opt_in()  # so the subscriptions that went out show at once
    outcomes = await world.sync(*records)

    failed = _failed(outcomes)
    assert set(failed) == {str(r["Id"]) for r in records}, "every customer here changes lists"
    assert {(o.failure.stage, o.failure.retryable) for o in failed.values() if o.failure} == {
        ("lists", True)
    }
    assert {o.kind for o in failed.values()} == {"created"}
    assert all(p.email_marketing is not None for p in world.sandbox.profiles.values())
    again = await _rerun_leaves_nothing_failing(world, failing, records)
    assert {o.kind for o in again} == {"updated"}


async def test_a_list_directory_read_that_fails_halfway_is_not_kept() -> None:
    clock = FakeClock()
    api = FakeKlaviyo(clock)
    lists = [a_list(f"L{i}", f"List {i}") for i in range(150)]
    first, second = pages(lists, "/api/lists", 100)
    api.on("GET", "/api/lists", first, error(503, "down"), first, second)
    retry = RetryPolicy(max_attempts=1, patient_attempts=1)
    async with KlaviyoClient(KEY, transport=api.transport, clock=clock, retry=retry) as client:
        directory = ListDirectory(client)
        with pytest.raises(KlaviyoUnavailableError):
            await directory.get("List 149")
        found = await directory.get("List 149")
    assert found is not None
    assert found.id == "L149", "not taken for a list Klaviyo lacks"
