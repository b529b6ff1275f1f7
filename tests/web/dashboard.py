"""A dashboard to test against: the app over an in-process sandbox (``tests.world``), a real
store (SQLite, or PostgreSQL with ``open_dashboard``), and a customer file as the configured
source (what Manual Sync and retries read).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from klaviyo_sandbox import Behaviour

from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app
from tests.postgres import fresh_postgres, with_postgres
from tests.world import World

TOKEN = "dashboard-token-0123456789-do-not-log"
BACKENDS = with_postgres("sqlite")
"""Stores a dashboard test may run on; both can be shared by several apps at once."""
BAD_PHONE = "(555) 010-0199"  # possible, so it is sent; not valid, so Klaviyo refuses it
REFUSING = Behaviour(invalid_phone="refuse")
"""The dashboard's failed customer is the seed's: Klaviyo refused the whole write, as it did
before its phone validation change (today it creates the profile without the phone; the
partial failure is tested in ``test_dashboard_api`` and the engine's tests)."""
GOOD_PHONE = "(415) 555-2671"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def customer(customer_id: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": customer_id,
        "EmailAddress": f"c{customer_id}@example.com",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "CustomFields": {"SubscribeProfile": True},
    }
    record.update(changes)
    return record


@dataclass
class Dashboard:
    world: World
    store: Store
    app: FastAPI
    client: httpx.AsyncClient
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def set_customer(self, record: dict[str, Any]) -> None:
        """Add or change a customer in the configured source file."""
        self.customers[str(record["Id"])] = record
        text = "".join(json.dumps(c) + "\n" for c in self.customers.values())
        assert self.world.settings.source is not None
        with open(self.world.settings.source, "w", encoding="utf-8") as out:
            out.write(text)

    async def fail(self, customer_id: str) -> int:
        """Transfer a customer whose phone Klaviyo rejects; the failure's id."""
        record = customer(customer_id, Phone=BAD_PHONE)
        self.set_customer(record)
        [outcome] = await self.world.sync(record)
        assert outcome.failure is not None
        assert outcome.failure.kind == "phone_rejected"
        [failure] = self.store.list_failures(customer_id=customer_id, limit=1)
        return failure.id

    async def sign_in(self) -> str:
        """Sign the client in; the CSRF token its pages carry."""
        answer = await self.client.post("/login", data={"token": TOKEN, "next": "/sync"})
        assert answer.status_code == 303, answer.text
        return csrf_of((await self.client.get("/sync")).text)

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.bearer, **kwargs)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "a signed-in page carries its CSRF token"
    return found.group(1)


def make_app(world: World, store: Store, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    if clock is None:
        return create_app(world.settings, store, connections=world.connections)
    return create_app(world.settings, store, connections=world.connections, clock=clock)


class Clock:
    """Aware datetimes that move only when told: give the same one to the store and the app."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def store_url(backend: str, tmp_path: Path) -> str:
    """An empty store of ``backend``: a SQLite file, or the test PostgreSQL database emptied."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return fresh_postgres()


@asynccontextmanager
async def open_dashboard(
    tmp_path: Path,
    url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    token: str = TOKEN,
) -> AsyncIterator[Dashboard]:
    """A dashboard on the store at ``url``; with ``clock``, the store and the app share it.
    Opening a second one on the same ``url`` is a restart, or a second ``serve`` process."""
    source = tmp_path / "customers.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("")
    world = World.make(
        tmp_path,
        KLAVIYO_SYNC_STORE=url,
        KLAVIYO_SYNC_DASHBOARD_TOKEN=token,
        KLAVIYO_SYNC_SOURCE=str(source),
        KLAVIYO_SYNC_TRIGGERS="updated",
    )
    world.sandbox.behaviour = REFUSING
    with Store.open(url, clock=clock) as opened:
        app = make_app(world, opened, clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
            yield Dashboard(world, opened, app, web)
