"""``/api/``: everything the dashboard's pages do, as JSON, in the app's OpenAPI document.

Authenticated by ``Authorization: Bearer <KLAVIYO_SYNC_DASHBOARD_TOKEN>`` or by the dashboard's
session cookie; with the cookie, a POST must also send the page's ``X-CSRF-Token``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from ..outcome import FailureKind, OutcomeKind
from ..store import FailureFilter
from ._auth import CSRF_HEADER, Gate, Principal
from ._chart import Range
from ._errors import ErrorResponse
from ._monitor import Monitor
from ._monitor_models import (
    FailureDetail,
    FailurePage,
    LinkSearch,
    Overview,
    ResolveRequest,
    RetryReport,
    RetryRequest,
    RunDetail,
    RunItem,
    SyncRequest,
    SyncResult,
)
from ._params import FailureIdPath, LimitQuery, OffsetQuery, RunIdPath

__all__ = ["api_router"]


def _refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


_ACCESS: dict[int | str, dict[str, Any]] = {
    401: _refusal("no credentials, or not the dashboard token"),
    403: _refusal(f"a session's change without the {CSRF_HEADER} header"),
    429: _refusal("too many wrong tokens from this address: wait Retry-After seconds"),
    503: _refusal("KLAVIYO_SYNC_DASHBOARD_TOKEN is not set, or the store is unavailable"),
}
_KLAVIYO: dict[int | str, dict[str, Any]] = {
    502: _refusal("Klaviyo refused the API key or failed to answer"),
    503: _refusal("not configured (API key, source, mapping) or the store is unavailable"),
}


def api_router(monitor: Monitor, gate: Gate) -> APIRouter:
    async def authenticated(request: Request) -> Principal:
        return await gate.api_principal(request, request.method)

    router = APIRouter(
        prefix="/api",
        tags=["dashboard"],
        dependencies=[Depends(authenticated)],
        responses=_ACCESS,
    )

    @router.get("/overview", summary="Integration Monitoring at a glance")
    async def overview(
        span: Annotated[Range, Query(alias="range", description="24h (hourly) or 14d (daily)")] = (
            "24h"
        ),
    ) -> Overview:
        return await monitor.overview(span)

    @router.get("/failures", summary="The error log, newest first, paged")
    async def failures(
        kind: FailureKind | None = None,
        text: Annotated[
            str | None, Query(max_length=200, description="part of the message or customer id")
        ] = None,
        customer_id: Annotated[str | None, Query(max_length=200)] = None,
        include_resolved: bool = False,
        limit: LimitQuery = 50,
        offset: OffsetQuery = 0,
    ) -> FailurePage:
        where = FailureFilter(
            kind=kind,
            text=text or None,
            customer_id=customer_id or None,
            include_resolved=include_resolved,
        )
        return await monitor.failures(where, limit=limit, offset=offset)

    @router.get(
        "/failures/{failure_id}",
        summary="One failure: Klaviyo's answer, the payload sent, the record",
        responses={404: _refusal("no such failure")},
    )
    async def failure(failure_id: FailureIdPath) -> FailureDetail:
        return await monitor.failure(failure_id)

    @router.post(
        "/failures/retry",
        summary="Retry failures now, with each customer's latest state",
        description=(
            "Name failures in `ids`, or set `all` (with `kind`) for the newest open ones, up to "
            "200 per request; `remaining` says how many are left. Each customer is re-read from "
            "KLAVIYO_SYNC_SOURCE when set, else the record kept with the failure is run. A "
            "success resolves the failure."
        ),
        responses={404: _refusal("a named failure does not exist"), **_KLAVIYO},
    )
    async def retry(request: RetryRequest) -> RetryReport:
        return await monitor.retry(request)

    @router.post(
        "/failures/{failure_id}/resolve",
        summary="Mark a failure resolved (it leaves the open log and automatic retries)",
        responses={404: _refusal("no such failure")},
    )
    async def resolve(
        failure_id: FailureIdPath, request: Annotated[ResolveRequest | None, Body()] = None
    ) -> FailureDetail:
        note = (request or ResolveRequest()).note
        return await monitor.resolve(failure_id, note)

    @router.post(
        "/sync",
        summary="Manual Sync: transfer one customer now",
        description=(
            "Reads the customer from KLAVIYO_SYNC_SOURCE and sends it, changed or not. A "
            "transfer that fails still answers 200, with `failure` (it is in the error log)."
        ),
        responses={
            404: _refusal("the customer is not in the source"),
            422: _refusal("the customer's record is malformed"),
            **_KLAVIYO,
        },
    )
    async def manual_sync(request: SyncRequest) -> SyncResult:
        return await monitor.manual_sync(request.customer_id)

    @router.get(
        "/links",
        summary="Links between customers and Klaviyo profiles",
        description=(
            "By `customer_id` or `profile_id` from the store; by `email` through Klaviyo (which "
            "profiles have it), then the store. With none of them: the latest changed links."
        ),
        responses=_KLAVIYO,
    )
    async def links(
        customer_id: Annotated[str | None, Query(max_length=200)] = None,
        email: Annotated[str | None, Query(max_length=320)] = None,
        profile_id: Annotated[str | None, Query(max_length=200)] = None,
        limit: LimitQuery = 50,
    ) -> LinkSearch:
        return await monitor.links(
            customer_id=customer_id, email=email, profile_id=profile_id, limit=limit
        )

    @router.get("/runs", summary="The latest runs, newest first")
    async def runs(limit: LimitQuery = 50) -> list[RunItem]:
        return await monitor.runs(limit)

    @router.get(
        "/runs/{run_id}",
        summary="One run and its outcomes, in the order they were recorded",
        responses={404: _refusal("no such run")},
    )
    async def run(
        run_id: RunIdPath,
        kind: OutcomeKind | None = None,
        limit: LimitQuery = 100,
        offset: OffsetQuery = 0,
    ) -> RunDetail:
        return await monitor.run(run_id, kind=kind, limit=limit, offset=offset)

    return router
