"""The sandbox over real loopback HTTP, as the demo and end-to-end tests use it."""

from __future__ import annotations

import httpx
import pytest

from klaviyo_sandbox import Behaviour, FaultRule, ManualClock, SandboxConfig, running_sandbox

from .conftest import HEADERS, JSON_API, KEY, check_response, profile_doc


def test_running_sandbox_serves_a_plain_client() -> None:
    config = SandboxConfig(api_key=KEY, rate_limits=False)
    with running_sandbox(config) as running:
        assert running.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=running.base_url, headers=HEADERS, timeout=5) as client:
            created = client.post(
                "/api/profiles",
                json=profile_doc({"email": "ada@example.com"}),
                headers={"Content-Type": JSON_API},
            )
            check_response("POST", "/api/profiles", created)
            assert created.status_code == 201
            pid = created.json()["data"]["id"]
            assert (
                created.json()["data"]["links"]["self"] == f"{running.base_url}/api/profiles/{pid}"
            )
            listed = client.get(
                "/api/profiles", params={"filter": "equals(email,'ada@example.com')"}
            )
            check_response("GET", "/api/profiles", listed)
            assert [p["id"] for p in listed.json()["data"]] == [pid]
            assert client.get("/__sandbox__/requests").json()[0]["status"] == 201
        assert pid in running.sandbox.profiles
        assert running.app.state.sandbox is running.sandbox


def test_a_dropped_connection_is_cut_on_the_wire() -> None:
    config = SandboxConfig(
        rate_limits=False, faults=[FaultRule(operation="get_profiles", drop=True, times=1)]
    )
    with (
        running_sandbox(config) as running,
        httpx.Client(base_url=running.base_url, headers=HEADERS, timeout=5) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/profiles")
        again = client.get("/api/profiles")
        check_response("GET", "/api/profiles", again)
        assert again.status_code == 200


def test_the_server_stops_on_exit() -> None:
    with running_sandbox(SandboxConfig(rate_limits=False)) as running:
        base_url = running.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/__sandbox__", timeout=2)


def test_todays_klaviyo_over_the_wire() -> None:
    today = Behaviour(
        invalid_phone="drop",
        bulk_import_validation="submit",
        bulk_import_null="ignore",
        default_opt_in="double_opt_in",
    )
    config = SandboxConfig(rate_limits=False, clock=ManualClock(), behaviour=today)
    with (
        running_sandbox(config) as running,
        httpx.Client(base_url=running.base_url, headers=HEADERS, timeout=5) as client,
    ):
        retired = client.get("/api/profiles", headers={"revision": "2024-10-15"})
        check_response("GET", "/api/profiles", retired)
        assert retired.status_code == 410
        doc = profile_doc({"email": "ada@example.com", "phone_number": "+1555"})
        created = client.post("/api/profiles", json=doc, headers={"Content-Type": JSON_API})
        check_response("POST", "/api/profiles", created)
        assert created.status_code == 201
        assert created.headers["X-Klaviyo-Partial-Failure"] == "phone_number"
        rows = [{"type": "profile", "attributes": {"email": e}} for e in ("b@example.com", "bad")]
        job = {
            "data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}
        }
        refused = client.post(
            "/api/profile-bulk-import-jobs", json=job, headers={"Content-Type": JSON_API}
        )
        check_response("POST", "/api/profile-bulk-import-jobs", refused)
        assert refused.status_code == 400
        assert [e["source"]["pointer"] for e in refused.json()["errors"]] == [
            "/data/attributes/profiles/data/1/attributes/email"
        ]
