"""Whole numbers out of range in a path, a query or a body (ids and paging past 2^63, negative
offsets, page sizes past the maximum) are refused with a message that names the parameter and
its range, on SQLite and PostgreSQL: never a 500 from the driver. The routes are listed from the
app itself, so a route added later with an integer parameter is checked too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute

from klaviyo_sync.config import Settings
from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app
from klaviyo_sync.web._params import MAX_ID, MAX_LIMIT, MAX_RUN_ID

from .dashboard import BACKENDS, TOKEN, Dashboard, open_dashboard, store_url

OUT_OF_RANGE = [2**63, 2**64, -1]


@dataclass(frozen=True)
class IntParam:
    """One integer parameter of one route, with the range the route declares."""

    method: str
    path: str
    where: str  # "path" or "query"
    name: str
    low: int
    high: int

    @property
    def is_page(self) -> bool:
        return not self.path.startswith("/api/")

    def url(self, value: int) -> str:
        """The route with ``value`` for this parameter and 1 for any other path parameter."""
        path = "/".join(
            (str(value) if part == f"{{{self.name}}}" else "1") if part.startswith("{") else part
            for part in self.path.split("/")
        )
        return f"{path}?{self.name}={value}" if self.where == "query" else path

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}.{self.name}"


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # an included router, newer FastAPI
        if inner is not None:
            yield from _routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def _fields(dependant: Any) -> Iterator[tuple[str, Any]]:
    yield from (("path", field) for field in dependant.path_params)
    yield from (("query", field) for field in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _fields(sub)


def _bound(field: Any, name: str) -> int:
    found = [getattr(m, name) for m in field.field_info.metadata if hasattr(m, name)]
    assert found, f"{field.alias} declares no {name}: every integer parameter needs a range"
    return int(found[0])


def int_params(app: FastAPI) -> list[IntParam]:
    return [
        IntParam(method, route.path, where, field.alias, _bound(field, "ge"), _bound(field, "le"))
        for route in _routes(app.routes)
        for where, field in _fields(route.dependant)
        if field.field_info.annotation is int
        for method in sorted(route.methods)
    ]


def _listing_app() -> FastAPI:
    # Building the app touches no store, so the routes can be listed at collection time.
    settings = Settings.model_validate({"KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN})
    return create_app(settings, cast(Store, object()))


PARAMS = int_params(_listing_app())


@dataclass
class SignedIn:
    dashboard: Dashboard
    csrf: str

    async def send(self, param: IntParam, value: int) -> httpx.Response:
        url = param.url(value)
        if not param.is_page:
            return await self.dashboard.api(param.method, url)
        data = {"csrf_token": self.csrf} if param.method == "POST" else None
        return await self.dashboard.client.request(param.method, url, data=data)


# One dashboard per backend for the whole module: every request here is refused or finds
# nothing, so none changes what the next one sees.
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def signed_in(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SignedIn]:
    """A signed-in dashboard on each backend, with a failure and a run in its store."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    async with open_dashboard(tmp_path, store_url(request.param, tmp_path)) as dashboard:
        await dashboard.fail("c1")
        yield SignedIn(dashboard, await dashboard.sign_in())


def test_every_integer_parameter_of_the_app_is_listed_with_its_range() -> None:
    found = {str(p): (p.low, p.high) for p in PARAMS}

    assert found == {
        "GET /api/failures query.limit": (1, MAX_LIMIT),
        "GET /api/failures query.offset": (0, MAX_ID),
        "GET /api/failures/{failure_id} path.failure_id": (1, MAX_ID),
        "POST /api/failures/{failure_id}/resolve path.failure_id": (1, MAX_ID),
        "GET /api/links query.limit": (1, MAX_LIMIT),
        "GET /api/runs query.limit": (1, MAX_LIMIT),
        "GET /api/runs/{run_id} path.run_id": (1, MAX_RUN_ID),
        "GET /api/runs/{run_id} query.limit": (1, MAX_LIMIT),
        "GET /api/runs/{run_id} query.offset": (0, MAX_ID),
        "GET /failures query.offset": (0, MAX_ID),
        "GET /failures query.limit": (1, MAX_LIMIT),
        "GET /failures/{failure_id} path.failure_id": (1, MAX_ID),
        "POST /failures/{failure_id}/resolve path.failure_id": (1, MAX_ID),
        "GET /runs/{run_id} path.run_id": (1, MAX_RUN_ID),
        "GET /runs/{run_id} query.offset": (0, MAX_ID),
    }


@module_loop
@pytest.mark.parametrize("value", [*OUT_OF_RANGE, None], ids=["2^63", "2^64", "-1", "high+1"])
@pytest.mark.parametrize("param", PARAMS, ids=str)
async def test_a_number_out_of_range_is_refused_naming_the_parameter_and_its_range(
    signed_in: SignedIn, param: IntParam, value: int | None
) -> None:
    # high+1: a page size past the maximum, a run id past PostgreSQL's 32-bit INTEGER.
    answer = await signed_in.send(param, param.high + 1 if value is None else value)

    said = f"{param.where}.{param.name}: must be a whole number from {param.low} to {param.high}"
    if param.is_page:
        # A page: an id that cannot exist is not found; a bad query is a bad request.
        assert answer.status_code == (404 if param.where == "path" else 400), answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert said in answer.text
    else:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == {"code": "invalid_request", "message": said}


@module_loop
@pytest.mark.parametrize("param", PARAMS, ids=str)
async def test_the_largest_number_in_range_is_answered_by_the_store(
    signed_in: SignedIn, param: IntParam
) -> None:
    # The top of each range reaches the store's queries: they must take it too.
    answer = await signed_in.send(param, param.high)

    assert answer.status_code in (200, 303, 404), answer.text
    assert signed_in.dashboard.store.get_failure(1) is not None


@module_loop
@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_failure_ids_out_of_range_in_a_retry_are_refused(
    signed_in: SignedIn, value: int
) -> None:
    client = signed_in.dashboard.client

    api = await signed_in.dashboard.api("POST", "/api/failures/retry", json={"ids": [1, value]})
    page = await client.post(
        "/failures/retry", data={"id": ["1", str(value)], "csrf_token": signed_in.csrf}
    )

    assert api.status_code == 422
    assert (
        api.json()["error"]["message"] == f"body.ids.1: must be a whole number from 1 to {MAX_ID}"
    )
    assert page.status_code == 422
    assert f"id: must be a whole number from 1 to {MAX_ID}" in page.text
    [failure] = signed_in.dashboard.store.list_failures()
    assert failure.attempts == 1, "nothing was retried"
