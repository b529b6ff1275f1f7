"""The dashboard's JSON API against an in-process sandbox and a real store: the error log,
retry and resolve, Manual Sync, links, runs and the overview; and its OpenAPI description."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from klaviyo_sandbox import Behaviour
from openapi_schema_validator import OAS31Validator

from klaviyo_sync.config import Settings
from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app

from .conftest import client_for
from .dashboard import BAD_PHONE, GOOD_PHONE, TOKEN, Dashboard, customer


async def failures(dashboard: Dashboard, query: str = "") -> dict[str, Any]:
    answer = await dashboard.api("GET", f"/api/failures{query}")
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


# the error log


async def test_the_error_log_pages_newest_first_and_filters(dashboard: Dashboard) -> None:
    ids = [await dashboard.fail(f"zoe{n}") for n in range(5)]
    await dashboard.world.sync({"Id": "nobody"})  # no email, no phone: no_identifier

    everything = await failures(dashboard)
    first = await failures(dashboard, "?limit=2")
    second = await failures(dashboard, "?limit=2&offset=2")
    phones = await failures(dashboard, "?kind=phone_rejected")
    by_text = await failures(dashboard, "?text=ZOE3")  # not hex: no request id has it
    by_customer = await failures(dashboard, "?customer_id=zoe1")

    assert everything["total"] == 6
    assert [f["customer_id"] for f in everything["items"]][:1] == ["nobody"]
    assert [f["id"] for f in first["items"] + second["items"]] == [
        f["id"] for f in everything["items"][:4]
    ]
    assert (first["total"], first["limit"], second["offset"]) == (6, 2, 2)
    assert sorted(f["id"] for f in phones["items"]) == ids
    assert [f["customer_id"] for f in by_text["items"]] == ["zoe3"]
    assert [f["customer_id"] for f in by_customer["items"]] == ["zoe1"]
    assert {f["state"] for f in phones["items"]} == {"open"}


@pytest.mark.parametrize(
    "query", ["?kind=nonsense", "?limit=0", "?limit=201", "?offset=-1", "?text=" + "x" * 201]
)
async def test_bad_filters_are_refused_in_the_envelope(dashboard: Dashboard, query: str) -> None:
    answer = await dashboard.api("GET", f"/api/failures{query}")

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_failure_shows_klaviyos_answer_the_payload_and_the_record(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")

    answer = await dashboard.api("GET", f"/api/failures/{failure_id}")
    missing = await dashboard.api("GET", "/api/failures/999999")

    detail = answer.json()
    assert detail["kind"] == "phone_rejected"
    assert detail["stage"] == "write"
    assert detail["klaviyo"]["pointer"] == "/data/attributes/phone_number"
    assert detail["payload"]["data"]["attributes"]["phone_number"] == "+15550100199"
    assert detail["record"]["Phone"] == BAD_PHONE
    assert "record" not in detail["detail"]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "failure_not_found"


async def test_retrying_after_the_cause_is_fixed_resolves_the_failure(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")
    still_bad = await dashboard.api("POST", "/api/failures/retry", json={"ids": [failure_id]})
    dashboard.set_customer(customer("c1", Phone=GOOD_PHONE))

    fixed = await dashboard.api("POST", "/api/failures/retry", json={"ids": [failure_id]})

    assert still_bad.status_code == 200
    [again] = still_bad.json()["results"]
    assert (again["status"], again["failure_kind"]) == ("failed", "phone_rejected")
    assert again["state"] == "open", "the failure's own state, not the retry's status"
    assert again["note"] is None, "read from the configured source"
    report = fixed.json()
    assert (report["resolved"], report["failed"], report["not_retried"]) == (1, 0, 0)
    assert report["remaining"] == 0
    [item] = report["results"]
    assert (item["status"], item["state"]) == ("resolved", "resolved")
    assert item["outcome"] == "created"
    profile = dashboard.world.by_email("cc1@example.com")
    assert profile is not None
    assert item["profile_id"] == profile.id
    assert profile.phone_number == "+14155552671"
    after = (await dashboard.api("GET", f"/api/failures/{failure_id}")).json()
    assert after["state"] == "resolved"


async def test_retry_all_of_a_kind_runs_the_newest_open_ones(dashboard: Dashboard) -> None:
    for n in range(3):
        await dashboard.fail(f"c{n}")
    await dashboard.world.sync({"Id": "nobody"})
    for n in range(3):
        dashboard.set_customer(customer(f"c{n}", Phone=GOOD_PHONE if n == 0 else None))

    answer = await dashboard.api(
        "POST", "/api/failures/retry", json={"all": True, "kind": "phone_rejected"}
    )

    report = answer.json()
    assert len(report["results"]) == 3
    assert report["resolved"] == 3
    assert report["remaining"] == 0
    assert (await failures(dashboard))["total"] == 1, "the no_identifier one was not touched"


async def test_a_retry_not_performed_says_not_retried_and_why(dashboard: Dashboard) -> None:
    failure_id = await dashboard.fail("c1")
    await dashboard.api("POST", f"/api/failures/{failure_id}/resolve", json={"note": "by hand"})

    answer = await dashboard.api("POST", "/api/failures/retry", json={"ids": [failure_id]})

    assert answer.status_code == 200
    report = answer.json()
    assert (report["resolved"], report["failed"], report["not_retried"]) == (0, 0, 1)
    assert report["remaining"] == 0
    [item] = report["results"]
    assert item["status"] == "not_retried"
    assert item["state"] == "resolved"
    assert item["message"] == "not retried: already resolved"
    assert (item["outcome"], item["profile_id"], item["note"]) == (None, None, None)
    assert "skipped" not in report


async def test_a_customer_gone_from_the_source_is_retried_with_the_kept_record_and_says_so(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")
    dashboard.customers.clear()
    dashboard.set_customer(customer("c2"))
    source = dashboard.world.settings.source

    answer = await dashboard.api("POST", "/api/failures/retry", json={"ids": [failure_id]})

    [item] = answer.json()["results"]
    # The record kept with the failure still has the phone Klaviyo refuses: sent, failed again.
    assert (item["status"], item["state"], item["failure_kind"]) == (
        "failed",
        "open",
        "phone_rejected",
    )
    assert item["note"] == f"not in {source}: retried with the record kept with the failure"
    assert (await dashboard.api("GET", f"/api/failures/{failure_id}")).json()["attempts"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": [1], "all": True},
        {"ids": [1], "kind": "auth"},
        {"all": True, "kind": "x"},
    ],
)
async def test_a_retry_says_what_to_retry(dashboard: Dashboard, body: dict[str, Any]) -> None:
    answer = await dashboard.api("POST", "/api/failures/retry", json=body)

    assert answer.status_code == 422


async def test_retrying_an_unknown_failure_is_a_404(dashboard: Dashboard) -> None:
    answer = await dashboard.api("POST", "/api/failures/retry", json={"ids": [424242]})

    assert answer.status_code == 404
    assert "424242" in answer.json()["error"]["message"]


async def test_resolving_keeps_the_note_and_takes_it_off_the_open_log(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")

    answer = await dashboard.api(
        "POST", f"/api/failures/{failure_id}/resolve", json={"note": "phone fixed in Klaviyo"}
    )
    again = await dashboard.api("POST", f"/api/failures/{failure_id}/resolve")
    missing = await dashboard.api("POST", "/api/failures/999/resolve")

    assert answer.json()["state"] == "resolved"
    assert answer.json()["resolution"] == "phone fixed in Klaviyo"
    assert again.json()["resolution"] == "phone fixed in Klaviyo", "resolving twice changes nothing"
    assert missing.status_code == 404
    assert (await failures(dashboard))["total"] == 0
    assert (await failures(dashboard, "?include_resolved=true"))["total"] == 1


# Manual Sync


async def test_manual_sync_creates_then_updates_the_linked_profile(dashboard: Dashboard) -> None:
    dashboard.set_customer(customer("55260", FirstName="Ada"))

    created = (await dashboard.api("POST", "/api/sync", json={"customer_id": "55260"})).json()
    dashboard.set_customer(customer("55260", FirstName="Augusta Ada"))
    updated = (await dashboard.api("POST", "/api/sync", json={"customer_id": " 55260 "})).json()

    assert created["outcome"] == "created"
    assert created["route"] == "create"
    assert created["payload"]["data"]["attributes"]["first_name"] == "Ada"
    assert created["failure"] is None
    assert created["source"].endswith("customers.jsonl")
    assert updated["outcome"] == "updated"
    assert updated["route"] == "update"
    assert updated["profile_id"] == created["profile_id"]
    assert updated["payload"]["data"]["attributes"]["first_name"] == "Augusta Ada"
    assert dashboard.world.profile(created["profile_id"]).first_name == "Augusta Ada"


async def test_manual_sync_says_how_an_existing_profile_was_matched(
    dashboard: Dashboard,
) -> None:
    await dashboard.world.sync(customer("first"))
    dashboard.set_customer(customer("second", EmailAddress="cfirst@example.com"))

    answer = (await dashboard.api("POST", "/api/sync", json={"customer_id": "second"})).json()

    assert answer["outcome"] == "matched_email"
    assert answer["matched_by"] == "email"
    assert answer["route"] == "match"


async def test_a_failed_manual_sync_answers_with_the_failure_and_its_log_entry(
    dashboard: Dashboard,
) -> None:
    dashboard.set_customer(customer("c1", Phone=BAD_PHONE))

    answer = await dashboard.api("POST", "/api/sync", json={"customer_id": "c1"})

    assert answer.status_code == 200
    result = answer.json()
    assert result["outcome"] == "failed"
    assert result["failure"]["kind"] == "phone_rejected"
    assert result["failure"]["klaviyo"]["status"] == 400
    assert result["payload"]["data"]["attributes"]["phone_number"] == "+15550100199"
    [logged] = dashboard.store.list_failures()
    assert result["failure"]["failure_id"] == logged.id


async def test_a_manual_sync_klaviyo_took_without_the_phone_says_created_and_logs_it(
    dashboard: Dashboard,
) -> None:
    # Today's Klaviyo: the profile is made, the phone left out (X-Klaviyo-Partial-Failure).
    dashboard.world.sandbox.behaviour = Behaviour(invalid_phone="drop")
    dashboard.set_customer(customer("c1", Phone=BAD_PHONE))

    result = (await dashboard.api("POST", "/api/sync", json={"customer_id": "c1"})).json()

    assert result["outcome"] == "created"
    assert result["route_text"] == "created a new profile"
    assert result["failure"]["kind"] == "phone_rejected"
    assert result["failure"]["klaviyo"]["partial_failure"] == "phone_number"
    assert "+15550100199" in result["failure"]["message"]
    [logged] = dashboard.store.list_failures()
    assert (result["failure"]["failure_id"], logged.kind) == (logged.id, "phone_rejected")


async def test_manual_sync_of_an_unknown_customer_is_a_404(dashboard: Dashboard) -> None:
    answer = await dashboard.api("POST", "/api/sync", json={"customer_id": "404404"})

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "customer_not_found"


async def test_manual_sync_without_a_source_says_what_to_set(dashboard: Dashboard) -> None:
    settings = dashboard.world.settings.model_copy(update={"source": None})
    app = create_app(settings, dashboard.store, connections=dashboard.world.connections)
    async with client_for(app) as client:
        answer = await client.post("/api/sync", json={"customer_id": "1"}, headers=dashboard.bearer)

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "source_not_set"
    assert "KLAVIYO_SYNC_SOURCE" in answer.json()["error"]["message"]


# links and runs


async def test_links_are_found_by_customer_email_and_profile(dashboard: Dashboard) -> None:
    [ada, grace] = await dashboard.world.sync(customer("1"), customer("2"))

    by_customer = (await dashboard.api("GET", "/api/links?customer_id=1")).json()
    by_profile = (await dashboard.api("GET", f"/api/links?profile_id={grace.profile_id}")).json()
    by_email = (await dashboard.api("GET", "/api/links?email=c1@example.com")).json()
    nobody = (await dashboard.api("GET", "/api/links?email=nobody@example.com")).json()
    latest = (await dashboard.api("GET", "/api/links")).json()

    assert [(i["customer_id"], i["profile_id"]) for i in by_customer["items"]] == [
        ("1", ada.profile_id)
    ]
    assert by_customer["items"][0]["how"] == "created"
    assert [i["customer_id"] for i in by_profile["items"]] == ["2"]
    assert by_email["by"] == "email"
    assert by_email["profiles"] == [ada.profile_id]
    assert [i["customer_id"] for i in by_email["items"]] == ["1"]
    assert (nobody["profiles"], nobody["items"]) == ([], [])
    assert latest["by"] == "latest"
    assert sorted(i["customer_id"] for i in latest["items"]) == ["1", "2"]


async def test_runs_and_a_runs_outcomes(dashboard: Dashboard) -> None:
    await dashboard.world.sync(customer("1"), customer("2", Phone=BAD_PHONE))

    [run] = (await dashboard.api("GET", "/api/runs")).json()
    detail = (await dashboard.api("GET", f"/api/runs/{run['id']}")).json()
    failed = (await dashboard.api("GET", f"/api/runs/{run['id']}?kind=failed")).json()
    missing = await dashboard.api("GET", "/api/runs/999")

    assert run["counts"] == {"created": 1, "failed": 1}
    assert run["total"] == 2
    assert sorted(o["outcome"] for o in detail["outcomes"]) == ["created", "failed"]
    [only] = failed["outcomes"]
    assert (only["customer_id"], only["failure_kind"]) == ("2", "phone_rejected")
    assert missing.status_code == 404


# the overview


async def test_the_overview_gathers_failures_queue_triggers_runs_and_checks(
    dashboard: Dashboard,
) -> None:
    await dashboard.fail("c1")
    await dashboard.world.sync({"Id": "nobody"})
    dashboard.store.enqueue([("q1", customer("q1"), "customer/updated")])
    dashboard.store.record_event("customer/updated", customer_id="q1", status="queued")
    dashboard.store.heartbeat("w1", host="here", pid=1, processed=7)

    answer = await dashboard.api("GET", "/api/overview")
    daily = await dashboard.api("GET", "/api/overview?range=14d")

    o = answer.json()
    assert o["failures_open"] == 2
    assert o["failures_by_kind"] == {"phone_rejected": 1, "no_identifier": 1}
    assert (o["queue"]["depth"], o["queue"]["ready"]) == (1, 1)
    assert o["events"] == {"queued": 1, "ignored": 0, "rejected": 0}
    assert [(w["worker_id"], w["state"], w["processed"]) for w in o["workers"]] == [
        ("w1", "running", 7)
    ]
    assert o["triggers"] == {"created": False, "updated": True, "webhook_secret_set": False}
    assert o["source"].endswith("customers.jsonl")
    assert [r["kind"] for r in o["runs"]] == ["sync", "sync"]
    assert [f["customer_id"] for f in o["recent_failures"]] == ["nobody", "c1"]
    assert o["check_error"] is None
    assert any("properties" in c["message"] for c in o["checks"])
    chart = o["chart"]
    assert (chart["unit"], len(chart["buckets"]), chart["complete"]) == ("hour", 24, True)
    assert chart["buckets"][-1]["counts"] == {"failed": 2}
    assert daily.json()["chart"]["unit"] == "day"
    assert len(daily.json()["chart"]["buckets"]) == 14


async def test_the_overview_never_shows_a_database_password(tmp_path: Any, store: Store) -> None:
    settings = Settings.model_validate(
        {
            "KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN,
            "KLAVIYO_SYNC_SOURCE": "postgresql://sync:hunter2@db.internal/crm",
            "KLAVIYO_SYNC_SOURCE_QUERY": "SELECT 1",
        }
    )
    async with client_for(create_app(settings, store)) as client:
        answer = await client.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 200
    assert "hunter2" not in answer.text
    assert answer.json()["source"] == "postgresql://sync:***@db.internal/crm"


# the OpenAPI document


@pytest.fixture
async def document(dashboard: Dashboard) -> dict[str, Any]:
    answer = await dashboard.client.get("/openapi.json")
    parsed: dict[str, Any] = answer.json()
    return parsed


def validator(document: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    return OAS31Validator({**schema, "components": document["components"]})


async def test_every_api_operation_is_documented_with_a_model_and_the_bearer_scheme(
    document: dict[str, Any],
) -> None:
    operations = {
        (method.upper(), path): op
        for path, ops in document["paths"].items()
        if path.startswith("/api/")
        for method, op in ops.items()
    }

    assert set(operations) == {
        ("GET", "/api/overview"),
        ("GET", "/api/failures"),
        ("GET", "/api/failures/{failure_id}"),
        ("POST", "/api/failures/retry"),
        ("POST", "/api/failures/{failure_id}/resolve"),
        ("POST", "/api/sync"),
        ("GET", "/api/links"),
        ("GET", "/api/runs"),
        ("GET", "/api/runs/{run_id}"),
    }
    for key, op in operations.items():
        assert op["security"] == [{"dashboardToken": []}], key
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok or ok.get("type") == "array", key
        assert {"401", "403", "429", "503"} <= set(op["responses"]), key
    assert document["components"]["securitySchemes"]["dashboardToken"]["scheme"] == "bearer"
    assert not any(path in document["paths"] for path in ("/", "/login", "/failures", "/sync"))


async def test_every_api_answer_matches_its_documented_schema(
    dashboard: Dashboard, document: dict[str, Any]
) -> None:
    failure_id = await dashboard.fail("c1")
    dashboard.set_customer(customer("55260"))
    [ok] = await dashboard.world.sync(customer("2"))
    calls = [
        ("GET", "/api/overview", "/api/overview", None),
        ("GET", "/api/failures", "/api/failures", None),
        ("GET", f"/api/failures/{failure_id}", "/api/failures/{failure_id}", None),
        ("POST", "/api/failures/retry", "/api/failures/retry", {"ids": [failure_id]}),
        ("POST", "/api/sync", "/api/sync", {"customer_id": "55260"}),
        ("GET", "/api/links?email=c2@example.com", "/api/links", None),
        ("GET", "/api/runs", "/api/runs", None),
        ("GET", "/api/runs/1", "/api/runs/{run_id}", None),
        (
            "POST",
            f"/api/failures/{failure_id}/resolve",
            "/api/failures/{failure_id}/resolve",
            {"note": "done"},
        ),
        ("POST", "/api/failures/retry", "/api/failures/retry", {"ids": [failure_id]}),
        ("GET", "/api/failures/999", "/api/failures/{failure_id}", None),
    ]
    for method, url, path, body in calls:
        answer = await dashboard.api(method, url, json=body)
        status = str(answer.status_code)
        documented = document["paths"][path][method.lower()]["responses"][status]
        schema = documented["content"]["application/json"]["schema"]
        validator(document, schema).validate(answer.json())
    assert ok.profile_id is not None


async def test_unauthorized_answers_match_the_documented_envelope(
    dashboard: Dashboard, document: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dashboard.app), base_url="http://web"
    ) as client:
        answer = await client.get("/api/overview")

    schema = document["paths"]["/api/overview"]["get"]["responses"]["401"]
    validator(document, schema["content"]["application/json"]["schema"]).validate(answer.json())


async def test_a_retrys_status_and_the_failures_state_are_documented_apart(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    item = schemas["RetryItem"]["properties"]
    report = schemas["RetryReport"]["properties"]

    assert item["status"]["enum"] == ["resolved", "failed", "not_retried"]
    assert "not_retried" in item["status"]["description"]
    assert item["state"]["enum"] == ["open", "retrying", "parked", "resolved"]
    assert "note" in item
    assert set(report) == {"results", "resolved", "failed", "not_retried", "remaining"}
