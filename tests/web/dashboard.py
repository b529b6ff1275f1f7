"""A dashboard to test against: the app over an in-process sandbox (``tests.world``), a real
SQLite store, and a customer file as the configured source (what Manual Sync and retries read).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app
from tests.world import World

TOKEN = "dashboard-token-0123456789-do-not-log"
BAD_PHONE = "(555) 010-0199"  # possible, so it is sent; not valid, so Klaviyo refuses it
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


def make_app(world: World, store: Store) -> FastAPI:
    return create_app(world.settings, store, connections=world.connections)
