"""Lists and list membership; membership never changes consent."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_sandbox import Sandbox

from .conftest import SpecClient


def members_doc(ids: list[str]) -> dict[str, Any]:
    return {"data": [{"type": "profile", "id": i} for i in ids]}


async def test_create_get_and_filter_lists(client: SpecClient) -> None:
    response = await client.post(
        "/api/lists",
        {
            "data": {
                "type": "list",
                "attributes": {"name": "VIP", "opt_in_process": "double_opt_in"},
            }
        },
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["attributes"]["opt_in_process"] == "double_opt_in"
    assert data["links"]["self"] == f"http://sandbox/api/lists/{data['id']}"
    await client.create_list("Other")
    one = await client.get(
        f"/api/lists/{data['id']}", params={"additional-fields[list]": "profile_count"}
    )
    assert one.json()["data"]["attributes"]["profile_count"] == 0
    by_name = await client.get("/api/lists", params={"filter": 'equals(name,"VIP")'})
    assert [item["id"] for item in by_name.json()["data"]] == [data["id"]]
    by_name_single = await client.get("/api/lists", params={"filter": "equals(name,'Other')"})
    assert [item["attributes"]["name"] for item in by_name_single.json()["data"]] == ["Other"]
    assert (await client.get("/api/lists/NOPE")).status_code == 404


@pytest.mark.behaviour(default_opt_in="single_opt_in")
async def test_a_new_list_follows_a_single_opt_in_account(client: SpecClient) -> None:
    response = await client.post(
        "/api/lists", {"data": {"type": "list", "attributes": {"name": "N"}}}
    )
    assert response.json()["data"]["attributes"]["opt_in_process"] == "single_opt_in"


async def test_list_validation(client: SpecClient) -> None:
    for attributes, pointer in (
        ({}, "/data/attributes/name"),
        ({"name": ""}, "/data/attributes/name"),
        ({"name": "x", "opt_in_process": "maybe"}, "/data/attributes/opt_in_process"),
        ({"name": "x", "colour": "red"}, "/data/attributes/colour"),
    ):
        response = await client.post(
            "/api/lists", {"data": {"type": "list", "attributes": attributes}}
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["source"]["pointer"] == pointer


async def test_lists_paginate_ten_at_most(client: SpecClient, sandbox: Sandbox) -> None:
    ids = [sandbox.create_list(f"L{i}").id for i in range(13)]
    first = await client.get("/api/lists")
    assert [item["id"] for item in first.json()["data"]] == ids[:10]
    second = await client.get(first.json()["links"]["next"])
    assert [item["id"] for item in second.json()["data"]] == ids[10:]
    too_big = await client.get("/api/lists", params={"page[size]": "11"})
    assert too_big.status_code == 400


async def test_update_and_delete_list(client: SpecClient, sandbox: Sandbox) -> None:
    list_id = await client.create_list("Old")
    response = await client.patch(
        f"/api/lists/{list_id}",
        {"data": {"type": "list", "id": list_id, "attributes": {"name": "New"}}},
    )
    assert response.json()["data"]["attributes"]["name"] == "New"
    deleted = await client.delete(f"/api/lists/{list_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert list_id not in sandbox.lists


async def test_membership_add_and_remove_leave_consent_alone(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("Members")
    ids = [(await client.create_profile(email=f"p{i}@example.com"))["id"] for i in range(3)]
    added = await client.post(f"/api/lists/{list_id}/relationships/profiles", members_doc(ids))
    assert added.status_code == 204
    assert added.content == b""
    again = await client.post(f"/api/lists/{list_id}/relationships/profiles", members_doc(ids[:1]))
    assert again.status_code == 204  # adding a member again is harmless
    listed = await client.get(f"/api/lists/{list_id}/relationships/profiles")
    assert [item["id"] for item in listed.json()["data"]] == ids
    assert all(sandbox.profiles[i].email_marketing is None for i in ids)

    removed = await client.delete(
        f"/api/lists/{list_id}/relationships/profiles", members_doc(ids[1:])
    )
    assert removed.status_code == 204
    listed = await client.get(f"/api/lists/{list_id}/profiles")
    data = listed.json()["data"]
    assert [item["id"] for item in data] == ids[:1]
    assert data[0]["attributes"]["joined_group_at"] == "2026-10-15T00:00:00+00:00"


async def test_membership_errors(client: SpecClient) -> None:
    list_id = await client.create_list("Members")
    url = f"/api/lists/{list_id}/relationships/profiles"
    unknown = await client.post(url, members_doc(["NOPE"]))
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"]["pointer"] == "/data/0/id"
    too_many = await client.post(url, members_doc([f"id{i}" for i in range(1001)]))
    assert too_many.status_code == 400
    wrong_type = await client.post(url, {"data": [{"type": "list", "id": "x"}]})
    assert wrong_type.json()["errors"][0]["source"]["pointer"] == "/data/0/type"
    no_list = await client.post("/api/lists/NOPE/relationships/profiles", members_doc([]))
    assert no_list.status_code == 404


async def test_list_members_paginate_and_filter(client: SpecClient, sandbox: Sandbox) -> None:
    target = sandbox.create_list("Big")
    ids = [sandbox.create_profile({"email": f"p{i:03}@example.com"}).id for i in range(150)]
    sandbox.add_to_list(target.id, ids)
    url: str | None = f"/api/lists/{target.id}/profiles?page[size]=100"
    seen: list[str] = []
    while url:
        body = (await client.get(url)).json()
        seen.extend(item["id"] for item in body["data"])
        url = body["links"].get("next")
    assert seen == ids
    found = await client.get(
        f"/api/lists/{target.id}/relationships/profiles",
        params={"filter": "equals(email,'p007@example.com')"},
    )
    assert [item["id"] for item in found.json()["data"]] == [ids[7]]
