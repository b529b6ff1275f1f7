"""The worker against the in-process sandbox and a store on a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from klaviyo_sandbox import FaultRule

from klaviyo_sync.exceptions import KlaviyoAuthError
from klaviyo_sync.mapping import default_collections
from klaviyo_sync.operations import sync_source
from klaviyo_sync.runtime import Worker, WorkerOptions
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import retry_delay
from tests.acceptance.customers import ada
from tests.runtime.rig import Rig, worker_rig
from tests.world import World


@pytest.fixture
async def rig(world: World) -> AsyncIterator[Rig]:
    async with worker_rig(world, default_collections()) as made:
        yield made


async def test_run_once_transfers_the_queue(rig: Rig) -> None:
    rig.enqueue(ada(), ada(Id="2", EmailAddress="b@example.com", Phone=None))
    assert await rig.worker.run_once() == 2
    assert rig.store.queue_depth() == 0
    assert len(rig.sandbox.profiles) == 2
    [run] = rig.store.list_runs()
    assert (run.kind, run.counts) == ("trigger", {"created": 2})
    assert await rig.worker.run_once() == 0


async def test_a_burst_of_updates_is_one_transfer_of_the_latest_state(rig: Rig) -> None:
    for n in range(5):
        rig.enqueue(ada(LastName=f"Version {n}"))
    assert await rig.worker.run_once() == 1
    [profile] = rig.sandbox.profiles.values()
    assert profile.last_name == "Version 4"
    assert len([r for r in rig.sandbox.requests if r.operation_id == "create_profile"]) == 1


async def test_a_retryable_failure_waits_then_succeeds(rig: Rig) -> None:
    rig.sandbox.set_faults([FaultRule(operation="create_profile", status=503)])
    rig.enqueue(ada())
    assert await rig.worker.run_once() == 1
    assert rig.store.queue_depth() == 1, "released, not dropped"
    assert await rig.worker.run_once() == 0, "not before its delay"
    [failure] = rig.store.list_failures()
    assert (failure.kind, failure.retryable) == ("klaviyo_unavailable", True)

    rig.sandbox.set_faults([])
    rig.clock.advance(retry_delay(1))
    assert await rig.worker.run_once() == 1
    assert rig.store.queue_depth() == 0
    assert len(rig.sandbox.profiles) == 1
    assert rig.store.count_failures() == 0, "the success resolved it"


async def test_after_max_attempts_the_failure_is_parked(rig: Rig) -> None:
    rig.sandbox.set_faults([FaultRule(operation="create_profile", status=503)])
    rig.enqueue(ada())
    for attempt in range(1, 4):
        assert await rig.worker.run_once() == 1
        rig.clock.advance(retry_delay(attempt))
    assert rig.store.queue_depth() == 0, "given up on: acknowledged"
    [parked] = rig.store.parked(max_attempts=3)
    assert parked.attempts == 3
    assert parked.customer_id == "55260"


async def test_a_failure_retrying_cannot_fix_is_acknowledged_and_logged(rig: Rig) -> None:
    rig.enqueue(ada(Phone="(555) 010-0199"))
    assert await rig.worker.run_once() == 1
    assert rig.store.queue_depth() == 0
    [failure] = rig.store.list_failures()
    assert (failure.kind, failure.retryable) == ("phone_rejected", False)


async def test_a_phone_klaviyo_left_out_stays_logged_until_an_event_corrects_it(rig: Rig) -> None:
    # Today's Klaviyo makes the profile without the invalid phone (X-Klaviyo-Partial-Failure).
    rig.enqueue(ada(Phone="(555) 010-0199"))
    assert await rig.worker.run_once() == 1
    [profile] = rig.sandbox.profiles.values()
    assert (profile.email, profile.phone_number) == ("ada@example.com", None)
    [logged] = rig.store.list_failures()
    assert (logged.kind, logged.retryable, logged.next_retry_at) == ("phone_rejected", False, None)

    writes = len([r for r in rig.sandbox.requests if r.method != "GET"])
    rig.enqueue(ada(Phone="(555) 010-0199"))
    assert await rig.worker.run_once() == 1
    assert len([r for r in rig.sandbox.requests if r.method != "GET"]) == writes
    [still] = rig.store.list_failures()
    assert (still.id, still.attempts) == (logged.id, 2)

    rig.enqueue(ada(Phone="(415) 555-2671"))
    assert await rig.worker.run_once() == 1
    assert rig.sandbox.profiles[profile.id].phone_number == "+14155552671"
    assert rig.store.count_failures() == 0, "the corrected phone resolved it"


async def test_a_refused_key_puts_the_batch_back(rig: Rig) -> None:
    rig.sandbox.config.api_key = "pk_anotherkey"
    rig.enqueue(ada())
    with pytest.raises(KlaviyoAuthError):
        await rig.worker.run_once()
    assert rig.store.queue_depth() == 1
    assert rig.sandbox.profiles == {}


async def test_failures_from_a_file_run_are_requeued_when_due(rig: Rig, world: World) -> None:
    world.sandbox.set_faults([FaultRule(operation="create_profile", status=503)])
    await sync_source(world.settings, RecordsSource([ada()]), connections=world.connections)
    world.sandbox.set_faults([])
    # The file run's store stamps failures with real time; ours runs later than that.
    rig.clock.now = rig.store.list_failures()[0].next_retry_at or rig.clock.now
    assert await rig.worker.requeue_due_retries() == 1
    assert await rig.worker.run_once() == 1
    assert len(world.sandbox.profiles) == 1
    assert rig.store.count_failures() == 0


async def test_wake_transfers_at_once_instead_of_at_the_next_poll(rig: Rig) -> None:
    slow = Worker(
        rig.worker._engine,  # the same engine, polling only every minute
        rig.store,
        options=WorkerOptions(poll_seconds=60, retry_scan_seconds=3600),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(slow.run(stop))
    await asyncio.sleep(0.05)
    rig.enqueue(ada())
    slow.wake()
    for _ in range(100):
        if rig.store.queue_depth() == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(rig.sandbox.profiles) == 1
    [beat] = rig.store.list_workers()
    assert (beat.state, beat.processed) == ("stopped", 1)
