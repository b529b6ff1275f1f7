"""The rate limiter, on fake time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from klaviyo_sync.klaviyo import RateLimiter
from klaviyo_sync.klaviyo._ratelimit import SKEW
from klaviyo_sync.klaviyo.limits import LIMITS, RateLimit

from .fakes import FakeClock


def most_in_any_window(times: Sequence[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open interval of length ``window``."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_concurrent_tasks_share_the_burst_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire("get_profile")
        sent.append(clock.now)

    await asyncio.gather(*(call() for _ in range(200)))

    assert LIMITS["get_profile"].burst == 75
    assert len(sent) == 200
    assert most_in_any_window(sent, 1.0) <= 75
    assert clock.elapsed >= 2.0


async def test_steady_limit_holds_over_a_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"op": RateLimit(burst=75, steady=750)}, clock=clock)
    sent = []
    for _ in range(751):
        await limiter.acquire("op")
        sent.append(clock.now)
    assert most_in_any_window(sent, 60.0) <= 750
    assert sent[-1] - sent[0] >= 60.0


async def test_daily_limit_is_respected() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(151):
        await limiter.acquire("create_list")
    assert clock.elapsed >= 86_400.0


async def test_operations_are_limited_separately() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(10):
        await limiter.acquire("add_profiles_to_list")
    for _ in range(75):
        await limiter.acquire("get_profiles")
    assert clock.elapsed == 0.0
    await limiter.acquire("add_profiles_to_list")
    assert clock.elapsed == pytest.approx(1.1), "a second, and a tenth for the way there"


async def test_windows_leave_room_for_requests_held_up_on_their_way() -> None:
    # Klaviyo counts arrivals; a request let go at t may arrive up to SKEW later, together
    # with the next ones. With every send a second late at worst, no minute holds over 750.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    sent = []
    for _ in range(751):
        await limiter.acquire("get_profiles")
        sent.append(clock.monotonic())
    assert sent[-1] - sent[0] >= 60.0 + SKEW
    assert most_in_any_window(sent, 60.0 + SKEW) <= 750


async def test_unknown_operations_are_not_limited() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(1_000):
        await limiter.acquire("not_a_klaviyo_operation")
    assert clock.sleeps == []


async def test_pause_holds_every_caller() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.pause("get_profiles", 5.0)
    await asyncio.gather(limiter.acquire("get_profiles"), limiter.acquire("get_profiles"))
    assert clock.elapsed == 5.0


async def test_ratelimit_headers_pause_when_nothing_remains() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.observe("get_profiles", "10", "1")
    await limiter.acquire("get_profiles")
    assert clock.elapsed == 0.0
    limiter.observe("get_profiles", "0", "12")
    await limiter.acquire("get_profiles")
    assert clock.elapsed == 12.0
    limiter.observe("get_profiles", "0, 0;w=1", "garbage")
    limiter.observe("get_profiles", None, None)
    await limiter.acquire("get_profiles")
    assert clock.elapsed == 12.0
