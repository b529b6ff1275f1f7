"""A small world for flow tests: an in-process sandbox, a store, settings, and a sync helper.

Every request the engine sends goes through the sandbox app in-process (no sockets), and every
response is validated against Klaviyo's OpenAPI slices on its way back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from klaviyo_sandbox import Profile, Sandbox, SandboxConfig, create_app, sandbox_transport

from klaviyo_sync.config import Settings
from klaviyo_sync.engine import PlanEntry, PlanReport
from klaviyo_sync.klaviyo import RetryPolicy, no_jitter
from klaviyo_sync.operations import Connections, plan_source, sync_one, sync_source
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import Store
from tests.klaviyo.fakes import FakeClock
from tests.spec.validate import validate_request, validate_response

API_KEY = "pk_worldtest0123456789abcdef"


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Validates each request body the client sends, and each response the sandbox returns,
    against Klaviyo's spec."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = await request.aread()
        if sent and request.url.path.startswith("/api/"):
            validate_request(request.method, request.url.path, json.loads(sent))
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        if request.url.path.startswith("/api/"):
            parsed = json.loads(body) if body else None
            validate_response(request.method, request.url.path, response.status_code, parsed)
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class World:
    tmp: Path
    sandbox: Sandbox
    settings: Settings
    connections: Connections
    clock: FakeClock
    runs: list[list[Outcome]] = field(default_factory=list)

    @classmethod
    def make(cls, tmp: Path, *, spec_checked: bool = True, **overrides: Any) -> World:
        """``spec_checked=False`` skips the spec checks, most of the time of a run of
        thousands (the runs of a few customers check the same shapes)."""
        app = create_app(SandboxConfig(rate_limits=False))
        clock = FakeClock()
        values: dict[str, Any] = {
            "KLAVIYO_API_KEY": API_KEY,
            "KLAVIYO_BASE_URL": "http://sandbox",
            "KLAVIYO_SYNC_STORE": f"sqlite:///{tmp / 'store.db'}",
            **overrides,
        }
        settings = Settings(**values)
        transport = sandbox_transport(app)
        if spec_checked:
            transport = SpecCheckingTransport(transport)
        sandbox: Sandbox = app.state.sandbox
        sandbox.create_list("Sms Subscribers", "double_opt_in")
        sandbox.create_list("Preview List", "single_opt_in")
        return cls(tmp, sandbox, settings, Connections(transport, clock), clock)

    def single_opt_in(self) -> World:
        """An account whose subscriptions without a list subscribe at once, and settings that
        say so: Klaviyo's default is double opt-in (a consent email first), which tests about
        something else need not wait for."""
        behaviour = self.sandbox.behaviour.updated({"default_opt_in": "single_opt_in"})
        self.sandbox.behaviour = behaviour
        self.settings = self.settings.model_copy(update={"account_opt_in": "single_opt_in"})
        return self

    def with_mapping(self, toml: str) -> World:
        path = self.tmp / "mapping.toml"
        path.write_text(toml)
        self.settings = self.settings.model_copy(update={"mapping_path": path})
        return self

    @property
    def list_ids(self) -> dict[str, str]:
        """The template's lists, which every world starts with: name → id."""
        return {item.name: item.id for item in self.sandbox.lists.values()}

    async def sync(
        self, *customers: Mapping[str, Any], full: bool = False, force: bool = False
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            await sync_source(
                self.settings,
                RecordsSource(list(customers)),
                full=full,
                force=force,
                on_outcome=outcomes.append,
                connections=self.connections,
            )
        finally:
            self.runs.append(outcomes)
        return outcomes

    async def plan(
        self, *customers: Mapping[str, Any], live: bool = False
    ) -> tuple[list[PlanEntry], PlanReport]:
        entries: list[PlanEntry] = []
        report = await plan_source(
            self.settings,
            RecordsSource(list(customers)),
            live=live,
            on_entry=entries.append,
            connections=self.connections,
        )
        return entries, report

    async def sync_one(self, customer_id: str, customers: Iterable[Mapping[str, Any]]) -> Outcome:
        source = RecordsSource(list(customers), name="customers")
        return await sync_one(self.settings, customer_id, source, connections=self.connections)

    def profile(self, profile_id: str) -> Profile:
        return self.sandbox.profiles[profile_id]

    def by_email(self, email: str) -> Profile | None:
        return self.sandbox.find_profile(email=email)

    def store(self) -> Store:
        return Store.open(self.settings.store_url)

    def requests(self, method: str | None = None, prefix: str = "/api/") -> list[Any]:
        return [
            r
            for r in self.sandbox.requests
            if r.path.startswith(prefix) and (method is None or r.method == method)
        ]

    def writes(self) -> list[Any]:
        return [r for r in self.requests() if r.method != "GET"]


FAST_RETRY = RetryPolicy(max_attempts=3, base=0.01, cap=0.05, jitter=no_jitter)
