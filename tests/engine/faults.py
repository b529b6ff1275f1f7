"""One request that fails every try: a transport around the world's, and worlds to use it in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import httpx

from klaviyo_sync.operations import Connections
from tests.engine.twins import strategy_world
from tests.world import World

Picks = Callable[[httpx.Request, Any], bool]
"""Whether a request (and its decoded JSON body, None without one) is the one to fail."""


class OneRequestFails(httpx.AsyncBaseTransport):
    """Fails the first request ``picks`` chooses, and every retry of it (the same method, URL
    and body), ``times`` tries in all (every try when None), with a 503 or a dropped
    connection, before Klaviyo sees it or (``after``) once Klaviyo has applied it; passes
    every other request on untouched."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        picks: Picks,
        *,
        how: Literal["503", "drop"] = "503",
        after: bool = False,
        times: int | None = None,
    ) -> None:
        self.inner, self._picks, self._how, self._times = inner, picks, how, times
        self._after = after
        self._key: tuple[str, str, bytes] | None = None
        self.body: Any = None
        """the failed request's JSON body"""
        self.url: httpx.URL | None = None
        self.tries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        key = (request.method, str(request.url), content)
        body = json.loads(content) if content else None
        if self._key is None and self._picks(request, body):
            self._key, self.body, self.url = key, body, request.url
        if key == self._key and (self._times is None or self.tries < self._times):
            self.tries += 1
            if self._after:
                await (await self.inner.handle_async_request(request)).aread()
            return self._fail(request)
        return await self.inner.handle_async_request(request)

    def _fail(self, request: httpx.Request) -> httpx.Response:
        if self._how == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            )
        error = {
            "id": "fault",
            "status": 503,
            "code": "service_unavailable",
            "title": "Service unavailable.",
            "detail": "One request fails every try, on purpose.",
            "source": {},
        }
        return httpx.Response(503, json={"errors": [error]}, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def failing_world(tmp: Path, picks: Picks, **kw: Any) -> tuple[World, OneRequestFails]:
    """A bulk world whose one picked request fails (see ``OneRequestFails``). Its requests
    skip the spec checks: runs of thousands would spend most of their time in them."""
    world = strategy_world(tmp, "bulk", spec_checked=False)
    assert world.connections.transport is not None
    failing = OneRequestFails(world.connections.transport, picks, **kw)
    world.connections = Connections(failing, world.clock)
    return world, failing


def heal(world: World, failing: OneRequestFails) -> None:
    """The fault is over: the world's requests go straight to the sandbox again."""
    world.connections = Connections(failing.inner, world.clock)


def customers(n: int, **extra: Any) -> list[dict[str, Any]]:
    """``n`` (≤ 10,000) new customers, each with its own email and phone number; ``extra``
    goes into every record."""
    return [
        {
            "Id": i,
            "EmailAddress": f"c{i}@example.com",
            "Phone": f"(415) 555-{i:04d}",
            "FirstName": f"C{i}",
            **extra,
        }
        for i in range(n)
    ]
