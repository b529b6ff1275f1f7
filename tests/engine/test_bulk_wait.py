"""Polling a bulk import job until it is done: on the client's clock, with the engine's delays,
within a deadline, and past polls that failed (issue 16, point 2: the engine's polling is the
only one; these were the client's ``wait_for_bulk_import_job`` tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from klaviyo_sync.engine._bulk import wait_for_job
from klaviyo_sync.engine._jobs import poll_delays
from klaviyo_sync.exceptions import KlaviyoTimeoutError, KlaviyoUnavailableError
from klaviyo_sync.klaviyo import KlaviyoClient, RetryPolicy, no_jitter
from tests.klaviyo.conftest import KEY
from tests.klaviyo.fakes import BASE_URL, Canned, FakeClock, FakeKlaviyo, error, job, ok

JOBS = "/api/profile-bulk-import-jobs"
JOB = rf"{JOBS}/[^/]+"
# One try a poll: a failed poll is one 503 (the client's own retries are its tests' business).
ONE_TRY = RetryPolicy(max_attempts=1, patient_attempts=1, jitter=no_jitter)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeKlaviyo:
    return FakeKlaviyo(clock)


@pytest.fixture
async def client(api: FakeKlaviyo, clock: FakeClock) -> AsyncIterator[KlaviyoClient]:
    async with KlaviyoClient(
        KEY, base_url=BASE_URL, transport=api.transport, clock=clock, retry=ONE_TRY
    ) as c:
        yield c


def every(seconds: float) -> Iterator[float]:
    while True:
        yield seconds


def status(name: str) -> Canned:
    return ok(job("J1", name, total=3, failed=1 if name == "complete" else 0), f"{JOBS}/J1")


UNAVAILABLE = error(503, "service_unavailable")


async def test_polls_on_the_clock_with_backing_off_delays_until_complete(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    api.on("GET", JOB, *[status(s) for s in ("queued", "processing", "processing", "complete")])

    done = await wait_for_job(client, "J1")

    assert done["attributes"]["status"] == "complete"
    assert done["attributes"]["failed_count"] == 1
    delays = poll_delays()
    assert clock.sleeps == [next(delays) for _ in range(4)], "a wait before each poll"
    assert [c.path for c in api.calls] == [f"{JOBS}/J1"] * 4


async def test_a_cancelled_job_ends_the_wait(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    api.on("GET", JOB, status("cancelled"))
    assert (await wait_for_job(client, "J1"))["attributes"]["status"] == "cancelled"
    assert len(api.calls) == 1


async def test_gives_up_past_the_timeout(
    api: FakeKlaviyo, client: KlaviyoClient, clock: FakeClock
) -> None:
    api.on("GET", JOB, status("processing"))
    with pytest.raises(KlaviyoTimeoutError, match="J1 not finished after 5s") as raised:
        await wait_for_job(client, "J1", poll=lambda: every(2.0), timeout=5.0)
    assert clock.sleeps == [2.0, 2.0, 2.0], "the poll that crossed the deadline was the last"
    assert len(api.calls) == 3
    assert raised.value.path == f"{JOBS}/J1"


async def test_failed_polls_are_polled_again_and_a_success_starts_the_count_afresh(
    api: FakeKlaviyo, client: KlaviyoClient, caplog: pytest.LogCaptureFixture
) -> None:
    api.on(
        "GET",
        JOB,
        UNAVAILABLE,
        UNAVAILABLE,
        status("processing"),
        UNAVAILABLE,
        UNAVAILABLE,
        status("complete"),
    )
    done = await wait_for_job(client, "J1", poll=lambda: every(1.0))
    assert done["attributes"]["status"] == "complete"
    assert len(api.calls) == 6
    assert caplog.text.count("a poll failed, polling again") == 4


async def test_only_three_failed_polls_in_a_row_give_the_job_up(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    api.on("GET", JOB, status("processing"), UNAVAILABLE)
    with pytest.raises(KlaviyoUnavailableError):
        await wait_for_job(client, "J1", poll=lambda: every(1.0))
    assert len(api.calls) == 1 + 3


async def test_a_poll_is_as_patient_as_the_job_is_large(api: FakeKlaviyo, clock: FakeClock) -> None:
    api.on("GET", JOB, UNAVAILABLE)
    policy = RetryPolicy(jitter=no_jitter)
    async with KlaviyoClient(
        KEY, base_url=BASE_URL, transport=api.transport, clock=clock, retry=policy
    ) as client:
        with pytest.raises(KlaviyoUnavailableError):
            await wait_for_job(client, "J1", carrying=50, poll=lambda: every(1.0))
    assert len(api.calls) == 3 * policy.attempts(50)
