"""The library calls behind the command line: sync a source, sync one customer, check.

Each opens what it needs from ``Settings`` (the store, the Klaviyo client, the collections),
does one thing, and closes everything again. ``transport`` lets tests and the demo point the
client at an in-process sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from .config import Settings
from .engine import Engine, EngineOptions, RunSummary
from .exceptions import CustomerNotFoundError
from .klaviyo import Clock, KlaviyoClient
from .mapping import CheckMessage, PhoneSettings, check_collections, load_collections
from .outcome import Outcome
from .sources import Source
from .store import Store

__all__ = ["Connections", "check_configuration", "open_engine", "sync_one", "sync_source"]


@dataclass(slots=True, frozen=True)
class Connections:
    """How to reach Klaviyo: by default over the network from ``Settings``; tests inject."""

    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock | None = None


def phone_settings(settings: Settings) -> PhoneSettings:
    return PhoneSettings(region=settings.phone_region, strict=settings.phone_strict)


@asynccontextmanager
async def open_engine(
    settings: Settings, *, full: bool = False, connections: Connections | None = None
) -> AsyncIterator[Engine]:
    """An engine over the configured store, Klaviyo account and collections."""
    connections = connections or Connections()
    collections = load_collections(settings.mapping_path)
    client = KlaviyoClient.from_settings(
        settings, transport=connections.transport, clock=connections.clock
    )
    try:
        store = Store.open(settings.store_url)
    except BaseException:
        await client.aclose()
        raise
    options = EngineOptions(
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        subscribe_sms=settings.subscribe_sms,
        full=full,
    )
    try:
        yield Engine(client, store, collections, phone=phone_settings(settings), options=options)
    finally:
        await client.aclose()
        store.close()


async def sync_source(
    settings: Settings,
    source: Source,
    *,
    full: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    connections: Connections | None = None,
) -> RunSummary:
    """Sync every customer of ``source``; each one's outcome goes to ``on_outcome``."""
    async with open_engine(settings, full=full, connections=connections) as engine:
        return await engine.run(source, kind="sync", source=source.name, on_outcome=on_outcome)


async def sync_one(
    settings: Settings,
    customer_id: str,
    source: Source,
    *,
    connections: Connections | None = None,
) -> Outcome:
    """The seed's Manual Sync: fetch one customer by id from ``source`` and transfer it now.

    A manual sync always sends, even when nothing changed since the last transfer: the person
    asking wants Klaviyo brought in line now.
    """
    customer = source.get(customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id, source.name)
    outcomes: list[Outcome] = []
    async with open_engine(settings, full=True, connections=connections) as engine:
        await engine.run(
            [customer], kind="sync-one", source=source.name, on_outcome=outcomes.append
        )
    return outcomes[0]


async def check_configuration(
    settings: Settings, *, offline: bool = False, connections: Connections | None = None
) -> list[CheckMessage]:
    """Check the collections; unless ``offline``, also against Klaviyo's lists."""
    collections = load_collections(settings.mapping_path)
    lists: dict[str, str] | None = None
    if not offline:
        connections = connections or Connections()
        async with KlaviyoClient.from_settings(
            settings, transport=connections.transport, clock=connections.clock
        ) as client:
            lists = {}
            async for item in client.iter_lists():
                attrs = item.get("attributes", {})
                lists.setdefault(str(attrs.get("name")), str(attrs.get("opt_in_process")))
    return check_collections(collections, phone=phone_settings(settings), lists=lists)
