"""Bulk profile import jobs: queued → processing → complete on the injected clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from klaviyo_sandbox import ManualClock, Sandbox

from .conftest import SpecClient

JOBS = "/api/profile-bulk-import-jobs"


def job_doc(rows: list[dict[str, Any]], list_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "profile-bulk-import-job",
        "attributes": {"profiles": {"data": rows}},
    }
    if list_ids:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": i} for i in list_ids]}}
    return {"data": data}


def row(**attributes: Any) -> dict[str, Any]:
    return {"type": "profile", "attributes": attributes}


async def status_of(client: SpecClient, job_id: str) -> dict[str, Any]:
    response = await client.get(f"{JOBS}/{job_id}")
    assert response.status_code == 200
    attributes: dict[str, Any] = response.json()["data"]["attributes"]
    return attributes


@pytest.mark.behaviour(bulk_import_validation="row", bulk_import_null="clear")
async def test_job_runs_queued_processing_complete_with_one_import_error(
    client: SpecClient, clock: ManualClock, sandbox: Sandbox
) -> None:
    existing = await client.create_profile(email="old@example.com", first_name="Old", title="T")
    rows = [row(email=f"p{i}@example.com", external_id=f"c-{i}", first_name="P") for i in range(9)]
    rows.append(row(email="old@example.com", first_name=None))  # updates; null clears
    rows.insert(3, row(email="broken", external_id="c-bad"))
    created = await client.post(JOBS, job_doc(rows))
    assert created.status_code == 202
    job = created.json()["data"]
    assert job["attributes"]["status"] == "queued"
    assert job["attributes"]["total_count"] == 11
    assert job["links"]["self"] == f"http://sandbox{JOBS}/{job['id']}"

    clock.advance(0.1)  # half of job_processing_seconds (0.2): processing starts
    processing = await status_of(client, job["id"])
    assert processing["status"] == "processing"
    assert processing["started_at"] is not None
    assert processing["completed_count"] == 0

    clock.advance(0.05)  # halfway through processing: about half the rows are in
    partway = await status_of(client, job["id"])
    assert partway["status"] == "processing"
    assert 0 < partway["completed_count"] + partway["failed_count"] < 11

    clock.advance(0.05)
    done = await status_of(client, job["id"])
    assert done["status"] == "complete"
    assert (done["completed_count"], done["failed_count"]) == (10, 1)
    assert done["completed_at"] is not None
    assert done["expires_at"] is not None

    errors = (await client.get(f"{JOBS}/{job['id']}/import-errors")).json()["data"]
    assert len(errors) == 1
    attrs = errors[0]["attributes"]
    assert attrs["code"] == "invalid"
    assert attrs["source"]["pointer"] == "/data/attributes/profiles/data/3/attributes/email"
    assert attrs["original_payload"]["attributes"]["external_id"] == "c-bad"

    old = sandbox.profiles[existing["id"]]
    assert old.first_name is None
    assert old.title == "T"
    assert len(sandbox.profiles) == 10


async def test_job_profiles_and_relationships_paginate(
    client: SpecClient, clock: ManualClock
) -> None:
    rows = [row(email=f"p{i}@example.com") for i in range(30)]
    job_id = (await client.post(JOBS, job_doc(rows))).json()["data"]["id"]
    clock.advance(1)
    first = await client.get(f"{JOBS}/{job_id}/profiles", params={"page[size]": "25"})
    assert len(first.json()["data"]) == 25
    second = await client.get(first.json()["links"]["next"])
    assert len(second.json()["data"]) == 5
    ids = await client.get(f"{JOBS}/{job_id}/relationships/profiles", params={"page[size]": "100"})
    assert len(ids.json()["data"]) == 30
    assert all(item["type"] == "profile" for item in ids.json()["data"])


@pytest.mark.behaviour(bulk_import_validation="row")
async def test_job_with_a_list_adds_imported_profiles_to_it(
    client: SpecClient, clock: ManualClock, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("Imported")
    rows = [row(email="a@example.com"), row(email="nope")]
    job_id = (await client.post(JOBS, job_doc(rows, (list_id,)))).json()["data"]["id"]
    clock.advance(1)
    sandbox.process_jobs()
    members = sandbox.lists[list_id].members
    assert len(members) == 1
    assert sandbox.find_profile(email="a@example.com") is not None
    lists = await client.get(f"{JOBS}/{job_id}/lists")
    assert [item["id"] for item in lists.json()["data"]] == [list_id]
    list_ids = await client.get(f"{JOBS}/{job_id}/relationships/lists")
    assert list_ids.json()["data"] == [{"type": "list", "id": list_id}]


async def test_job_with_an_unknown_list_is_400(client: SpecClient) -> None:
    response = await client.post(JOBS, job_doc([row(email="a@example.com")], ("NOLIST",)))
    assert response.status_code == 400
    pointer = response.json()["errors"][0]["source"]["pointer"]
    assert pointer == "/data/relationships/lists/data/0/id"


async def test_list_jobs_with_status_filter(client: SpecClient, clock: ManualClock) -> None:
    first = (await client.post(JOBS, job_doc([row(email="a@example.com")]))).json()["data"]["id"]
    clock.advance(1)
    second = (await client.post(JOBS, job_doc([row(email="b@example.com")]))).json()["data"]["id"]
    listing = await client.get(JOBS)
    assert [j["id"] for j in listing.json()["data"]] == [first, second]
    complete = await client.get(JOBS, params={"filter": "equals(status,'complete')"})
    assert [j["id"] for j in complete.json()["data"]] == [first]
    queued = await client.get(JOBS, params={"filter": 'any(status,["queued","processing"])'})
    assert [j["id"] for j in queued.json()["data"]] == [second]
    newest = await client.get(JOBS, params={"sort": "-created_at", "page[size]": "1"})
    assert [j["id"] for j in newest.json()["data"]] == [second]


async def test_more_than_10000_profiles_is_400(client: SpecClient) -> None:
    rows = [row(email=f"p{i}@example.com") for i in range(10_001)]
    response = await client.post(JOBS, job_doc(rows))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/profiles/data"


async def test_body_over_5mb_is_413(client: SpecClient) -> None:
    rows = [row(email=f"p{i}@example.com", properties={"pad": "x" * 60_000}) for i in range(90)]
    content = json.dumps(job_doc(rows)).encode()
    assert len(content) > 5 * 1024 * 1024
    response = await client.post(JOBS, content=content)
    assert response.status_code == 413


async def test_profile_over_100kb_is_400(client: SpecClient) -> None:
    rows = [row(email="a@example.com"), row(email="b@example.com", properties={"p": "x" * 110_000})]
    response = await client.post(JOBS, job_doc(rows))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/profiles/data/1"


async def test_row_shape_errors_are_answered_at_once(client: SpecClient) -> None:
    bad_type = await client.post(JOBS, job_doc([{"type": "person", "attributes": {}}]))
    assert bad_type.json()["errors"][0]["source"]["pointer"] == (
        "/data/attributes/profiles/data/0/type"
    )
    bad_value = await client.post(JOBS, job_doc([row(email=5)]))
    assert bad_value.json()["errors"][0]["source"]["pointer"] == (
        "/data/attributes/profiles/data/0/attributes/email"
    )
    empty = await client.post(JOBS, job_doc([]))
    assert empty.status_code == 400


async def test_unknown_job_is_404(client: SpecClient) -> None:
    assert (await client.get(f"{JOBS}/NOPE")).status_code == 404
    assert (await client.get(f"{JOBS}/NOPE/import-errors")).status_code == 404


async def test_sparse_job_fields(client: SpecClient) -> None:
    response = await client.post(
        JOBS,
        job_doc([row(email="a@example.com")]),
        params={"fields[profile-bulk-import-job]": "status,total_count"},
    )
    assert set(response.json()["data"]["attributes"]) == {"status", "total_count", "created_at"}
