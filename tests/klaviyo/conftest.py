from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from klaviyo_sync.klaviyo import KlaviyoClient, RetryPolicy, no_jitter

from .fakes import BASE_URL, FakeClock, FakeKlaviyo

KEY = "pk_TESTKEY0123456789abcdefSECRET"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeKlaviyo:
    return FakeKlaviyo(clock)


@pytest.fixture
async def client(api: FakeKlaviyo, clock: FakeClock) -> AsyncIterator[KlaviyoClient]:
    async with KlaviyoClient(
        KEY,
        base_url=BASE_URL,
        transport=api.transport,
        clock=clock,
        retry=RetryPolicy(jitter=no_jitter),
    ) as c:
        yield c
