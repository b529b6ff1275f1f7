"""Fixtures for the web app: settings with a webhook secret, a real SQLite store, and an
in-process client.

``post`` signs what it sends (Standard Webhooks headers, a new webhook-id each time) unless told
otherwise, so each test states only what is odd about its request.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from klaviyo_sync.config import Settings
from klaviyo_sync.store import Store
from klaviyo_sync.web import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    create_app,
    sign,
    signed_headers,
)
from tests.world import World

from .dashboard import REFUSING, Dashboard, make_app
from .dashboard import TOKEN as DASHBOARD_TOKEN
from .fakes import SpyStore

SECRET = "whsec_" + base64.b64encode(b"web-tests-key-0123456789-do-not-log").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-sender-key-0123456789abc").decode()
TOKEN = DASHBOARD_TOKEN


def settings(
    *, secret: str | None = SECRET, triggers: str = "created,updated", token: str | None = None
) -> Settings:
    # As the environment gives them: a string each.
    return Settings.model_validate(
        {
            "KLAVIYO_SYNC_WEBHOOK_SECRET": secret,
            "KLAVIYO_SYNC_TRIGGERS": triggers,
            "KLAVIYO_SYNC_DASHBOARD_TOKEN": token,
        }
    )


def customer(customer_id: Any = 55260, **fields: Any) -> dict[str, Any]:
    return {"Id": customer_id, "EmailAddress": "ada@example.com", "FirstName": "Ada", **fields}


def event_body(event: str = "customer/updated", record: Any = None) -> bytes:
    return json.dumps(
        {"event": event, "customer": customer() if record is None else record}
    ).encode()


def signed(
    body: bytes,
    secret: str = SECRET,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers a Standard Webhooks sender adds, signed by the reference library (a new id and
    now unless given); a body that is not UTF-8, which the library cannot take, by ours."""
    webhook_id = f"msg_{uuid.uuid4().hex}" if webhook_id is None else webhook_id
    timestamp = int(time.time()) if timestamp is None else timestamp
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return {
            ID_HEADER: webhook_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, webhook_id, timestamp, body),
        }
    return signed_headers(secret, body, webhook_id=webhook_id, timestamp=timestamp)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment wins over constructor values in Settings; keep the tests' own.
    monkeypatch.delenv("KLAVIYO_SYNC_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("KLAVIYO_SYNC_TRIGGERS", raising=False)
    monkeypatch.delenv("KLAVIYO_SYNC_DASHBOARD_TOKEN", raising=False)


@dataclass(frozen=True)
class Event:
    id: int
    event: str
    customer_id: str | None
    status: str
    reason: str | None


def queued(store: Store) -> list[tuple[str, dict[str, Any], str]]:
    """The queue, oldest first, as (customer id, record, event)."""
    return [(e.item.customer_id, e.item.record, e.item.event) for e in store.list_queue(limit=500)]


def logged(store: Store) -> list[Event]:
    """The event log, oldest first."""
    return [
        Event(r.id, r.event, r.customer_id, r.status, r.reason)
        for r in reversed(store.list_events(limit=500))
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


@pytest.fixture
def spy(store: Store) -> SpyStore:
    return SpyStore(store)


@pytest.fixture
def wakes() -> list[int]:
    return []


@pytest.fixture
def make_client(store: Store, wakes: list[int]) -> Callable[..., httpx.AsyncClient]:
    """A client for an app with these settings, the test's store (or ``store=``) and a wake-up
    counter."""

    def factory(*, store: Any = store, **settings_args: Any) -> httpx.AsyncClient:
        app = create_app(settings(**settings_args), store, on_enqueued=lambda: wakes.append(1))
        return client_for(app)

    return factory


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web")


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


Post = Callable[..., Any]


@pytest.fixture
def post(client: httpx.AsyncClient) -> Post:
    async def send(body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return await client.post(
            WEBHOOK_PATH, content=body, headers=signed(body) if headers is None else headers
        )

    return send


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    """The dashboard with a token, a customer file as its source, an in-process sandbox."""
    source = tmp_path / "customers.jsonl"
    source.write_text("")
    world = World.make(
        tmp_path,
        KLAVIYO_SYNC_DASHBOARD_TOKEN=DASHBOARD_TOKEN,
        KLAVIYO_SYNC_SOURCE=str(source),
        KLAVIYO_SYNC_TRIGGERS="updated",
    )
    world.sandbox.behaviour = REFUSING
    with Store.open(world.settings.store_url) as opened:
        app = make_app(world, opened)
        async with client_for(app) as web:
            yield Dashboard(world, opened, app, web)
