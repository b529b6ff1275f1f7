"""The rate limiter, on fake time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from klaviyo_sync.klaviyo import RateLimiter
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
    assert clock.elapsed == pytest.approx(1.0)


async def test_a_request_holds_its_place_until_its_answer_is_in() -> None:
    # Klaviyo counts a request when it arrives, which may be as late as its answer.
    clock = FakeClock()
    limiter = RateLimiter({"op": RateLimit(burst=10, steady=10)}, clock=clock)
    async with limiter.sending("op"):
        clock.now += 30.0  # the first request's answer takes 30 s
    for _ in range(9):
        await limiter.acquire("op")
    await limiter.acquire("op")
    # Not a minute after the first was let go: a minute after it may have arrived.
    assert clock.elapsed == pytest.approx(30.0 + 60.0)


async def test_requests_on_their_way_fill_the_window_until_one_is_answered() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"op": RateLimit(burst=2, steady=100)}, clock=clock)
    order: list[str] = []
    release = asyncio.Event()

    async def slow(name: str) -> None:
        async with limiter.sending("op"):
            order.append(f"{name} sent")
            await release.wait()
        order.append(f"{name} answered")

    async def third() -> None:
        await limiter.acquire("op")
        order.append("third sent")

    first, second = asyncio.create_task(slow("first")), asyncio.create_task(slow("second"))
    waiting = asyncio.create_task(third())
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["first sent", "second sent"], "two on their way fill a burst of two"
    release.set()
    await asyncio.gather(first, second, waiting)
    assert order[-1] == "third sent"
    assert clock.elapsed == pytest.approx(1.0), "a second after the answers, not the sends"


async def test_a_request_that_fails_on_its_way_gives_its_place_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"op": RateLimit(burst=1, steady=100)}, clock=clock)
    with pytest.raises(ConnectionError):
        async with limiter.sending("op"):
            raise ConnectionError("reset by peer")
    # Counted as answered when it failed: the next waits out the second, not forever.
    await asyncio.wait_for(limiter.acquire("op"), timeout=5)
    assert clock.elapsed == pytest.approx(1.0)


async def test_no_window_holds_too_many_arrivals_however_late_requests_arrive() -> None:
    # Each request arrives anywhere between being let go and being answered, up to 3 s later:
    # three times Klaviyo's 1-second window, which a fixed margin could not have covered.
    rng = random.Random(7)
    clock = FakeClock()
    limit = RateLimit(burst=20, steady=150)
    limiter = RateLimiter({"op": limit}, clock=clock)
    arrivals: list[float] = []

    async def call() -> None:
        async with limiter.sending("op"):
            let_go = clock.now
            await clock.sleep(rng.uniform(0.0, 3.0))
            arrivals.append(rng.uniform(let_go, clock.now))

    await asyncio.gather(*(call() for _ in range(600)))

    assert len(arrivals) == 600
    assert most_in_any_window(arrivals, 1.0) <= limit.burst
    assert most_in_any_window(arrivals, 60.0) <= limit.steady


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
