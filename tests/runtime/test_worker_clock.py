"""The worker waits and times its scans for due retries on its ``Clock`` (issue 16, point 5):
on the tests' fake clock, a day of polling takes no real time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from klaviyo_sync.mapping import default_collections
from klaviyo_sync.runtime import Worker, WorkerOptions
from tests.klaviyo.fakes import FakeClock
from tests.runtime.rig import Rig, worker_rig
from tests.world import World


@pytest.fixture
async def rig(world: World) -> AsyncIterator[Rig]:
    async with worker_rig(world, default_collections()) as made:
        yield made


async def test_an_idle_worker_polls_and_scans_for_retries_on_its_clock(rig: Rig) -> None:
    clock = FakeClock()
    options = WorkerOptions(poll_seconds=1.0, retry_scan_seconds=10.0)
    worker = Worker(rig.worker._engine, rig.store, options=options, clock=clock)
    stop = asyncio.Event()
    scans: list[float] = []

    async def scan() -> int:
        scans.append(clock.elapsed)
        if len(scans) == 3:
            stop.set()
        return 0

    worker.requeue_due_retries = scan  # type: ignore[method-assign]
    await asyncio.wait_for(worker.run(stop), 30)

    assert scans == [0.0, 10.0, 20.0], "a scan each retry_scan_seconds on the clock"
    assert clock.sleeps[:20] == [1.0] * 20, "a poll_seconds wait between empty claims"
    assert set(clock.sleeps) == {1.0}
