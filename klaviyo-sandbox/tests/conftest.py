"""Fixtures: an in-process sandbox on a manual clock, and a client that checks every answer
against Klaviyo's OpenAPI spec before the test sees it.

A test that depends on one of Klaviyo's behaviours that changed over time names it, so it
holds whatever the defaults are: ``@pytest.mark.behaviour(invalid_phone="refuse")``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from klaviyo_sandbox import (
    Behaviour,
    ManualClock,
    Sandbox,
    SandboxConfig,
    create_app,
    sandbox_transport,
)
from tests.spec.validate import SpecError, validate_response

KEY = "pk_test0123456789abcdef"
JSON_API = "application/vnd.api+json"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": "2026-10-15",
    "Accept": JSON_API,
}


def check_envelope(status: int, body: Any) -> None:
    """What the spec leaves loose about errors, pinned to Klaviyo's envelope."""
    assert isinstance(body, dict), body
    assert body["errors"], body
    for item in body["errors"]:
        uuid.UUID(item["id"])
        assert item["status"] == status
        for key in ("code", "title", "detail"):
            assert isinstance(item[key], str), item
            assert item[key], item
        assert isinstance(item["source"], dict)
        assert set(item["source"]) <= {"pointer", "parameter"}
        assert isinstance(item["links"], dict)
        assert isinstance(item["meta"], dict)


def check_response(method: str, path: str, response: httpx.Response) -> Any:
    """Validate a /api response against the spec; returns the parsed body (or None)."""
    body = response.json() if response.content else None
    status = response.status_code
    assert status != 500 or "injected" in response.text, response.text
    try:
        validate_response(method, path, status, body)
    except SpecError as err:
        if not str(err).startswith("the spec has no"):
            raise
        # A path or method the spec lacks (404/405 answers): still Klaviyo's error shape.
        validate_response("GET", "/api/profiles", status, body)
    if status >= 400:
        check_envelope(status, body)
    return body


class SpecClient:
    """httpx against the sandbox, validating every /api response it receives."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        extra = dict(headers or {})
        if body is not None:
            extra.setdefault("Content-Type", JSON_API)
            response = await self.http.request(method, url, json=body, params=params, headers=extra)
        else:
            if content is not None:
                extra.setdefault("Content-Type", JSON_API)
            response = await self.http.request(
                method, url, params=params, headers=extra, content=content
            )
        path = response.request.url.path
        if path.startswith("/api/"):
            check_response(method, path, response)
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, body, **kwargs)

    async def patch(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, body, **kwargs)

    async def delete(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, body, **kwargs)

    # -- small builders the tests share --------------------------------------------------

    async def create_profile(self, **attributes: Any) -> dict[str, Any]:
        response = await self.post(
            "/api/profiles", {"data": {"type": "profile", "attributes": attributes}}
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def create_list(self, name: str, opt_in_process: str = "single_opt_in") -> str:
        body = {
            "data": {
                "type": "list",
                "attributes": {"name": name, "opt_in_process": opt_in_process},
            }
        }
        response = await self.post("/api/lists", body)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])


def profile_doc(attributes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes, **extra}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_app(clock: ManualClock) -> Callable[..., Starlette]:
    def build(**overrides: Any) -> Starlette:
        overrides.setdefault("clock", clock)
        return create_app(SandboxConfig(**overrides))

    return build


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "behaviour(**settings): the sandbox Behaviour the `app` fixture plays"
    )


@pytest.fixture
def app(make_app: Callable[..., Starlette], request: pytest.FixtureRequest) -> Starlette:
    marker = request.node.get_closest_marker("behaviour")
    settings = {} if marker is None else dict(marker.kwargs)
    return make_app(rate_limits=False, behaviour=Behaviour(**settings))


@pytest.fixture
def sandbox(app: Starlette) -> Sandbox:
    state: Sandbox = app.state.sandbox
    return state


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sandbox_transport(app), base_url="http://sandbox", headers=HEADERS
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[SpecClient]:
    async with client_for(app) as http:
        yield SpecClient(http)
