"""Profile endpoints: requests as the spec has them, responses read back."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from klaviyo_sync.config import Settings
from klaviyo_sync.exceptions import ConfigError, KlaviyoDuplicateProfileError
from klaviyo_sync.klaviyo import (
    PARTIAL_FAILURE,
    REVISION,
    KlaviyoClient,
    any_of,
    equals,
    partial_failure,
)

from .conftest import KEY
from .fakes import BASE_URL, Call, Canned, FakeKlaviyo, error, ok, pages, profile

PROFILE = r"/api/profiles/[^/]+"


async def test_headers(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("POST", "/api/profiles", ok(profile("01A", email="a@x.com"), "/api/profiles", 201))
    api.on("GET", PROFILE, ok(profile("01A"), "/api/profiles/01A"))
    await client.create_profile({"email": "a@x.com"})
    await client.get_profile("01A")

    post, get = api.calls
    for call in (post, get):
        assert call.headers["authorization"] == f"Klaviyo-API-Key {KEY}"
        assert call.headers["revision"] == REVISION == "2026-07-15"
        assert call.headers["accept"] == "application/vnd.api+json"
        assert re.match(r"klaviyo-sync/\S+", call.headers["user-agent"])
        assert not call.path.endswith("/")
    assert post.headers["content-type"] == "application/vnd.api+json"
    assert "content-type" not in get.headers


async def test_create_profile(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    created = profile("01A", email="a@x.com", properties={"tier": "gold"})
    api.on("POST", "/api/profiles", ok(created, "/api/profiles", 201))

    result = await client.create_profile(
        {"email": "a@x.com", "external_id": "C1", "properties": {"a": 1}},
        properties={"tier": "gold"},
    )

    assert result.profile == created
    assert (result.created, result.dropped) == (True, ())
    assert api.calls[0].body == {
        "data": {
            "type": "profile",
            "attributes": {
                "email": "a@x.com",
                "external_id": "C1",
                "properties": {"a": 1, "tier": "gold"},
            },
        }
    }


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("phone_number", ("phone_number",)),
        ("phone_number, email", ("phone_number", "email")),
        (" email,,email ,", ("email",)),
        ("", ()),
        (None, ()),
    ],
)
def test_partial_failure_names(value: str | None, names: tuple[str, ...]) -> None:
    assert partial_failure(value) == names


@pytest.mark.parametrize(
    ("operation", "method", "path", "status"),
    [
        ("create", "POST", "/api/profiles", 201),
        ("update", "PATCH", "/api/profiles/01A", 200),
        ("import", "POST", "/api/profile-import", 200),
    ],
)
async def test_fields_klaviyo_left_out_are_read_from_every_profile_write(
    api: FakeKlaviyo, client: KlaviyoClient, operation: str, method: str, path: str, status: int
) -> None:
    answer = ok(profile("01A", email="a@x.com"), path, status)
    answer.headers = {PARTIAL_FAILURE: "phone_number"}
    api.on(method, path, answer)
    attributes = {"email": "a@x.com", "phone_number": "+15550100199"}
    if operation == "create":
        saved = await client.create_profile(attributes)
    elif operation == "update":
        saved = await client.update_profile("01A", attributes)
    else:
        saved = await client.import_profile(attributes)
    assert saved.dropped == ("phone_number",)
    assert saved.id == "01A"
    assert saved.created is (status == 201)


async def test_create_profile_duplicate(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on(
        "POST",
        "/api/profiles",
        error(409, "duplicate_profile", meta={"duplicate_profile_id": "01EXISTING"}),
    )
    with pytest.raises(KlaviyoDuplicateProfileError) as caught:
        await client.create_profile({"email": "a@x.com"})
    assert caught.value.duplicate_profile_id == "01EXISTING"
    assert (caught.value.method, caught.value.path) == ("POST", "/api/profiles")
    assert len(api.calls) == 1


async def test_get_profile_with_additional_fields(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", PROFILE, ok(profile("01A"), "/api/profiles/01A"))
    result = await client.get_profile(
        "01A", additional_fields=["subscriptions", "predictive_analytics"]
    )
    assert result["id"] == "01A"
    call = api.calls[0]
    assert (call.method, call.path) == ("GET", "/api/profiles/01A")
    assert call.params == {"additional-fields[profile]": "subscriptions,predictive_analytics"}


async def test_ids_are_escaped_in_paths(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", r"/api/profiles/.*", ok(profile("x"), "/api/profiles/x"))
    await client.get_profile("../lists")
    assert api.calls[0].path == "/api/profiles/..%2Flists"


async def test_update_profile_sends_nulls_and_patch_properties(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    api.on("PATCH", PROFILE, ok(profile("01A", first_name="Ann"), "/api/profiles/01A"))

    result = await client.update_profile(
        "01A",
        {"first_name": "Ann", "organization": None, "location": {"city": "Leeds"}},
        patch_properties={"unset": ["old_key"], "append": {"tags": "vip"}},
    )

    assert result.profile["attributes"]["first_name"] == "Ann"
    call = api.calls[0]
    assert (call.method, call.path) == ("PATCH", "/api/profiles/01A")
    assert call.body == {
        "data": {
            "type": "profile",
            "id": "01A",
            "attributes": {
                "first_name": "Ann",
                "organization": None,
                "location": {"city": "Leeds"},
            },
            "meta": {"patch_properties": {"unset": ["old_key"], "append": {"tags": "vip"}}},
        }
    }


@pytest.mark.parametrize(("status", "created"), [(201, True), (200, False)])
async def test_import_profile(
    api: FakeKlaviyo, client: KlaviyoClient, status: int, created: bool
) -> None:
    api.on("POST", "/api/profile-import", ok(profile("01A"), "/api/profile-import", status))
    result = await client.import_profile({"email": "a@x.com"}, profile_id="01A")
    assert (result.profile, result.created) == (profile("01A"), created)
    assert api.calls[0].body == {
        "data": {"type": "profile", "id": "01A", "attributes": {"email": "a@x.com"}}
    }


async def test_iter_profiles_follows_links_next(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    everyone = [profile(f"P{i:03}", email=f"p{i}@x.com") for i in range(7)]
    api.on("GET", "/api/profiles", *pages(everyone, "/api/profiles", size=3))

    flt = equals("external_id", "C1")
    seen = [p async for p in client.iter_profiles(filter=flt, page_size=3)]

    assert [p["id"] for p in seen] == [f"P{i:03}" for i in range(7)]
    assert [c.params.get("page[cursor]") for c in api.calls] == [None, "c1", "c2"]
    for call in api.calls:
        assert call.params["filter"] == 'equals(external_id,"C1")'
        assert call.params["page[size]"] == "3"


async def test_next_link_on_another_host_is_not_followed_there(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    first = ok([profile("P1")], "/api/profiles")
    assert isinstance(first.body, dict)
    first.body["links"]["next"] = "https://evil.example/steal?page%5Bcursor%5D=abc"
    api.on("GET", "/api/profiles", first, ok([profile("P2")], "/api/profiles"))

    seen = [p["id"] async for p in client.iter_profiles()]

    assert seen == ["P1", "P2"]
    assert api.calls[1].params["page[cursor]"] == "abc"


async def test_page_size_is_checked(client: KlaviyoClient) -> None:
    with pytest.raises(ValueError, match="page_size"):
        [p async for p in client.iter_profiles(page_size=101)]


async def test_find_profiles_batches_100_values(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    emails = [f"user{i}@x.com" for i in range(250)]

    def answer(call: Call) -> Canned:
        flt = call.params["filter"]
        found = re.findall(r'"(user\d+@x\.com)"', flt)
        return ok([profile(f"id-{e}", email=e) for e in found[:2]], "/api/profiles")

    api.on("GET", "/api/profiles", answer)
    found = await client.find_profiles("email", [*emails, emails[0]])

    assert len(api.calls) == 3
    batches = [re.findall(r'"([^"]+)"', c.params["filter"]) for c in api.calls]
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [e for b in batches for e in b] == emails
    assert api.calls[0].params["filter"] == any_of("email", emails[:100])
    assert all(c.params["page[size]"] == "100" for c in api.calls)
    assert [p["attributes"]["email"] for p in found] == [
        "user0@x.com", "user1@x.com", "user100@x.com", "user101@x.com",
        "user200@x.com", "user201@x.com",
    ]  # fmt: skip


async def test_find_profiles_reads_every_page(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    matches = [profile(f"P{i}", phone_number="+15005550006") for i in range(150)]
    api.on("GET", "/api/profiles", *pages(matches, "/api/profiles", size=100))
    found = await client.find_profiles("phone_number", ["+15005550006"])
    assert len(found) == 150
    assert len(api.calls) == 2


async def test_find_nothing_asks_nothing(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    assert await client.find_profiles("email", []) == []
    assert api.calls == []


async def test_from_settings(api: FakeKlaviyo) -> None:
    settings = Settings(KLAVIYO_API_KEY=SecretStr(KEY), KLAVIYO_BASE_URL="http://127.0.0.1:8765")
    async with KlaviyoClient.from_settings(settings, transport=api.transport) as client:
        api.on("GET", PROFILE, ok(profile("01A"), "/api/profiles/01A"))
        await client.get_profile("01A")
    assert api.calls[0].headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert api.calls[0].headers["host"] == "127.0.0.1:8765"


def test_from_settings_without_a_key() -> None:
    with pytest.raises(ConfigError, match="KLAVIYO_API_KEY"):
        KlaviyoClient.from_settings(Settings(KLAVIYO_API_KEY=None))


def test_empty_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        KlaviyoClient("  \n")


async def test_key_is_trimmed(api: FakeKlaviyo) -> None:
    api.on("GET", PROFILE, ok(profile("01A"), "/api/profiles/01A"))
    async with KlaviyoClient(f"{KEY}\n", base_url=BASE_URL, transport=api.transport) as client:
        await client.get_profile("01A")
    assert api.calls[0].headers["authorization"] == f"Klaviyo-API-Key {KEY}"
