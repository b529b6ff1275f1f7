"""List endpoints and list membership."""

from __future__ import annotations

import pytest

from klaviyo_sync.klaviyo import KlaviyoClient

from .fakes import Canned, FakeKlaviyo, a_list, ok, pages

MEMBERS = r"/api/lists/[^/]+/relationships/profiles"


async def test_iter_lists_by_name(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    found = [a_list(f"L{i}", "VIP") for i in range(12)]
    api.on("GET", "/api/lists", *pages(found, "/api/lists", size=10))

    lists = [item async for item in client.iter_lists(name='VIP "gold"')]

    assert [item["id"] for item in lists] == [f"L{i}" for i in range(12)]
    assert len(api.calls) == 2
    assert api.calls[0].params == {"filter": r'equals(name,"VIP \"gold\"")'}
    assert "page[size]" not in api.calls[0].params  # lists pages are at most 10


async def test_iter_all_lists(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", "/api/lists", ok([a_list("L1")], "/api/lists"))
    assert [item["id"] async for item in client.iter_lists()] == ["L1"]
    assert api.calls[0].params == {}


@pytest.mark.parametrize("process", ["single_opt_in", "double_opt_in"])
async def test_create_list(api: FakeKlaviyo, client: KlaviyoClient, process: str) -> None:
    api.on("POST", "/api/lists", ok(a_list("L1", "News", process), "/api/lists", 201))
    created = await client.create_list("News", opt_in_process=process)
    assert created["attributes"]["opt_in_process"] == process
    assert api.calls[0].body == {
        "data": {"type": "list", "attributes": {"name": "News", "opt_in_process": process}}
    }


async def test_create_list_checks_opt_in(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    with pytest.raises(ValueError, match="opt_in_process"):
        await client.create_list("News", opt_in_process="triple_opt_in")
    assert api.calls == []


async def test_get_list(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", r"/api/lists/[^/]+", ok(a_list("L1"), "/api/lists/L1"))
    assert (await client.get_list("L1"))["id"] == "L1"
    assert api.calls[0].path == "/api/lists/L1"


async def test_iter_list_profile_ids(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    members = [{"type": "profile", "id": f"P{i}"} for i in range(230)]
    api.on("GET", MEMBERS, *pages(members, "/api/lists/L1/relationships/profiles", 100))
    ids = [i async for i in client.iter_list_profile_ids("L1")]
    assert ids == [f"P{i}" for i in range(230)]
    assert [c.params.get("page[cursor]") for c in api.calls] == [None, "c1", "c2"]


async def test_iter_list_profile_ids_of_some_members(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    """The members among some emails: one filtered read, as the engine asks when it learns
    whether pending double opt-ins were confirmed."""
    api.on("GET", MEMBERS, *pages([{"type": "profile", "id": "P1"}], "/x", 100))
    emails = ["a@example.com", "b@example.com"]
    ids = [i async for i in client.iter_list_profile_ids("L1", where=("email", emails))]
    assert ids == ["P1"]
    [call] = api.calls
    assert call.params["filter"] == 'any(email,["a@example.com","b@example.com"])'
    assert call.params["page[size]"] == "100"


@pytest.mark.parametrize(
    ("method", "call"), [("POST", "add_profiles_to_list"), ("DELETE", "remove_profiles_from_list")]
)
async def test_membership_chunks_by_1000(
    api: FakeKlaviyo, client: KlaviyoClient, method: str, call: str
) -> None:
    api.on(method, MEMBERS, Canned(204))
    ids = [f"P{i}" for i in range(2_500)]

    await getattr(client, call)("L1", ids)

    assert [(c.method, c.path) for c in api.calls] == [
        (method, "/api/lists/L1/relationships/profiles")
    ] * 3
    assert [len(c.body["data"]) for c in api.calls] == [1_000, 1_000, 500]
    assert api.calls[0].body["data"][0] == {"type": "profile", "id": "P0"}
    assert [p["id"] for c in api.calls for p in c.body["data"]] == ids
    assert all(c.headers["content-type"] == "application/vnd.api+json" for c in api.calls)


async def test_empty_membership_change_sends_nothing(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    await client.add_profiles_to_list("L1", [])
    await client.remove_profiles_from_list("L1", [])
    assert api.calls == []
