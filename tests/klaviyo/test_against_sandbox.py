"""The client against the sandbox: the two halves of the foundation, working together.

In-process through ``sandbox_transport`` (every request body and response checked against the
spec) and over real loopback HTTP through ``running_sandbox``. The client and the sandbox share
one fake clock, so rate-limit windows and job progress move exactly as far as the client waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from klaviyo_sandbox import (
    Behaviour,
    FaultRule,
    Sandbox,
    SandboxConfig,
    create_app,
    running_sandbox,
    sandbox_transport,
)

from klaviyo_sync.engine._bulk import wait_for_job
from klaviyo_sync.exceptions import (
    KlaviyoAuthError,
    KlaviyoDuplicateProfileError,
    KlaviyoUnavailableError,
    KlaviyoValidationError,
)
from klaviyo_sync.klaviyo import (
    KlaviyoClient,
    RateLimiter,
    RetryPolicy,
    SubscriptionTarget,
    equals,
    no_jitter,
)
from klaviyo_sync.klaviyo.limits import LIMITS, RateLimit
from tests.world import SpecCheckingTransport

KEY = "pk_integration0secret0key0123"


class SharedClock:
    """One fake time for both sides: the client's sleeps move the sandbox's windows."""

    def __init__(self) -> None:
        self.t = 1_784_073_600.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
async def client(clock: SharedClock) -> AsyncIterator[KlaviyoClient]:
    app = create_app(SandboxConfig(api_key=KEY, clock=clock, job_processing_seconds=2.0))
    transport = SpecCheckingTransport(sandbox_transport(app))
    policy = RetryPolicy(max_attempts=5, base=0.5, cap=8.0, jitter=no_jitter)
    async with KlaviyoClient(
        KEY, base_url="http://sandbox", transport=transport, clock=clock, retry=policy
    ) as made:
        made.sandbox = app.state.sandbox  # type: ignore[attr-defined]
        yield made


def _sandbox(client: KlaviyoClient) -> Sandbox:
    box: Sandbox = client.sandbox  # type: ignore[attr-defined]
    return box


async def test_null_clears_and_absent_keeps_on_patch_and_import(client: KlaviyoClient) -> None:
    made = await client.create_profile(
        {"email": "n@example.com", "phone_number": "+14155552671", "first_name": "N"}
    )
    pid = made.id
    assert made.created
    assert made.dropped == ()
    patched = await client.update_profile(pid, {"last_name": "L"})
    assert patched.profile["attributes"]["phone_number"] == "+14155552671"
    cleared = await client.update_profile(pid, {"phone_number": None})
    assert cleared.profile["attributes"]["phone_number"] is None
    imported = await client.import_profile({"email": "n@example.com", "first_name": None})
    assert not imported.created
    assert imported.id == pid
    assert imported.profile["attributes"]["first_name"] is None
    assert imported.profile["attributes"]["last_name"] == "L"


async def test_duplicate_carries_the_existing_profile_id(client: KlaviyoClient) -> None:
    made = await client.create_profile({"email": "dup@example.com"})
    with pytest.raises(KlaviyoDuplicateProfileError) as caught:
        await client.create_profile({"email": "DUP@example.com"})
    assert caught.value.duplicate_profile_id == made.id


@pytest.mark.slow  # hundreds of profiles
async def test_filters_and_pagination_over_several_pages(client: KlaviyoClient) -> None:
    emails = [f"p{i:03}@example.com" for i in range(250)]
    for email in emails:
        await client.create_profile({"email": email})
    found = await client.find_profiles("email", emails[::-1])
    assert sorted(p["attributes"]["email"] for p in found) == emails
    everyone = [p async for p in client.iter_profiles(page_size=100)]
    assert len(everyone) == 250
    one = [p async for p in client.iter_profiles(filter=equals("email", "p007@example.com"))]
    assert [p["attributes"]["email"] for p in one] == ["p007@example.com"]


async def test_invalid_phone_is_klaviyos_validation_error(client: KlaviyoClient) -> None:
    # Klaviyo before its phone validation change refused an invalid phone beside an email.
    _sandbox(client).behaviour = Behaviour(invalid_phone="refuse")
    with pytest.raises(KlaviyoValidationError) as caught:
        await client.create_profile({"email": "v@example.com", "phone_number": "+15550100199"})
    assert caught.value.pointer == "/data/attributes/phone_number"
    assert caught.value.code == "invalid"


async def test_an_invalid_phone_alone_is_still_a_validation_error(client: KlaviyoClient) -> None:
    _sandbox(client).behaviour = Behaviour(invalid_phone="drop")
    with pytest.raises(KlaviyoValidationError) as caught:
        await client.create_profile({"phone_number": "+15550100199"})
    assert caught.value.pointer == "/data/attributes/phone_number"


async def test_a_phone_klaviyo_left_out_is_reported_on_every_write(client: KlaviyoClient) -> None:
    box = _sandbox(client)
    box.behaviour = Behaviour(invalid_phone="drop")
    bad = "+15550100199"
    made = await client.create_profile({"email": "v@example.com", "phone_number": bad})
    assert (made.created, made.dropped) == (True, ("phone_number",))
    assert made.profile["attributes"]["phone_number"] is None
    imported = await client.import_profile({"email": "w@example.com", "phone_number": bad})
    assert (imported.created, imported.dropped) == (True, ("phone_number",))
    sms = SubscriptionTarget(
        email="v@example.com", phone_number=bad, profile_id=made.id, sms_marketing=True
    )
    assert await client.subscribe_profiles([sms]) == ("phone_number",)
    assert box.profiles[made.id].phone_number is None
    clean = SubscriptionTarget(email="v@example.com", profile_id=made.id)
    assert await client.subscribe_profiles([clean]) == ()
    patched = await client.update_profile(made.id, {"first_name": "V"})
    assert patched.dropped == ()
    with pytest.raises(KlaviyoValidationError):  # Klaviyo's PATCH still refuses it
        await client.update_profile(made.id, {"phone_number": bad})


async def test_bulk_job_runs_to_complete_with_an_import_error(
    client: KlaviyoClient, clock: SharedClock
) -> None:
    # A row that passes the checks at submit and fails when imported: its profile id is
    # unknown. (An invalid phone would refuse the whole job at submit, as Klaviyo does today.)
    unknown = {
        "type": "profile",
        "id": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
        "attributes": {"email": "b2@example.com", "external_id": "c2"},
    }
    rows = [
        {"email": "b1@example.com", "external_id": "c1"},
        unknown,
        {"email": "b3@example.com", "external_id": "c3"},
    ]
    job = await client.create_bulk_import_job(rows)
    assert job["attributes"]["status"] == "queued"
    done = await wait_for_job(client, job["id"])
    assert done["attributes"]["status"] == "complete"
    assert (done["attributes"]["completed_count"], done["attributes"]["failed_count"]) == (2, 1)
    assert clock.sleeps, "the job took (fake) time"
    errors = [e async for e in client.iter_bulk_import_errors(job["id"])]
    assert len(errors) == 1
    assert "c2" in str(errors[0]["attributes"])
    imported = [p async for p in client.iter_bulk_import_profiles(job["id"])]
    assert sorted(p["attributes"]["external_id"] for p in imported) == ["c1", "c3"]


async def test_double_and_single_opt_in(client: KlaviyoClient) -> None:
    box = _sandbox(client)
    double = await client.create_list("Sms Subscribers", opt_in_process="double_opt_in")
    single = await client.create_list("Preview List", opt_in_process="single_opt_in")
    profile = await client.create_profile({"email": "o@example.com"})
    target = SubscriptionTarget(email="o@example.com", profile_id=profile.id)

    await client.subscribe_profiles([target], list_id=single["id"])
    assert [i async for i in client.iter_list_profile_ids(single["id"])] == [profile.id]
    assert box.emails == []

    await client.subscribe_profiles([target], list_id=double["id"])
    assert [i async for i in client.iter_list_profile_ids(double["id"])] == []
    [email] = box.emails
    assert (email.to, email.list_id) == ("o@example.com", double["id"])
    box.confirm(double["id"], profile_id=profile.id)
    assert [i async for i in client.iter_list_profile_ids(double["id"])] == [profile.id]

    fetched = await client.get_profile(profile.id, additional_fields=["subscriptions"])
    marketing = fetched["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    await client.unsubscribe_profiles([target])
    fetched = await client.get_profile(profile.id, additional_fields=["subscriptions"])
    assert fetched["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == (
        "UNSUBSCRIBED"
    )


async def test_429_is_honoured_and_the_retry_succeeds(clock: SharedClock) -> None:
    app = create_app(SandboxConfig(api_key=KEY, clock=clock))
    limiter = RateLimiter(
        {op: RateLimit(burst=lim.burst * 2, steady=lim.steady * 2) for op, lim in LIMITS.items()},
        clock=clock,
    )
    async with KlaviyoClient(
        KEY,
        base_url="http://sandbox",
        transport=SpecCheckingTransport(sandbox_transport(app)),
        clock=clock,
        limiter=limiter,
        retry=RetryPolicy(max_attempts=5, base=0.1, cap=2.0, jitter=no_jitter),
    ) as client:
        results = await asyncio.gather(
            *(client.create_profile({"email": f"r{i}@example.com"}) for i in range(100))
        )
    assert len({r.id for r in results}) == 100
    throttled = [r for r in app.state.sandbox.requests if r.status == 429]
    assert throttled, "the sandbox's 75/s burst limit was reached"
    assert max(clock.sleeps) >= 1.0, "Retry-After (whole seconds) was honoured"


async def test_a_503_storm_is_survived(client: KlaviyoClient, clock: SharedClock) -> None:
    _sandbox(client).set_faults([FaultRule(operation="get_lists", status=503, times=4)])
    lists = [item async for item in client.iter_lists()]
    assert lists == []
    statuses = [r.status for r in _sandbox(client).requests]
    assert statuses == [503, 503, 503, 503, 200]
    assert len(clock.sleeps) == 4


async def test_an_outage_past_the_retry_budget_is_retryable_unavailable(
    client: KlaviyoClient,
) -> None:
    _sandbox(client).set_faults([FaultRule(operation="create_profile", status=500)])
    with pytest.raises(KlaviyoUnavailableError) as caught:
        await client.create_profile({"email": "down@example.com"})
    assert caught.value.status == 500
    assert len(_sandbox(client).requests) == 5


async def test_a_dropped_connection_is_retried_in_process(client: KlaviyoClient) -> None:
    _sandbox(client).set_faults([FaultRule(operation="get_profiles", drop=True, times=1)])
    assert [p async for p in client.iter_profiles()] == []
    assert [r.dropped for r in _sandbox(client).requests] == [True, False]


async def test_over_loopback_a_dropped_connection_and_a_503_are_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = [
        FaultRule(operation="create_profile", drop=True, times=1),
        FaultRule(operation="get_profile", status=503, times=2),
    ]
    with running_sandbox(SandboxConfig(api_key=KEY, faults=faults)) as running:
        policy = RetryPolicy(max_attempts=4, base=0.01, cap=0.05, jitter=no_jitter)
        async with KlaviyoClient(KEY, base_url=running.base_url, retry=policy) as client:
            made = await client.create_profile({"email": "loop@example.com"})
            fetched = await client.get_profile(made.id)
        assert fetched["attributes"]["email"] == "loop@example.com"
        log = [(r.operation_id, r.status, r.dropped) for r in running.sandbox.requests]
    assert log[0][0] == "create_profile"
    assert log[0][2] is True
    assert [entry[1] for entry in log if entry[0] == "get_profile"] == [503, 503, 200]
    assert KEY not in caplog.text


async def test_the_key_never_leaks_from_an_auth_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "pk_wrongkey0but0shaped0right"
    with running_sandbox(SandboxConfig(api_key=KEY)) as running:
        async with KlaviyoClient(wrong, base_url=running.base_url) as client:
            with pytest.raises(KlaviyoAuthError) as caught:
                await client.get_profile("x")
            assert wrong not in repr(client)
        recorded = str([r.to_json() for r in running.sandbox.requests])
    assert caught.value.status == 401
    for text in (str(caught.value), repr(caught.value), caplog.text, recorded):
        assert wrong not in text
        assert KEY not in text
