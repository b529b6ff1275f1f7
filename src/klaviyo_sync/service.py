"""Long-running processes: ``serve`` (webhook receiver plus an in-process worker) and ``worker``.

``serve`` is the one-machine setup: events arrive over HTTP, wait in the store's queue, and a
worker in the same process transfers them, woken the moment one is queued. ``worker`` runs
workers without the receiver, as separate processes, on as many machines as share a PostgreSQL
store; the queue hands each customer to one of them at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn

from .config import Settings, load_settings
from .sync import Connections, open_engine
from .worker import Worker, WorkerOptions

__all__ = ["run_worker", "run_workers", "serve", "worker_options"]

log = logging.getLogger("klaviyo_sync.service")


def worker_options(settings: Settings) -> WorkerOptions:
    return WorkerOptions(
        batch_size=settings.batch_size,
        poll_seconds=settings.poll_seconds,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
    )


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    *,
    connections: Connections | None = None,
    on_start: Callable[[Worker], None] | None = None,
) -> Worker:
    """One worker over its own engine (store and Klaviyo client) until ``stop`` is set."""
    async with open_engine(settings, connections=connections) as engine:
        worker = Worker(engine, engine.store, options=worker_options(settings))
        if on_start is not None:
            on_start(worker)
        log.info("worker %s started", worker.worker_id)
        await worker.run(stop)
        log.info("worker %s stopped after %d customers", worker.worker_id, worker.processed)
        return worker


def _log_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Alembic narrates every store opening at INFO; a worker opens one per process.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_workers(settings: Settings, *, processes: int = 1, config: Path | None = None) -> None:
    """Run workers until SIGINT or SIGTERM; with ``processes`` > 1, one process each."""
    _log_setup()
    if processes <= 1:
        asyncio.run(_until_signalled(settings))
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(config,), name=f"klaviyo-sync-worker-{n}")
        for n in range(processes)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()


def _child(config: Path | None) -> None:
    # A spawned process starts from scratch: settings are read again, as the parent did.
    _log_setup()
    asyncio.run(_until_signalled(load_settings(config)))


async def _until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop)


def serve(settings: Settings, *, host: str, port: int, worker: bool = True) -> None:
    """The receiver, the dashboard and its /api/, with an in-process worker."""
    from .store import Store
    from .web import create_app

    store = Store.open(settings.store_url)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if worker and settings.klaviyo_api_key is not None:
            stop = asyncio.Event()
            state["stop"] = stop
            state["task"] = asyncio.create_task(
                run_worker(settings, stop, on_start=lambda w: state.__setitem__("worker", w))
            )
        elif worker:
            log.warning("KLAVIYO_API_KEY is not set: events are queued but not transferred")
        try:
            yield
        finally:
            if "task" in state:
                state["stop"].set()
                await state["task"]
            store.close()

    def wake() -> None:
        live: Worker | None = state.get("worker")
        if live is not None:
            live.wake()

    app = create_app(settings, store, on_enqueued=wake, lifespan=lifespan)
    uvicorn.run(app, host=host, port=port, log_level="info")
