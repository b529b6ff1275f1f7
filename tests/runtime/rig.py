"""A worker on the in-process sandbox, with a store on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from klaviyo_sandbox import Sandbox

from klaviyo_sync.engine import Engine
from klaviyo_sync.klaviyo import KlaviyoClient
from klaviyo_sync.mapping import Collections
from klaviyo_sync.runtime import Worker, WorkerOptions
from klaviyo_sync.store import Store
from tests.store.fakes import FakeClock as StoreClock
from tests.world import API_KEY, World


class Rig:
    def __init__(self, world: World, store: Store, clock: StoreClock, worker: Worker) -> None:
        self.world, self.store, self.clock, self.worker = world, store, clock, worker

    @property
    def sandbox(self) -> Sandbox:
        return self.world.sandbox

    def enqueue(self, *records: Mapping[str, Any], event: str = "customer/updated") -> None:
        self.store.enqueue([(str(r["Id"]), r, event) for r in records])


@asynccontextmanager
async def worker_rig(world: World, collections: Collections) -> AsyncIterator[Rig]:
    """A worker ``w1`` taking batches of ten, retrying up to three times, on ``world``."""
    clock = StoreClock()
    store = Store.open(world.settings.store_url, clock=clock)
    client = KlaviyoClient(
        API_KEY,
        base_url="http://sandbox",
        transport=world.connections.transport,
        clock=world.connections.clock,
    )
    engine = Engine(client, store, collections)
    options = WorkerOptions(batch_size=10, poll_seconds=0.01, lease_seconds=30, max_attempts=3)
    try:
        yield Rig(world, store, clock, Worker(engine, store, options=options, worker_id="w1"))
    finally:
        await client.aclose()
        store.close()
