"""Published rate limits, fixed windows, 429 with an integer Retry-After."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette

from klaviyo_sandbox import ManualClock
from klaviyo_sandbox._ratelimit import RateLimiter
from klaviyo_sandbox.limits import LIMITS

from .conftest import SpecClient, client_for


async def test_burst_limit_429_then_success_after_the_window(
    make_app: Callable[..., Starlette], clock: ManualClock
) -> None:
    burst = LIMITS["get_lists_for_profile"].burst  # 3/s: cheap to exhaust
    app = make_app()
    profile = app.state.sandbox.create_profile({"email": "a@example.com"})
    url = f"/api/profiles/{profile.id}/lists"
    async with client_for(app) as http:
        client = SpecClient(http)
        for used in range(1, burst + 1):
            ok = await client.get(url)
            assert ok.status_code == 200
            assert ok.headers["RateLimit-Limit"] == str(LIMITS["get_lists_for_profile"].steady)
            steady = LIMITS["get_lists_for_profile"].steady
            assert ok.headers["RateLimit-Remaining"] == str(steady - used)
            assert int(ok.headers["RateLimit-Reset"]) >= 1
        throttled = await client.get(url)
        assert throttled.status_code == 429
        retry_after = throttled.headers["Retry-After"]
        assert retry_after == str(int(retry_after))
        assert int(retry_after) == 1
        assert "RateLimit-Remaining" not in throttled.headers
        item = throttled.json()["errors"][0]
        assert item["code"] == "throttled"
        assert item["title"] == "Request was throttled."
        assert item["detail"] == "Request was throttled. Expected available in 1 second."
        # Other operations have their own buckets.
        assert (await client.get("/api/lists")).status_code == 200
        clock.advance(int(retry_after))
        assert (await client.get(url)).status_code == 200


async def test_steady_limit_holds_for_the_minute(clock: ManualClock) -> None:
    limiter = RateLimiter(clock, enabled=True)
    limit = LIMITS["get_lists_for_profile"]
    allowed = 0
    for _ in range(limit.steady + 30):
        decision = limiter.check("get_lists_for_profile")
        if decision.allowed:
            allowed += 1
        else:
            clock.advance(1)  # wait out the burst window, as a polite client would
    assert allowed == limit.steady
    decision = limiter.check("get_lists_for_profile")
    assert not decision.allowed
    assert decision.retry_after > 1  # the minute window, not the second, is full
    clock.advance(decision.retry_after)
    assert limiter.check("get_lists_for_profile").allowed


def test_daily_limit_on_create_list(clock: ManualClock) -> None:
    limiter = RateLimiter(clock, enabled=True)
    daily = LIMITS["create_list"].daily
    assert daily is not None
    granted = 0
    while granted < daily:
        if limiter.check("create_list").allowed:
            granted += 1
        else:
            clock.advance(60)
    refused = limiter.check("create_list")
    assert not refused.allowed
    assert refused.retry_after > 60


async def test_rate_limits_off(make_app: Callable[..., Starlette]) -> None:
    app = make_app(rate_limits=False)
    profile = app.state.sandbox.create_profile({"email": "a@example.com"})
    async with client_for(app) as http:
        client = SpecClient(http)
        for _ in range(10):
            response = await client.get(f"/api/profiles/{profile.id}/lists")
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers


async def test_admin_is_never_rate_limited(make_app: Callable[..., Starlette]) -> None:
    app = make_app()
    async with client_for(app) as http:
        for _ in range(200):
            assert (await http.get("/__sandbox__/emails")).status_code == 200
