"""The /__sandbox__ admin surface."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette

from klaviyo_sandbox import Sandbox

from .conftest import SpecClient, client_for, profile_doc


async def test_request_log_has_decoded_query_status_and_parsed_body(client: SpecClient) -> None:
    await client.post("/api/profiles", profile_doc({"email": "a@example.com"}))
    await client.get("/api/profiles?filter=equals%28email%2C%22a%40example.com%22%29")
    await client.http.get("/__sandbox__/emails")  # admin calls are not logged
    log = (await client.http.get("/__sandbox__/requests")).json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/profiles", 201),
        ("GET", "/api/profiles", 200),
    ]
    assert log[0]["body"] == profile_doc({"email": "a@example.com"})
    assert log[0]["operation_id"] == "create_profile"
    assert log[1]["query"] == {"filter": 'equals(email,"a@example.com")'}
    assert log[1]["body"] is None
    only_posts = (await client.http.get("/__sandbox__/requests?method=POST")).json()
    assert len(only_posts) == 1
    assert (await client.http.delete("/__sandbox__/requests")).status_code == 204
    assert (await client.http.get("/__sandbox__/requests")).json() == []


async def test_request_log_keeps_unparseable_bodies_and_never_the_key(client: SpecClient) -> None:
    await client.post("/api/profiles", content=b"{not json")
    entry = (await client.http.get("/__sandbox__/requests")).json()[0]
    assert entry["status"] == 400
    assert entry["body"] == "{not json"
    assert "pk_" not in str(entry)


async def test_request_log_is_bounded(make_app: Callable[..., Starlette]) -> None:
    app = make_app(rate_limits=False, request_log_limit=3)
    async with client_for(app) as http:
        for _ in range(5):
            await http.get("/api/profiles")
        assert len((await http.get("/__sandbox__/requests")).json()) == 3


async def test_profiles_view_shows_consent_lists_and_pending(
    client: SpecClient, sandbox: Sandbox
) -> None:
    single = sandbox.create_list("Single", "single_opt_in")
    double = sandbox.create_list("Double", "double_opt_in")
    ids = [sandbox.create_profile({"email": f"p{i}@example.com"}).id for i in range(3)]
    sandbox.add_to_list(single.id, ids[:1])
    body = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "p1@example.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                }
            },
            "relationships": {"list": {"data": {"type": "list", "id": double.id}}},
        }
    }
    await client.post("/api/profile-subscription-bulk-create-jobs", body)
    page = (await client.http.get("/__sandbox__/profiles?page[size]=2")).json()
    assert page["meta"]["total"] == 3
    assert [p["id"] for p in page["data"]] == ids[:2]
    assert page["data"][0]["lists"] == [single.id]
    assert page["data"][1]["pending_lists"] == [double.id]
    assert page["data"][1]["subscriptions"]["email"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"
    rest = (await client.http.get(page["links"]["next"])).json()
    assert [p["id"] for p in rest["data"]] == ids[2:]
    assert rest["links"]["next"] is None
    one = (await client.http.get(f"/__sandbox__/profiles/{ids[1]}")).json()
    assert one["email"] == "p1@example.com"
    by_email = (await client.http.get("/__sandbox__/profiles?email=P2@example.com")).json()
    assert [p["id"] for p in by_email["data"]] == ids[2:]
    lists = (await client.http.get("/__sandbox__/lists")).json()
    assert {item["name"]: item["profile_count"] for item in lists} == {"Single": 1, "Double": 0}


async def test_reset_and_summary(client: SpecClient, sandbox: Sandbox) -> None:
    old = await client.create_profile(email="a@example.com")
    summary = (await client.http.get("/__sandbox__")).json()
    assert summary["profiles"] == 1
    assert summary["revision"] == "2026-10-15"
    assert summary["behaviour"]["invalid_phone"] in ("drop", "refuse")
    assert (await client.http.post("/__sandbox__/reset")).json() == {"reset": True}
    assert len(sandbox.profiles) == 0
    assert len(sandbox.requests) == 0
    again = await client.create_profile(email="a@example.com")  # no 409 after a reset
    assert again["attributes"]["email"] == "a@example.com"
    assert again["id"] > old["id"]  # a stale id never finds a new profile
    assert (await client.get(f"/api/profiles/{old['id']}")).status_code == 404


async def test_deleting_a_profile_frees_its_identifiers(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("L")
    pid = (await client.create_profile(email="a@example.com", phone_number="+14155552671"))["id"]
    sandbox.add_to_list(list_id, [pid])
    assert (await client.http.delete(f"/__sandbox__/profiles/{pid}")).status_code == 204
    assert (await client.get(f"/api/profiles/{pid}")).status_code == 404
    assert sandbox.lists[list_id].members == {}
    assert (await client.get(f"/api/lists/{list_id}/relationships/profiles")).json()["data"] == []
    again = await client.create_profile(email="a@example.com", phone_number="+14155552671")
    assert again["id"] != pid
    assert (await client.http.delete(f"/__sandbox__/profiles/{pid}")).status_code == 404
