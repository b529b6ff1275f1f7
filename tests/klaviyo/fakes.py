"""Test doubles for the Klaviyo client: a fake clock and a spec-checking fake Klaviyo.

``FakeKlaviyo`` is an ``httpx.MockTransport`` that records every request, validates every
request body against Klaviyo's OpenAPI spec, and validates every canned response it returns,
so the shapes tested here are the shapes Klaviyo exchanges.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.spec.validate import validate_request, validate_response

BASE_URL = "https://a.klaviyo.com"
JSON_API = "application/vnd.api+json"
STAMP = "2026-07-20T10:00:00+00:00"


class FakeClock:
    """klaviyo-sync's ``Clock`` in fake time, the one for every test: advances instantly on
    ``sleep`` and records every wait; with ``step``, each read moves it ``step`` seconds too
    (a formula's deadline is read at every hook, and nothing sleeps there). ``reads`` counts
    the reads."""

    def __init__(self, start: float = 1_000.0, *, step: float = 0.0) -> None:
        self.start = start
        self.now = start
        self.step = step
        self.reads = 0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    @property
    def elapsed(self) -> float:
        return self.now - self.start


@dataclass(slots=True)
class Call:
    """One request as Klaviyo would see it."""

    method: str
    path: str
    params: dict[str, str]
    headers: httpx.Headers
    body: Any
    at: float


@dataclass(slots=True)
class Canned:
    """A response to build afresh for each request."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def build(self) -> httpx.Response:
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw, headers=dict(self.headers))
        if self.body is None:
            return httpx.Response(self.status, headers=dict(self.headers))
        content = json.dumps(self.body).encode()
        headers = {"Content-Type": JSON_API, **self.headers}
        return httpx.Response(self.status, content=content, headers=headers)


Reply = Canned | BaseException | Callable[[Call], "Canned | BaseException"]


@dataclass(slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    replies: list[Reply]


class FakeKlaviyo:
    """Routes requests to canned replies, in order; the last reply of a route repeats."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.calls: list[Call] = []
        self._routes: list[_Route] = []
        self._clock = clock
        self.transport = httpx.MockTransport(self._handle)

    def on(self, method: str, path: str, *replies: Reply) -> None:
        """Answer ``method path`` (a regex over the path) with ``replies`` in turn."""
        self._routes.append(_Route(method, re.compile(f"^{path}$"), list(replies)))

    def instead(self, method: str, path: str, *replies: Reply) -> None:
        """``on``, ahead of the routes set up before (a fixture's)."""
        self._routes.insert(0, _Route(method, re.compile(f"^{path}$"), list(replies)))

    def calls_to(self, method: str, path: str) -> list[Call]:
        pattern = re.compile(f"^{path}$")
        return [c for c in self.calls if c.method == method and pattern.match(c.path)]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        call = self._record(request)
        reply = self._next_reply(call)
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(call)
        if isinstance(reply, BaseException):
            raise reply
        _check_response(call, reply)
        return reply.build()

    def _record(self, request: httpx.Request) -> Call:
        body = json.loads(request.content) if request.content else None
        # The raw path, as sent: an escaped "/" inside an id must stay escaped.
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        if body is not None:
            validate_request(request.method, path, body)
        call = Call(
            method=request.method,
            path=path,
            params=dict(request.url.params),
            headers=request.headers,
            body=body,
            at=self._clock.now if self._clock else 0.0,
        )
        self.calls.append(call)
        return call

    def _next_reply(self, call: Call) -> Reply:
        for route in self._routes:
            if route.method == call.method and route.pattern.match(call.path):
                return route.replies.pop(0) if len(route.replies) > 1 else route.replies[0]
        raise AssertionError(f"no fake route for {call.method} {call.path}")


def _check_response(call: Call, reply: Canned) -> None:
    # Plain-text bodies stand for gateway pages, which the spec does not describe.
    if reply.raw is None:
        validate_response(call.method, call.path, reply.status, reply.body)


# -- spec-valid documents ----------------------------------------------------------------------


def self_link(path: str) -> dict[str, str]:
    return {"self": f"{BASE_URL}{path}"}


def profile(profile_id: str, **attributes: Any) -> dict[str, Any]:
    attrs = {"created": STAMP, "updated": STAMP, **attributes}
    return {
        "type": "profile",
        "id": profile_id,
        "attributes": attrs,
        "links": self_link(f"/api/profiles/{profile_id}"),
    }


def a_list(list_id: str, name: str = "Newsletter", opt_in: str = "single_opt_in") -> dict[str, Any]:
    return {
        "type": "list",
        "id": list_id,
        "attributes": {"name": name, "created": STAMP, "updated": STAMP, "opt_in_process": opt_in},
        "links": self_link(f"/api/lists/{list_id}"),
    }


def job(job_id: str, status: str = "queued", total: int = 1, failed: int = 0) -> dict[str, Any]:
    done = status == "complete"
    return {
        "type": "profile-bulk-import-job",
        "id": job_id,
        "attributes": {
            "status": status,
            "created_at": STAMP,
            "total_count": total,
            "completed_count": total - failed if done else 0,
            "failed_count": failed if done else 0,
            "completed_at": STAMP if done else None,
            "started_at": None if status == "queued" else STAMP,
            "expires_at": None,
        },
        "links": self_link(f"/api/profile-bulk-import-jobs/{job_id}"),
    }


def import_error(error_id: str, email: str) -> dict[str, Any]:
    return {
        "type": "import-error",
        "id": error_id,
        "attributes": {
            "code": "invalid",
            "title": "Invalid input.",
            "detail": "Invalid email address",
            "source": {"pointer": "/data/attributes/email"},
            "original_payload": {"email": email},
        },
    }


def document(data: Any, path: str, next_cursor: str | None = None) -> dict[str, Any]:
    links = self_link(path)
    if next_cursor is not None:
        links["next"] = f"{BASE_URL}{path}?page%5Bcursor%5D={next_cursor}&page%5Bsize%5D=100"
    return {"data": data, "links": links}


def ok(data: Any, path: str, status: int = 200, **kw: Any) -> Canned:
    return Canned(status, document(data, path, **kw))


def error(
    status: int,
    code: str,
    detail: str = "Something went wrong.",
    *,
    pointer: str | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Canned:
    item: dict[str, Any] = {
        "id": f"err-{status}-{code}",
        "status": status,
        "code": code,
        "title": "Error.",
        "detail": detail,
        "source": {},
        "links": {},
        "meta": meta or {},
    }
    if pointer:
        item["source"]["pointer"] = pointer
    if parameter:
        item["source"]["parameter"] = parameter
    return Canned(status, {"errors": [item]}, headers or {})


def throttled(retry_after: int = 1) -> Canned:
    return error(
        429,
        "throttled",
        f"Request was throttled. Expected available in {retry_after} second.",
        headers={"Retry-After": str(retry_after)},
    )


def pages(items: list[Any], path: str, size: int) -> Iterator[Canned]:
    """``items`` as consecutive pages of ``size``, chained through links.next."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    for n, chunk in enumerate(chunks):
        cursor = f"c{n + 1}" if n + 1 < len(chunks) else None
        yield ok(chunk, path, next_cursor=cursor)
