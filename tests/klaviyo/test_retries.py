"""The send loop: retries on fake time, failing fast, and what gets logged."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import httpx
import pytest

from klaviyo_sync.exceptions import (
    KlaviyoAPIError,
    KlaviyoAuthError,
    KlaviyoConflictError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoRateLimitedError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
    KlaviyoUnexpectedError,
    KlaviyoValidationError,
)
from klaviyo_sync.klaviyo import KlaviyoClient, RateLimiter, RetryPolicy, SubscriptionTarget

from .fakes import BASE_URL, Canned, FakeClock, FakeKlaviyo, error, ok, profile, throttled
from .test_ratelimit import most_in_any_window

PROFILE = r"/api/profiles/[^/]+"
OK = ok(profile("01A"), "/api/profiles/01A")


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "klaviyo_sync.klaviyo" and r.getMessage().startswith("retrying")
    ]


async def test_429_waits_retry_after_then_succeeds(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="klaviyo_sync.klaviyo")
    api.on("GET", PROFILE, throttled(3), OK)

    assert (await client.get_profile("01A"))["id"] == "01A"

    assert len(api.calls) == 2
    assert clock.sleeps == [3.0]
    assert api.calls[1].at - api.calls[0].at >= 3.0
    assert retry_lines(caplog) == ["retrying get_profile after 429: attempt 1 of 5, waiting 3.00s"]


async def test_retry_after_is_honoured_whatever_the_jitter(
    api: FakeKlaviyo, clock: FakeClock
) -> None:
    api.on("GET", PROFILE, throttled(2), OK)
    policy = RetryPolicy(base=0.1, jitter=lambda d: 0.0)
    async with KlaviyoClient("pk_x", transport=api.transport, clock=clock, retry=policy) as c:
        await c.get_profile("01A")
    assert clock.sleeps == [2.0]


async def test_429_holds_every_caller_of_the_operation(api: FakeKlaviyo, clock: FakeClock) -> None:
    api.on("GET", PROFILE, throttled(4), OK)
    api.on("GET", "/api/profiles", ok([], "/api/profiles"))
    once = RetryPolicy(max_attempts=1)
    async with KlaviyoClient("pk_x", transport=api.transport, clock=clock, retry=once) as c:
        with pytest.raises(KlaviyoRateLimitedError):
            await c.get_profile("01A")
        assert [p async for p in c.iter_profiles()] == []  # another operation: not held
        assert clock.elapsed == 0.0
        await c.get_profile("01B")  # same operation: waits out Klaviyo's Retry-After
    assert clock.elapsed == 4.0
    assert api.calls[-1].at - api.calls[0].at == 4.0


async def test_503_storm_is_survived(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="klaviyo_sync.klaviyo")
    storm = error(503, "service_unavailable")
    api.on("PATCH", PROFILE, storm, storm, storm, storm, OK)

    await client.update_profile("01A", {"first_name": "Ann"})

    assert len(api.calls) == 5
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    lines = retry_lines(caplog)
    assert len(lines) == 4
    assert lines[-1] == "retrying update_profile after 503: attempt 4 of 5, waiting 4.00s"
    assert all(c.body == api.calls[0].body for c in api.calls)


async def test_exhaustion_raises_the_last_error(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    api.on("GET", PROFILE, error(500, "error"), error(502, "bad_gateway"), error(503, "down"))
    with pytest.raises(KlaviyoUnavailableError) as caught:
        await client.get_profile("01A")
    assert len(api.calls) == 5
    assert caught.value.status == 503
    assert len(clock.sleeps) == 4


async def test_exhausted_429_raises_rate_limited(api: FakeKlaviyo, clock: FakeClock) -> None:
    api.on("GET", PROFILE, throttled(1))
    policy = RetryPolicy(max_attempts=3)
    async with KlaviyoClient("pk_x", transport=api.transport, clock=clock, retry=policy) as c:
        with pytest.raises(KlaviyoRateLimitedError) as caught:
            await c.get_profile("01A")
    assert caught.value.retry_after == 1.0
    assert len(api.calls) == 3


async def test_retry_after_beyond_the_policy_is_raised_at_once(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    api.on("POST", "/api/lists", throttled(3_600))
    with pytest.raises(KlaviyoRateLimitedError):
        await client.create_list("News")
    assert len(api.calls) == 1
    with pytest.raises(KlaviyoRateLimitedError):  # the next caller is told at once, not held
        await client.create_list("News")
    assert len(api.calls) == 2
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "dropped",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("Connection reset by peer"),
        httpx.WriteError("Broken pipe"),
    ],
)
async def test_dropped_connection_is_retried(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock, dropped: httpx.TransportError
) -> None:
    api.on("POST", "/api/profiles", dropped, ok(profile("01A"), "/api/profiles", 201))
    created = await client.create_profile({"email": "a@x.com"})
    assert created.id == "01A"
    assert len(api.calls) == 2
    assert clock.sleeps == [0.5]


async def test_connection_that_never_comes_back(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", PROFILE, httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(KlaviyoUnavailableError, match="could not reach Klaviyo") as caught:
        await client.get_profile("01A")
    assert len(api.calls) == 5
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


async def test_timeouts_are_retried_then_raised(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", PROFILE, httpx.ReadTimeout("timed out"), OK)
    assert (await client.get_profile("01A"))["id"] == "01A"

    api.on("GET", r"/api/lists/[^/]+", httpx.ConnectTimeout("timed out"))
    with pytest.raises(KlaviyoTimeoutError, match="GET /api/lists/L1 timed out"):
        await client.get_list("L1")
    assert len(api.calls_to("GET", r"/api/lists/.*")) == 5


@pytest.mark.parametrize(
    ("canned", "expected"),
    [
        (error(400, "invalid", pointer="/data/attributes/email"), KlaviyoValidationError),
        (error(401, "not_authenticated"), KlaviyoAuthError),
        (error(403, "permission_denied"), KlaviyoAuthError),
        (error(404, "not_found"), KlaviyoNotFoundError),
        (
            error(409, "duplicate_profile", meta={"duplicate_profile_id": "X"}),
            KlaviyoDuplicateProfileError,
        ),
        (error(409, "conflict"), KlaviyoConflictError),
        (error(405, "method_not_allowed"), KlaviyoUnexpectedError),
    ],
)
async def test_non_retryable_errors_fail_at_once(
    api: FakeKlaviyo,
    client: KlaviyoClient,
    clock: FakeClock,
    canned: Canned,
    expected: type[KlaviyoAPIError],
) -> None:
    api.on("PATCH", PROFILE, canned, OK)
    with pytest.raises(expected):
        await client.update_profile("01A", {"email": "a@x.com"})
    assert len(api.calls) == 1
    assert clock.sleeps == []


async def test_success_without_json_is_unexpected(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", PROFILE, Canned(200, raw=b"<html>captive portal</html>"))
    with pytest.raises(KlaviyoUnexpectedError, match="not JSON"):
        await client.get_profile("01A")
    assert len(api.calls) == 1


async def test_success_without_data_is_unexpected(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", "/api/profiles", Canned(200, raw=b'{"links": {}}'))
    with pytest.raises(KlaviyoUnexpectedError, match="without a data list"):
        [p async for p in client.iter_profiles()]


async def test_a_cursor_loop_is_cut(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", "/api/profiles", ok([profile("P1")], "/api/profiles", next_cursor="same"))
    with pytest.raises(KlaviyoUnexpectedError, match="repeats cursor"):
        [p async for p in client.iter_profiles()]
    assert len(api.calls) == 2


async def test_ratelimit_headers_slow_the_next_call(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    spent = ok(profile("01A"), "/api/profiles/01A")
    spent.headers = {"RateLimit-Limit": "75", "RateLimit-Remaining": "0", "RateLimit-Reset": "9"}
    api.on("GET", PROFILE, spent, OK)
    await client.get_profile("01A")
    await client.get_profile("01A")
    assert api.calls[1].at - api.calls[0].at == 9.0


async def test_client_spreads_concurrent_calls_within_the_limit(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    api.on("GET", PROFILE, OK)
    await asyncio.gather(*(client.get_profile(f"P{i}") for i in range(200)))

    times = [c.at for c in api.calls]
    assert len(times) == 200
    assert most_in_any_window(times, 1.0) <= 75
    assert clock.elapsed >= 2.0


async def test_clients_can_share_a_limiter(api: FakeKlaviyo, clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    api.on("POST", r"/api/lists/[^/]+/relationships/profiles", Canned(204))

    def make() -> KlaviyoClient:
        return KlaviyoClient(
            "pk_a", base_url=BASE_URL, transport=api.transport, clock=clock, limiter=limiter
        )

    async with make() as one, make() as two:
        for _ in range(10):
            await one.add_profiles_to_list("L1", ["P1"])
        await two.add_profiles_to_list("L1", ["P1"])
    assert clock.elapsed == pytest.approx(1.0)


async def test_a_lookup_of_many_values_is_tried_longer_than_one_of_few(
    api: FakeKlaviyo, client: KlaviyoClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="klaviyo_sync.klaviyo")
    api.on("GET", "/api/profiles", error(503, "service_unavailable"))

    for count, tries in ((9, 5), (100, 8)):
        api.calls.clear()
        with pytest.raises(KlaviyoUnavailableError):
            await client.find_profiles("email", [f"c{i}@example.com" for i in range(count)])
        assert len(api.calls) == tries
    assert retry_lines(caplog)[-1].startswith("retrying get_profiles after 503: attempt 7 of 8")


async def test_batched_writes_are_as_patient_as_the_customers_they_carry(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    api.on("POST", "/api/profile-subscription-bulk-create-jobs", error(503, "down"))
    api.on("POST", "/api/lists/L1/relationships/profiles", error(503, "down"))
    targets = [SubscriptionTarget(email=f"c{i}@example.com") for i in range(10)]

    with pytest.raises(KlaviyoUnavailableError):
        await client.subscribe_profiles(targets)
    with pytest.raises(KlaviyoUnavailableError):
        await client.add_profiles_to_list("L1", ["01A"])
    with pytest.raises(KlaviyoUnavailableError):
        await client.add_profiles_to_list("L1", [f"01A{i}" for i in range(10)])
    counts = Counter(c.path for c in api.calls)
    assert counts["/api/profile-subscription-bulk-create-jobs"] == 8
    assert counts["/api/lists/L1/relationships/profiles"] == 5 + 8
