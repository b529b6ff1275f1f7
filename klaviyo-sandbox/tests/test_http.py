"""Request checks in Klaviyo's envelope: key, revision, content type, path and method."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from klaviyo_sandbox import ManualClock, SandboxConfig, sandbox_transport

from .conftest import HEADERS, KEY, SpecClient, check_response, client_for, profile_doc


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in HEADERS.items() if k not in names}


async def raw_get(
    app: Starlette, url: str, headers: dict[str, str] | dict[str, str | bytes]
) -> httpx.Response:
    async with httpx.AsyncClient(transport=sandbox_transport(app), base_url="http://sandbox") as c:
        response = await c.get(url, headers=headers)
    check_response("GET", url, response)
    return response


async def test_missing_key_is_401_not_authenticated(app: Starlette) -> None:
    response = await raw_get(app, "/api/profiles", without("Authorization"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header",
    [
        "Klaviyo-API-Key sk_wrongshape",
        "Klaviyo-API-Key pk_",
        "Klaviyo-API-Key pk_has space",
        f"Bearer {KEY}",
        KEY,
        "Klaviyo-API-Key pk_ünïcode".encode(),
    ],
)
async def test_badly_shaped_key_is_401_authentication_failed(
    app: Starlette, header: str | bytes
) -> None:
    headers: dict[str, str | bytes] = {**HEADERS, "Authorization": header}
    response = await raw_get(app, "/api/profiles", headers)
    assert response.status_code == 401
    item = response.json()["errors"][0]
    assert item["code"] == "authentication_failed"
    assert KEY not in response.text


async def test_configured_key_is_the_only_one_accepted(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app(api_key="pk_theone")
    good = await raw_get(
        app, "/api/profiles", {**HEADERS, "Authorization": "Klaviyo-API-Key pk_theone"}
    )
    assert good.status_code == 200
    bad = await raw_get(app, "/api/profiles", HEADERS)
    assert bad.status_code == 401
    assert "pk_theone" not in bad.text
    assert "pk_theone" not in repr(SandboxConfig(api_key="pk_theone"))


# 2026-12-03: revisions are served for two years, so 2024-10-15 retired on 2026-10-15.
_TODAY = datetime(2026, 12, 3, 9, tzinfo=UTC).timestamp()
_SERVED = [
    "2025-01-15",
    "2025-04-15",
    "2025-07-15",
    "2025-10-15",
    "2026-01-15",
    "2026-04-15",
    "2026-07-15",
    "2026-10-15",
]


@pytest.fixture
def today(make_app: Callable[..., Starlette], clock: ManualClock) -> Starlette:
    clock.advance(_TODAY - clock.now())
    return make_app(rate_limits=False)


@pytest.mark.parametrize("revision", [*_SERVED, "2026-10-15.pre", "2025-01-15.pre"])
async def test_every_revision_klaviyo_serves_is_accepted(today: Starlette, revision: str) -> None:
    response = await raw_get(today, "/api/profiles", {**HEADERS, "revision": revision})
    assert response.status_code == 200


async def test_the_summary_lists_the_revisions_served(today: Starlette) -> None:
    async with client_for(today) as http:
        summary = (await http.get("/__sandbox__")).json()
    assert summary["revisions"] == _SERVED
    assert summary["revision"] == "2026-10-15"


@pytest.mark.parametrize(
    "revision", ["2024-10-15", "2024-07-15.pre", "2024-06-15", "2023-02-22", "2022-10-17"]
)
async def test_a_retired_revision_is_410(today: Starlette, revision: str) -> None:
    response = await raw_get(today, "/api/profiles", {**HEADERS, "revision": revision})
    assert response.status_code == 410
    error = response.json()["errors"][0]
    assert error["source"] == {"parameter": "revision"}
    assert "retired" in error["detail"]
    assert "2025-01-15 to 2026-10-15" in error["detail"]


@pytest.mark.parametrize(
    "revision",
    [
        None,
        "",
        "2025-03-03",  # never a release
        "2024-04-15",  # quarterly in shape, but before Klaviyo released quarterly
        "2026-07-16",
        "2027-01-15",  # not released yet on 2026-12-03
        "2099-01-01",
        "2021-01-01",
        "yesterday",
        "2024-13-01",
        "2026-10-15.beta2",
    ],
)
async def test_missing_or_unknown_revision_is_400(today: Starlette, revision: str | None) -> None:
    headers = without("revision") if revision is None else {**HEADERS, "revision": revision}
    response = await raw_get(today, "/api/profiles", headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "revision"}


async def test_the_revisions_served_move_with_the_clock(
    make_app: Callable[..., Starlette], clock: ManualClock
) -> None:
    app = make_app(rate_limits=False)
    clock.advance(datetime(2027, 1, 15, tzinfo=UTC).timestamp() - clock.now())
    fresh = await raw_get(app, "/api/profiles", {**HEADERS, "revision": "2027-01-15"})
    assert fresh.status_code == 200
    retired = await raw_get(app, "/api/profiles", {**HEADERS, "revision": "2025-01-15"})
    assert retired.status_code == 410


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_wrong_content_type_is_415(client: SpecClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.http.post("/api/profiles", content=b'{"data": {}}', headers=headers)
    check_response("POST", "/api/profiles", response)
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "unsupported_media_type"


async def test_content_type_with_charset_is_fine(client: SpecClient) -> None:
    response = await client.post(
        "/api/profiles",
        profile_doc({"email": "a@example.com"}),
        headers={"Content-Type": "application/vnd.api+json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_unknown_path_is_404_and_wrong_method_405(client: SpecClient) -> None:
    for url in ("/api/nothing-here", "/api/profiles/x/y/z", "/", "/v1/profiles"):
        response = await client.http.get(url)
        check_response("GET", "/api/nothing", response)
        assert response.status_code == 404, url
    response = await client.http.put("/api/profiles")
    check_response("PUT", "/api/nothing", response)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


async def test_trailing_slash_reaches_the_same_endpoint(client: SpecClient) -> None:
    response = await client.http.get("/api/profiles/")
    assert response.status_code == 200


async def test_operations_not_emulated_say_so(client: SpecClient) -> None:
    response = await client.get("/api/push-tokens")
    assert response.status_code == 404
    assert "not emulated" in response.json()["errors"][0]["detail"]


async def test_unknown_admin_path_is_404(app: Starlette) -> None:
    async with client_for(app) as http:
        response = await http.get("/__sandbox__/nope")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
