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
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn

from ..config import Settings, load_settings
from ..exceptions import ConfigError
from ..operations import Connections, open_engine
from ..sources import redact_url
from .worker import Worker, WorkerOptions

__all__ = [
    "run_worker",
    "run_workers",
    "serve",
    "serve_banner",
    "shown_store",
    "worker_banner",
    "worker_options",
]

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


# Query parameters a database URL may carry a secret in (libpq takes ?password=…).
_SECRET_PARAMETERS = ("password", "passwd", "pwd", "secret", "token")


def shown_store(url: str) -> str:
    """The store's URL as it may be printed: its password, and any query parameter that looks
    like one, as ``***``."""
    try:
        shown = redact_url(url)
    except ConfigError:
        return "(a URL that could not be read)"
    base, mark, query = shown.partition("?")
    if not mark:
        return shown
    pairs = [
        (key, "***" if any(word in key.lower() for word in _SECRET_PARAMETERS) else value)
        for key, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{base}?{urlencode(pairs, safe='*/:')}"


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# Listening on every address: the dashboard is opened through one of them; loopback always works.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def serve_banner(settings: Settings, *, host: str, port: int, worker: bool) -> str:
    """The one line ``serve`` prints before it serves: where, what is on, which store. Never a
    secret: the store's password is masked, the key, webhook secret and token are not shown."""
    listening = _address(host, port)
    if host in _WILDCARDS:
        listening += " (every address)"
    if settings.dashboard_token is None or not settings.dashboard_token.get_secret_value():
        dashboard = "dashboard closed (KLAVIYO_SYNC_DASHBOARD_TOKEN is not set)"
    else:
        dashboard = f"dashboard {_address(_WILDCARDS.get(host, host), port)}/"
    enabled = ", ".join(sorted(settings.triggers))
    secret = settings.webhook_secret is not None and bool(
        settings.webhook_secret.get_secret_value()
    )
    if enabled:
        triggers = f"triggers {enabled}"
    else:
        triggers = "triggers none" + (": events are recorded and ignored" if secret else "")
    if not secret:
        triggers += "; webhooks refused (KLAVIYO_SYNC_WEBHOOK_SECRET is not set)"
    if not worker:
        in_process = "in-process worker off (--no-worker: separate workers send)"
    elif settings.klaviyo_api_key is None or not settings.klaviyo_api_key.get_secret_value():
        in_process = "in-process worker off (KLAVIYO_API_KEY is not set: events wait in the queue)"
    else:
        in_process = "in-process worker on"
    parts = [f"listening on {listening}", dashboard, triggers, in_process]
    return f"klaviyo-sync serve: {'; '.join(parts)}; store {shown_store(settings.store_url)}"


def worker_banner(settings: Settings, *, processes: int) -> str:
    """The one line ``worker`` prints before its workers start."""
    count = max(processes, 1)
    workers = f"{count} worker process{'es' if count > 1 else ''}"
    return (
        f"klaviyo-sync worker: {workers} draining the queue (polling every "
        f"{settings.poll_seconds:g} s); store {shown_store(settings.store_url)}"
    )


def _announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _log_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Alembic narrates every store opening at INFO; a worker opens one per process.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_workers(settings: Settings, *, processes: int = 1, config: Path | None = None) -> None:
    """Run workers until SIGINT or SIGTERM; with ``processes`` > 1, one process each."""
    _log_setup()
    _announce(worker_banner(settings, processes=processes))
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
    from ..store import Store
    from ..web import create_app

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
    _announce(serve_banner(settings, host=host, port=port, worker=worker))
    uvicorn.run(app, host=host, port=port, log_level="info")
