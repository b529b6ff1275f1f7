"""Profiles: create, read, patch, import; nulls clear, absent keys leave alone; duplicates 409."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_sandbox import ManualClock, Sandbox

from .conftest import SpecClient, profile_doc


def error(response: Any) -> dict[str, Any]:
    item: dict[str, Any] = response.json()["errors"][0]
    return item


async def test_create_returns_profile_with_links_and_timestamps(client: SpecClient) -> None:
    response = await client.post(
        "/api/profiles",
        profile_doc(
            {
                "email": "ada@example.com",
                "phone_number": "+1 415 555 2671",
                "first_name": "Ada",
                "location": {"city": "London", "latitude": 51.5},
                "properties": {"plan": "gold"},
            }
        ),
    )
    assert response.status_code == 201
    body = response.json()
    data = body["data"]
    assert len(data["id"]) == 26
    assert data["id"].isupper()
    assert data["links"]["self"] == f"http://sandbox/api/profiles/{data['id']}"
    assert body["links"]["self"] == "http://sandbox/api/profiles"
    attrs = data["attributes"]
    assert attrs["phone_number"] == "+14155552671"  # stored in E.164
    assert attrs["location"]["city"] == "London"
    assert attrs["location"]["latitude"] == 51.5
    assert attrs["properties"] == {"plan": "gold"}
    assert attrs["created"] == attrs["updated"] == "2026-10-15T00:00:00+00:00"


async def test_ids_sort_in_creation_order(client: SpecClient) -> None:
    ids = [(await client.create_profile(email=f"p{i}@example.com"))["id"] for i in range(20)]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("field", "first", "second"),
    [
        ("email", "ada@example.com", "ADA@Example.com"),
        ("phone_number", "+14155552671", "+1 (415) 555-2671"),
        ("external_id", "55260", "55260"),
    ],
)
async def test_create_with_a_taken_identifier_is_409_with_the_duplicate_id(
    client: SpecClient, field: str, first: str, second: str
) -> None:
    existing = await client.create_profile(**{field: first})
    response = await client.post("/api/profiles", profile_doc({field: second}))
    assert response.status_code == 409
    item = error(response)
    assert item["code"] == "duplicate_profile"
    assert item["title"] == "Conflict."
    assert item["meta"]["duplicate_profile_id"] == existing["id"]


async def test_get_one_and_unknown_id(client: SpecClient) -> None:
    created = await client.create_profile(email="ada@example.com")
    response = await client.get(f"/api/profiles/{created['id']}")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["email"] == "ada@example.com"
    missing = await client.get("/api/profiles/01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404
    assert error(missing)["code"] == "not_found"


async def test_patch_null_clears_and_absent_leaves_unchanged(
    client: SpecClient, clock: ManualClock
) -> None:
    created = await client.create_profile(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", title="Countess"
    )
    pid = created["id"]
    clock.advance(5)
    response = await client.patch(
        f"/api/profiles/{pid}",
        profile_doc({"first_name": None, "organization": "Analytical"}, id=pid),
    )
    assert response.status_code == 200
    attrs = response.json()["data"]["attributes"]
    assert attrs["first_name"] is None  # null cleared it
    assert attrs["last_name"] == "Lovelace"  # absent: untouched
    assert attrs["title"] == "Countess"
    assert attrs["organization"] == "Analytical"
    assert attrs["updated"] == "2026-10-15T00:00:05+00:00"
    assert attrs["created"] == "2026-10-15T00:00:00+00:00"


async def test_patch_location_merges_and_null_location_clears(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com", location={"city": "Paris"}))["id"]
    merged = await client.patch(
        f"/api/profiles/{pid}", profile_doc({"location": {"zip": "75001"}}, id=pid)
    )
    assert merged.json()["data"]["attributes"]["location"]["city"] == "Paris"
    assert merged.json()["data"]["attributes"]["location"]["zip"] == "75001"
    cleared = await client.patch(f"/api/profiles/{pid}", profile_doc({"location": None}, id=pid))
    location = cleared.json()["data"]["attributes"]["location"]
    assert location["city"] is None
    assert location["zip"] is None


async def test_properties_merge_key_by_key(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com", properties={"a": 1, "b": 2}))["id"]
    response = await client.patch(
        f"/api/profiles/{pid}", profile_doc({"properties": {"b": 3, "c": 4, "a": None}}, id=pid)
    )
    assert response.json()["data"]["attributes"]["properties"] == {"b": 3, "c": 4}
    cleared = await client.patch(f"/api/profiles/{pid}", profile_doc({"properties": None}, id=pid))
    assert cleared.json()["data"]["attributes"]["properties"] == {}


async def test_patch_properties_append_unappend_unset(client: SpecClient) -> None:
    pid = (
        await client.create_profile(
            email="a@example.com", properties={"tags": ["x"], "gone": 1, "also": 2, "keep": 3}
        )
    )["id"]

    async def patch_meta(meta: dict[str, Any]) -> dict[str, Any]:
        response = await client.patch(
            f"/api/profiles/{pid}",
            profile_doc({}, id=pid, meta={"patch_properties": meta}),
        )
        assert response.status_code == 200, response.text
        props: dict[str, Any] = response.json()["data"]["attributes"]["properties"]
        return props

    assert (await patch_meta({"append": {"tags": "y", "new": ["n1", "n2"]}}))["tags"] == [
        "x",
        "y",
    ]
    props = await patch_meta({"unappend": {"tags": "x"}, "unset": "gone"})
    assert props["tags"] == ["y"]
    assert "gone" not in props
    assert props["new"] == ["n1", "n2"]
    props = await patch_meta({"unset": ["also", "new"]})
    assert props == {"tags": ["y"], "keep": 3}


async def test_patch_to_an_identifier_of_another_profile_is_409(client: SpecClient) -> None:
    first = await client.create_profile(email="first@example.com", phone_number="+14155552671")
    second = await client.create_profile(email="second@example.com")
    for attrs in ({"email": "FIRST@example.com"}, {"phone_number": "+14155552671"}):
        response = await client.patch(
            f"/api/profiles/{second['id']}", profile_doc(attrs, id=second["id"])
        )
        assert response.status_code == 409
        assert error(response)["meta"]["duplicate_profile_id"] == first["id"]
    same = await client.patch(
        f"/api/profiles/{first['id']}", profile_doc({"email": "first@example.com"}, id=first["id"])
    )
    assert same.status_code == 200  # its own identifier is no conflict


async def test_patch_that_would_leave_no_identifier_is_400(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com"))["id"]
    response = await client.patch(f"/api/profiles/{pid}", profile_doc({"email": None}, id=pid))
    assert response.status_code == 400
    assert error(response)["source"] == {"pointer": "/data/attributes"}


async def test_patch_id_must_match_url(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com"))["id"]
    response = await client.patch(f"/api/profiles/{pid}", profile_doc({}, id="OTHER"))
    assert response.status_code == 400
    assert error(response)["source"]["pointer"] == "/data/id"


async def test_patch_unknown_profile_is_404(client: SpecClient) -> None:
    response = await client.patch("/api/profiles/NOPE", profile_doc({"title": "x"}, id="NOPE"))
    assert response.status_code == 404


async def test_profile_import_creates_then_updates_with_null_vs_absent(
    client: SpecClient, sandbox: Sandbox
) -> None:
    created = await client.post(
        "/api/profile-import",
        profile_doc({"email": "ada@example.com", "first_name": "Ada", "last_name": "L"}),
    )
    assert created.status_code == 201
    pid = created.json()["data"]["id"]
    updated = await client.post(
        "/api/profile-import",
        profile_doc({"email": "Ada@Example.com", "first_name": None, "external_id": "c-1"}),
    )
    assert updated.status_code == 200
    attrs = updated.json()["data"]["attributes"]
    assert updated.json()["data"]["id"] == pid
    assert attrs["first_name"] is None
    assert attrs["last_name"] == "L"
    assert attrs["external_id"] == "c-1"
    by_external = await client.post(
        "/api/profile-import", profile_doc({"external_id": "c-1", "title": "Countess"})
    )
    assert by_external.status_code == 200
    assert by_external.json()["data"]["id"] == pid
    assert len(sandbox.profiles) == 1


async def test_profile_import_by_id_and_unknown_id(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com"))["id"]
    response = await client.post("/api/profile-import", profile_doc({"first_name": "Z"}, id=pid))
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["first_name"] == "Z"
    missing = await client.post("/api/profile-import", profile_doc({"first_name": "Z"}, id="NOPE"))
    assert missing.status_code == 404


async def test_profile_import_with_identifiers_of_two_profiles_is_409(client: SpecClient) -> None:
    await client.create_profile(email="a@example.com")
    other = await client.create_profile(phone_number="+14155552671")
    response = await client.post(
        "/api/profile-import",
        profile_doc({"email": "a@example.com", "phone_number": "+14155552671"}),
    )
    assert response.status_code == 409
    assert error(response)["meta"]["duplicate_profile_id"] == other["id"]


async def test_profile_import_accepts_patch_properties(client: SpecClient) -> None:
    await client.create_profile(email="a@example.com", properties={"tags": ["x"]})
    response = await client.post(
        "/api/profile-import",
        profile_doc(
            {"email": "a@example.com"}, meta={"patch_properties": {"append": {"tags": "y"}}}
        ),
    )
    assert response.json()["data"]["attributes"]["properties"] == {"tags": ["x", "y"]}


@pytest.mark.parametrize(
    ("attributes", "pointer", "detail"),
    [
        ({"email": "not-an-email"}, "/data/attributes/email", "Invalid email"),
        ({"email": "a@b"}, "/data/attributes/email", "Invalid email"),
        ({"phone_number": "4155552671"}, "/data/attributes/phone_number", "+12345678901"),
        ({"phone_number": "+1555"}, "/data/attributes/phone_number", "+12345678901"),
        # possible (right length) but not a valid number: Klaviyo rejects it
        ({"phone_number": "+15555550100"}, "/data/attributes/phone_number", "+12345678901"),
        ({"first_name": "no identifier"}, "/data/attributes", "One or more identifiers"),
        ({"email": 12}, "/data/attributes/email", "string"),
        ({"email": "a@example.com", "favourite": "x"}, "/data/attributes/favourite", "valid"),
        ({"email": "a@example.com", "location": "x"}, "/data/attributes/location", "object"),
        (
            {"email": "a@example.com", "location": {"moon": "x"}},
            "/data/attributes/location/moon",
            "location",
        ),
        ({"email": "a@example.com", "properties": [1]}, "/data/attributes/properties", "object"),
    ],
)
async def test_create_validation_like_klaviyo(
    client: SpecClient, attributes: dict[str, Any], pointer: str, detail: str
) -> None:
    response = await client.post("/api/profiles", profile_doc(attributes))
    assert response.status_code == 400
    item = error(response)
    assert item["code"] == "invalid"
    assert item["source"] == {"pointer": pointer}
    assert detail in item["detail"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"data": {"type": "profil", "attributes": {"email": "a@example.com"}}}, "/data/type"),
        ({"data": {"attributes": {"email": "a@example.com"}}}, "/data/type"),
        ({"data": {"type": "profile"}}, "/data/attributes"),
        ({"data": {"type": "profile", "attributes": []}}, "/data/attributes"),
        ({"data": []}, "/data"),
        ({"profile": {}}, "/data"),
        ([], ""),
    ],
)
async def test_malformed_json_api_is_400_with_pointer(
    client: SpecClient, body: Any, pointer: str
) -> None:
    response = await client.post("/api/profiles", body)
    assert response.status_code == 400
    assert error(response)["source"] == {"pointer": pointer}


async def test_malformed_json_is_400(client: SpecClient) -> None:
    response = await client.post("/api/profiles", content=b'{"data": ')
    assert response.status_code == 400
    assert error(response)["source"] == {"pointer": "/data"}
    empty = await client.post("/api/profiles", content=b"")
    assert empty.status_code == 400


async def test_profile_import_over_100kb_is_413(client: SpecClient) -> None:
    big = profile_doc({"email": "a@example.com", "properties": {"blob": "x" * 110_000}})
    response = await client.post("/api/profile-import", big)
    assert response.status_code == 413


async def test_additional_fields_subscriptions_and_sparse_fieldsets(client: SpecClient) -> None:
    pid = (await client.create_profile(email="a@example.com", first_name="A"))["id"]
    response = await client.get(
        f"/api/profiles/{pid}",
        params={"additional-fields[profile]": "subscriptions", "fields[profile]": "email"},
    )
    attrs = response.json()["data"]["attributes"]
    assert set(attrs) == {"email", "subscriptions"}
    marketing = attrs["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "NEVER_SUBSCRIBED"
    assert attrs["subscriptions"]["sms"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"
    bad = await client.get(f"/api/profiles/{pid}", params={"additional-fields[profile]": "x"})
    assert bad.status_code == 400
    assert error(bad)["source"] == {"parameter": "additional-fields[profile]"}


async def test_lists_for_profile(client: SpecClient, sandbox: Sandbox) -> None:
    pid = (await client.create_profile(email="a@example.com"))["id"]
    list_id = await client.create_list("Newsletter")
    sandbox.add_to_list(list_id, [pid])
    related = await client.get(f"/api/profiles/{pid}/lists")
    assert [item["id"] for item in related.json()["data"]] == [list_id]
    ids = await client.get(f"/api/profiles/{pid}/relationships/lists")
    assert ids.json()["data"] == [{"type": "list", "id": list_id}]


def test_state_api_creates_and_finds_profiles(sandbox: Sandbox) -> None:
    profile = sandbox.create_profile({"email": "Ada@Example.com", "external_id": "1"})
    assert sandbox.find_profile(email="ada@example.com") is profile
    assert sandbox.find_profile(external_id="1") is profile
    assert sandbox.find_profile(phone_number="+14155552671") is None
    sandbox.update_profile(profile.id, {"phone_number": "+14155552671"})
    assert sandbox.find_profile(phone_number="+14155552671") is profile
