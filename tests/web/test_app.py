"""The app around the receiver: health check, one error envelope, the OpenAPI document,
and the lifespan hook the in-process worker will use."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_schema_validator import OAS31Validator

from klaviyo_sync.store import Store
from klaviyo_sync.web import (
    ID_HEADER,
    MAX_WEBHOOK_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    create_app,
)

from .conftest import TOKEN, client_for, event_body, queued, settings, signed


async def test_healthz_answers_ok_without_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_answers_even_without_a_webhook_secret(store: Store) -> None:
    async with client_for(create_app(settings(secret=None), store)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize("token", [None, TOKEN], ids=["dashboard closed", "dashboard open"])
async def test_the_favicon_is_an_svg_anyone_may_fetch(store: Store, token: str | None) -> None:
    async with client_for(create_app(settings(token=token), store)) as client:
        icon = await client.get("/favicon.ico")
        login = await client.get("/login", headers={"Accept": "text/html"})
        document = (await client.get("/openapi.json")).json()

    assert icon.status_code == 200, "no sign-in, no token: browsers ask before anyone signs in"
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg ")
    assert "script" not in icon.text.lower()
    assert "max-age" in icon.headers["cache-control"]
    if token is not None:
        assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in login.text
    assert "/favicon.ico" not in document["paths"]


async def test_unknown_paths_and_methods_use_the_error_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    wrong_method = await client.get(WEBHOOK_PATH)

    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "POST"


async def test_request_validation_errors_use_the_error_envelope(store: Store) -> None:
    # The dashboard's /api/ routes take typed parameters; their refusals look the same.
    app = create_app(settings(token=TOKEN), store)

    async with client_for(app) as client:
        response = await client.get(
            "/api/failures/abc", headers={"Authorization": f"Bearer {TOKEN}"}
        )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "failure_id" in response.json()["error"]["message"]


async def test_the_app_keeps_settings_and_store_for_routers_added_later(store: Store) -> None:
    app_settings = settings()
    app = create_app(app_settings, store)

    assert app.state.settings is app_settings
    assert app.state.store is store


async def test_the_lifespan_runs_around_the_app(store: Store) -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        seen.append("start")
        yield
        seen.append("stop")

    app = create_app(settings(), store, lifespan=lifespan)
    async with app.router.lifespan_context(app):
        assert seen == ["start"]
    assert seen == ["start", "stop"]


async def test_no_page_loads_assets_from_a_cdn(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404


# OpenAPI


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    parsed: dict[str, Any] = response.json()
    return parsed


def schema_of(document: dict[str, Any], ref_or_schema: dict[str, Any]) -> OAS31Validator:
    return OAS31Validator({**ref_or_schema, "components": document["components"]})


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_the_openapi_document_describes_the_webhook(document: dict[str, Any]) -> None:
    operation = document["paths"][WEBHOOK_PATH]["post"]

    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookEvent"
    }
    assert set(operation["responses"]) == {"202", "400", "401", "413", "422", "503"}
    assert [p["name"] for p in operation["parameters"]] == [
        ID_HEADER,
        TIMESTAMP_HEADER,
        SIGNATURE_HEADER,
    ]
    assert all(p["in"] == "header" and p["required"] for p in operation["parameters"])
    assert str(MAX_WEBHOOK_BYTES) in operation["description"]
    assert "5 minutes" in operation["description"]
    assert "72 hours" in operation["description"]
    receipt = document["components"]["schemas"]["WebhookReceipt"]
    assert receipt["properties"]["status"]["enum"] == ["queued", "ignored", "duplicate"]
    event = document["components"]["schemas"]["WebhookEvent"]
    assert event["properties"]["event"]["enum"] == [
        "customer/created",
        "customer/updated",
        "customer/deleted",
    ]
    assert event["required"] == ["event", "customer"]
    assert document["paths"]["/healthz"]["get"]["responses"]["200"]


async def test_every_reference_in_the_openapi_document_resolves(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    found = refs(document)

    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in names, ref


async def test_the_documented_example_is_valid_and_accepted(
    document: dict[str, Any], client: httpx.AsyncClient, store: Store
) -> None:
    schema = document["components"]["schemas"]["WebhookEvent"]
    (example,) = schema["examples"]
    schema_of(document, {"$ref": "#/components/schemas/WebhookEvent"}).validate(example)
    body = json.dumps(example).encode()

    response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))

    assert response.status_code == 202
    assert queued(store)[0][0] == "55260"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (event_body(), None, 202),
        (b"{", None, 400),
        (event_body(), {}, 401),
        (b" " * (MAX_WEBHOOK_BYTES + 1), None, 413),
        (event_body("customer/merged"), None, 422),
    ],
)
async def test_every_answer_matches_its_documented_schema(
    document: dict[str, Any],
    client: httpx.AsyncClient,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
) -> None:
    response = await client.post(
        WEBHOOK_PATH, content=body, headers=signed(body) if headers is None else headers
    )

    assert response.status_code == status
    documented = document["paths"][WEBHOOK_PATH]["post"]["responses"][str(status)]
    schema_of(document, documented["content"]["application/json"]["schema"]).validate(
        response.json()
    )


async def test_a_duplicate_receipt_matches_its_documented_schema(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    body = event_body()
    headers = signed(body)
    await client.post(WEBHOOK_PATH, content=body, headers=headers)

    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)

    assert response.json()["status"] == "duplicate"
    documented = document["paths"][WEBHOOK_PATH]["post"]["responses"]["202"]
    schema_of(document, documented["content"]["application/json"]["schema"]).validate(
        response.json()
    )


async def test_an_unexpected_error_is_a_500_in_the_envelope(store: Store) -> None:
    app = create_app(settings(), store)

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that stays in the log")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
        response = await client.get("/api/boom")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "the server failed to handle this request"}
    }
