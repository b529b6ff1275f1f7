"""Fault injection: next-N errors, seeded shares, latency, dropped connections."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from klaviyo_sandbox import FaultRule, ManualClock, Sandbox

from .conftest import SpecClient, client_for, profile_doc


async def test_fail_the_next_n_with_503(make_app: Callable[..., Starlette]) -> None:
    app = make_app(rate_limits=False, faults=[FaultRule(operation="create_profile", times=2)])
    async with client_for(app) as http:
        client = SpecClient(http)
        statuses = []
        for i in range(4):
            response = await client.post("/api/profiles", profile_doc({"email": f"{i}@ex.com"}))
            statuses.append(response.status_code)
        assert statuses == [503, 503, 201, 201]
        assert (await client.get("/api/profiles")).status_code == 200  # other operations fine
    sandbox: Sandbox = app.state.sandbox
    assert len(sandbox.profiles) == 2  # a failed create wrote nothing


async def _statuses(app: Starlette, count: int) -> list[int]:
    async with client_for(app) as http:
        client = SpecClient(http)
        return [(await client.get("/api/profiles")).status_code for _ in range(count)]


async def test_seeded_share_of_errors_is_reproducible(make_app: Callable[..., Starlette]) -> None:
    rule = FaultRule(status=500, rate=0.3)
    first = await _statuses(make_app(rate_limits=False, faults=[rule], seed=7), 100)
    again = await _statuses(make_app(rate_limits=False, faults=[rule], seed=7), 100)
    other = await _statuses(make_app(rate_limits=False, faults=[rule], seed=8), 100)
    assert first == again
    assert first != other
    assert set(first) == {200, 500}
    assert 15 <= first.count(500) <= 45


async def test_latency_uses_the_injected_clock(
    make_app: Callable[..., Starlette], clock: ManualClock
) -> None:
    app = make_app(rate_limits=False, faults=[FaultRule(status=None, latency=2.5)])
    before = clock.now()
    async with client_for(app) as http:
        response = await SpecClient(http).get("/api/profiles")
    assert response.status_code == 200
    assert clock.now() - before == pytest.approx(2.5)


async def test_dropped_connection_surfaces_as_remote_protocol_error(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app(
        rate_limits=False, faults=[FaultRule(operation="get_profiles", drop=True, times=1)]
    )
    async with client_for(app) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/api/profiles")
        assert (await SpecClient(http).get("/api/profiles")).status_code == 200
    log = app.state.sandbox.requests
    assert [(entry.status, entry.dropped) for entry in log] == [(None, True), (200, False)]


async def test_fault_after_the_write_loses_only_the_answer(
    make_app: Callable[..., Starlette],
) -> None:
    rule = FaultRule(operation="create_profile", drop=True, after=True, times=1)
    app = make_app(rate_limits=False, faults=[rule])
    async with client_for(app) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(
                "/api/profiles",
                json=profile_doc({"email": "a@example.com"}),
                headers={"Content-Type": "application/vnd.api+json"},
            )
        retry = await SpecClient(http).post(
            "/api/profiles", profile_doc({"email": "a@example.com"})
        )
    assert retry.status_code == 409  # the first attempt did create the profile


async def test_faults_set_at_run_time(client: SpecClient) -> None:
    http = client.http
    response = await http.post(
        "/__sandbox__/faults",
        json={"rules": [{"operation": "get_profiles", "status": 503, "times": 1}], "seed": 3},
    )
    assert response.status_code == 200
    assert response.json() == {
        "seed": 3,
        "rules": [
            {
                "operation": "get_profiles",
                "status": 503,
                "rate": 1.0,
                "times": 1,
                "latency": 0.0,
                "drop": False,
                "after": False,
                "remaining": 1,
            }
        ],
    }
    failed = await client.get("/api/profiles")
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["code"] == "service_unavailable"
    assert (await client.get("/api/profiles")).status_code == 200
    assert (await http.get("/__sandbox__/faults")).json()["rules"][0]["remaining"] == 0
    cleared = await http.post("/__sandbox__/faults", json={"rules": []})
    assert cleared.json()["rules"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [{"operation": "x", "rate": 2}]},
        {"rules": [{"operation": "x", "status": 200}]},
        {"rules": [{"nonsense": True}]},
        {"rules": [{"drop": "yes"}]},
        {"rules": "all"},
        {"rules": [], "seed": "x"},
        "text",
    ],
)
async def test_bad_fault_rules_are_400(client: SpecClient, body: object) -> None:
    response = await client.http.post("/__sandbox__/faults", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"


async def test_reset_restores_configured_faults(make_app: Callable[..., Starlette]) -> None:
    app = make_app(rate_limits=False, faults=[FaultRule(operation="get_lists", times=1)])
    sandbox: Sandbox = app.state.sandbox
    sandbox.set_faults([])
    sandbox.reset()
    assert sandbox.faults.rules()[0]["remaining"] == 1
