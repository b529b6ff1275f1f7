"""Bulk import jobs: create, read one, read its errors and profiles (the engine polls them:
``tests/engine/test_bulk_wait.py``)."""

from __future__ import annotations

import pytest

from klaviyo_sync.klaviyo import MAX_BULK_IMPORT_BYTES, MAX_BULK_IMPORT_PROFILES, KlaviyoClient

from .fakes import FakeKlaviyo, import_error, job, ok, pages, profile

JOBS = "/api/profile-bulk-import-jobs"
JOB = rf"{JOBS}/[^/]+"


async def test_create_job(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("POST", JOBS, ok(job("J1", total=2), JOBS, 202))

    created = await client.create_bulk_import_job(
        [
            {"email": "a@x.com", "external_id": "C1", "first_name": "Ann"},
            {
                "type": "profile",
                "id": "01B",
                "attributes": {"email": "b@x.com", "properties": {"tier": "gold"}},
                "meta": {"patch_properties": {"unset": "old"}},
            },
        ],
        list_ids=["L1"],
    )

    assert created["id"] == "J1"
    assert api.calls[0].body == {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "a@x.com",
                                "external_id": "C1",
                                "first_name": "Ann",
                            },
                        },
                        {
                            "type": "profile",
                            "id": "01B",
                            "attributes": {"email": "b@x.com", "properties": {"tier": "gold"}},
                            "meta": {"patch_properties": {"unset": "old"}},
                        },
                    ]
                }
            },
            "relationships": {"lists": {"data": [{"type": "list", "id": "L1"}]}},
        }
    }


async def test_job_size_limits_are_checked_before_sending(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    too_many = [{"email": f"u{i}@x.com"} for i in range(MAX_BULK_IMPORT_PROFILES + 1)]
    with pytest.raises(ValueError, match="at most 10000"):
        await client.create_bulk_import_job(too_many)

    big = "x" * 1_000
    too_big = [{"email": f"u{i}@x.com", "properties": {"notes": big}} for i in range(5_000)]
    with pytest.raises(ValueError, match="at most 5,000,000"):
        await client.create_bulk_import_job(too_big)
    assert MAX_BULK_IMPORT_BYTES == 5_000_000

    with pytest.raises(ValueError, match="at least one"):
        await client.create_bulk_import_job([])
    assert api.calls == []


async def test_largest_allowed_job_is_sent(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("POST", JOBS, ok(job("J1", total=10_000), JOBS, 202))
    await client.create_bulk_import_job([{"email": f"u{i}@x.com"} for i in range(10_000)])
    assert len(api.calls[0].body["data"]["attributes"]["profiles"]["data"]) == 10_000


async def test_a_job_is_read_by_id(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", JOB, ok(job("J1", "complete", total=3, failed=1), f"{JOBS}/J1"))
    read = await client.get_bulk_import_job("J1", carrying=3)
    assert (read["id"], read["attributes"]["status"]) == ("J1", "complete")
    assert read["attributes"]["failed_count"] == 1
    assert [c.path for c in api.calls] == [f"{JOBS}/J1"]


async def test_import_errors_and_profiles_are_paged(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    errors = [import_error(f"E{i}", f"bad{i}@") for i in range(150)]
    imported = [profile(f"P{i}") for i in range(120)]
    api.on("GET", rf"{JOB}/import-errors", *pages(errors, f"{JOBS}/J1/import-errors", 100))
    api.on("GET", rf"{JOB}/profiles", *pages(imported, f"{JOBS}/J1/profiles", 100))

    seen_errors = [e async for e in client.iter_bulk_import_errors("J1")]
    seen_profiles = [p async for p in client.iter_bulk_import_profiles("J1")]

    assert [e["attributes"]["original_payload"]["email"] for e in seen_errors][-1] == "bad149@"
    assert len(seen_errors) == 150
    assert len(seen_profiles) == 120
    assert [(c.path, c.params.get("page[cursor]")) for c in api.calls] == [
        (f"{JOBS}/J1/import-errors", None),
        (f"{JOBS}/J1/import-errors", "c1"),
        (f"{JOBS}/J1/profiles", None),
        (f"{JOBS}/J1/profiles", "c1"),
    ]
    assert all(c.params["page[size]"] == "100" for c in api.calls)
