"""The dashboard's pages: Overview, Error Logs, Manual Sync, Links and Runs, plus sign-in.

Plain HTML from Jinja2 templates shipped in the package (autoescaped), one stylesheet and one
small script under ``/static/``. Every page works without JavaScript: forms post and the answer
is a page. With JavaScript, a retry or a resolve is sent to ``/api/`` and its result shown in
place. Pages call the same ``Monitor`` as the API.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import TypeAdapter, ValidationError

from ..outcome import FAILURE_KINDS
from ..store import FailureFilter
from ._auth import CSRF_FIELD, Gate, Session, client_address
from ._chart import RANGES, Range, layout
from ._errors import HtmlRenderer, WebError, wants_html
from ._hooks import read_body
from ._monitor import Monitor
from ._monitor_models import MAX_RETRY_IDS, OUTCOME_KINDS, RetryRequest, SyncResult
from ._params import (
    MAX_ID,
    FailureIdPath,
    LimitQuery,
    OffsetQuery,
    RunIdPath,
    StoreId,
    range_message,
)
from ._throttle import Throttled

__all__ = ["STATIC_DIR", "LoginRequired", "html_error", "login_redirect", "page_router"]

logger = logging.getLogger("klaviyo_sync.web")

STATIC_DIR = Path(__file__).parent / "static"
MAX_FORM_BYTES = 64 * 1024
PAGE_SIZE = 50
_FAILURE_ID: TypeAdapter[int] = TypeAdapter(StoreId)

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _count(n: int, noun: str) -> str:
    """``1 customer``, ``2,000 customers``: a number with its noun, singular for one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "—"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _breakable(text: Any) -> Markup:
    """``text`` escaped, free to wrap after each single ``/``: a path or a URL breaks between
    its parts rather than anywhere."""
    return Markup(re.sub(r"/(?!/)", "/<wbr>", str(escape(str(text)))))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("klaviyo_sync.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pretty"] = _pretty
    env.filters["breakable"] = _breakable
    env.filters["num"] = lambda n: f"{n:,}"
    env.filters["count"] = _count
    env.filters["words"] = lambda s: str(s).replace("_", " ")
    env.globals["FAILURE_KINDS"] = FAILURE_KINDS
    env.globals["OUTCOME_KINDS"] = OUTCOME_KINDS
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    return env


_TEMPLATES = _environment()


def render(
    name: str, *, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    html = _TEMPLATES.get_template(name).render(
        signed_in=session is not None, csrf=session.csrf if session else "", **context
    )
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


class LoginRequired(Exception):
    """Raised by a page for a browser without a session: it is sent to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?{urlencode({'next': exc.next_path})}", status_code=303)


def html_error(gate: Gate) -> HtmlRenderer:
    """The renderer for refusals on page routes (see ``wants_html``)."""

    async def page(request: Request, status: int, code: str, message: str) -> Response:
        session = await _shown_session(gate, request)
        return render(
            "error.html",
            session=session,
            status=status,
            title="Not available" if status == 503 else "Something went wrong",
            nav=None,
            status_code=status,
            code=code,
            message=message,
        )

    return page


async def _shown_session(gate: Gate, request: Request) -> Session | None:
    """Whether an error page shows the signed-in navigation; a store that cannot say (the
    error may be that very store) leaves it out rather than failing the error page."""
    if not gate.configured:
        return None
    try:
        return await gate.session_of(request)
    except WebError:
        return None


def _login_page(target: str, status: int, error: str) -> HTMLResponse:
    return render(
        "login.html",
        session=None,
        status=status,
        title="Sign in",
        nav=None,
        next=target,
        error=error,
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (``//evil``, ``/\\evil``, a scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


async def _form(request: Request) -> dict[str, list[str]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise WebError(415, "unsupported_media_type", "send the form as a web form")
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise WebError(400, "invalid_form", "the form could not be read") from None


def _one(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _kind(value: str | None, *, status: int = 422) -> str | None:
    """A failure kind from a form (422 when unknown) or a page's query (``status=400``)."""
    if not value:
        return None
    if value not in FAILURE_KINDS:
        raise WebError(status, "invalid_request", f"{value!r} is not a failure kind")
    return value


def _retry_request(form: dict[str, list[str]]) -> RetryRequest:
    """What the Error Logs' retry form asks for: ticked ids, or all (of a kind)."""
    if _one(form, "all"):
        return RetryRequest.model_validate({"all": True, "kind": _kind(_one(form, "kind"))})
    try:
        ids = [_FAILURE_ID.validate_python(value) for value in form.get("id", [])]
    except ValidationError:
        raise WebError(422, "invalid_request", f"id: {range_message(1, MAX_ID)}") from None
    if not ids:
        raise WebError(422, "nothing_selected", "select at least one failure")
    if len(ids) > MAX_RETRY_IDS:
        raise WebError(422, "invalid_request", f"select at most {MAX_RETRY_IDS} failures")
    return RetryRequest(ids=ids)


def _query(base: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", False, 0)}
    return f"{base}?{urlencode(kept)}" if kept else base


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.dashboard_gate
    return gate


async def _signed_in(request: Request) -> Session:
    """The browser's session; without one, off to the login form (and back here after)."""
    gate = _gate(request)
    gate.require_configured()
    session = await gate.session_of(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return session


SignedIn = Annotated[Session, Depends(_signed_in)]


async def _posted(request: Request, session: SignedIn) -> dict[str, list[str]]:
    """A signed-in browser's form, with its CSRF token checked."""
    form = await _form(request)
    _gate(request).require_csrf(session, _one(form, CSRF_FIELD) or None)
    return form


Posted = Annotated[dict[str, list[str]], Depends(_posted)]


def page_router(monitor: Monitor, gate: Gate) -> APIRouter:
    """The pages; ``gate`` must also be on ``app.state.dashboard_gate`` for the dependencies."""
    router = APIRouter(include_in_schema=False, dependencies=[Depends(wants_html)])

    # signing in and out

    @router.get("/login")
    async def login_form(request: Request, next: str | None = None) -> Response:
        gate.require_configured()
        if await gate.session_of(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return render(
            "login.html", session=None, title="Sign in", nav=None, next=_safe_next(next), error=None
        )

    @router.post("/login")
    async def login(request: Request) -> Response:
        gate.require_configured()
        form = await _form(request)
        target = _safe_next(_one(form, "next"))
        client = client_address(request)
        try:
            session = await gate.sign_in(client, _one(form, "token"))
        except Throttled as err:
            # Not logged: under attack that would be a line per request.
            wait = f"try again in {err.retry_after} s"
            page = _login_page(target, 429, f"Too many wrong tokens from your address: {wait}.")
            page.headers["Retry-After"] = str(err.retry_after)
            return page
        if session is None:
            logger.warning("dashboard sign-in from %s refused: wrong token", client)
            return _login_page(target, 401, "That is not the dashboard token.")
        response = RedirectResponse(target, status_code=303)
        gate.set_cookie(response, session, secure=request.url.scheme == "https")
        return response

    @router.post("/logout")
    async def logout(request: Request, session: SignedIn, form: Posted) -> Response:
        await gate.revoke(session)
        response = RedirectResponse("/login", status_code=303)
        gate.clear_cookie(response, secure=request.url.scheme == "https")
        return response

    # Overview

    @router.get("/")
    async def overview(
        session: SignedIn, span: Annotated[Range, Query(alias="range")] = "24h"
    ) -> Response:
        data = await monitor.overview(span)
        return render(
            "overview.html",
            session=session,
            title="Overview",
            nav="overview",
            o=data,
            chart=layout(data.chart),
            span=span,
            ranges=list(RANGES),
        )

    # Error Logs

    @router.get("/failures")
    async def failures(
        session: SignedIn,
        kind: Annotated[str, Query(max_length=40)] = "",
        text: Annotated[str, Query(max_length=200)] = "",
        include_resolved: bool = False,
        offset: OffsetQuery = 0,
        limit: LimitQuery = PAGE_SIZE,
    ) -> Response:
        where = FailureFilter(
            kind=_kind(kind, status=400),
            text=text.strip() or None,
            include_resolved=include_resolved,
        )
        data = await monitor.failures(where, limit=limit, offset=offset)
        link_filters = {
            "kind": where.kind,
            "text": where.text,
            "include_resolved": where.include_resolved,
            "limit": limit if limit != PAGE_SIZE else None,
        }
        return render(
            "failures.html",
            session=session,
            title="Error Logs",
            nav="failures",
            page=data,
            kind=where.kind or "",
            text=text,
            include_resolved=include_resolved,
            previous=_query("/failures", **link_filters, offset=max(offset - limit, 0))
            if offset > 0
            else None,
            following=_query("/failures", **link_filters, offset=offset + limit)
            if offset + limit < data.total
            else None,
            max_retry=MAX_RETRY_IDS,
        )

    @router.get("/failures/{failure_id}")
    async def failure(session: SignedIn, failure_id: FailureIdPath) -> Response:
        data = await monitor.failure(failure_id)
        return render(
            "failure.html",
            session=session,
            title=f"Failure {failure_id}",
            nav="failures",
            f=data,
        )

    @router.post("/failures/retry")
    async def retry(session: SignedIn, form: Posted) -> Response:
        report = await monitor.retry(_retry_request(form))
        return render(
            "retried.html",
            session=session,
            title="Retry results",
            nav="failures",
            report=report,
            back=_safe_next(_one(form, "back", "/failures")),
        )

    @router.post("/failures/{failure_id}/resolve")
    async def resolve(session: SignedIn, failure_id: FailureIdPath, form: Posted) -> Response:
        note = _one(form, "note").strip()[:500] or "resolved in the dashboard"
        await monitor.resolve(failure_id, note)
        return RedirectResponse(f"/failures/{failure_id}", status_code=303)

    # Manual Sync

    @router.get("/sync")
    async def sync_form(session: SignedIn) -> Response:
        return _sync_page(session, customer_id="")

    @router.post("/sync")
    async def sync(session: SignedIn, form: Posted) -> Response:
        customer_id = _one(form, "customer_id").strip()
        if not customer_id or len(customer_id) > 200:
            message = "Enter a customer id of at most 200 characters, e.g. 55260."
            return _sync_page(session, customer_id=customer_id[:200], status=422, error=message)
        try:
            result = await monitor.manual_sync(customer_id)
        except WebError as err:
            # Shown beside the form, so the id can be corrected and sent again.
            return _sync_page(
                session, customer_id=customer_id, status=err.status, error=err.message
            )
        return _sync_page(session, customer_id=customer_id, result=result)

    def _sync_page(
        session: Session,
        *,
        customer_id: str,
        status: int = 200,
        result: SyncResult | None = None,
        error: str | None = None,
    ) -> Response:
        return render(
            "sync.html",
            session=session,
            status=status,
            title="Manual Sync",
            nav="sync",
            source=monitor.settings.source is not None,
            customer_id=customer_id,
            result=result,
            error=error,
        )

    # Links

    @router.get("/links")
    async def links(
        session: SignedIn,
        by: Annotated[str, Query(pattern="^(customer_id|email|profile_id)$")] = "customer_id",
        q: Annotated[str, Query(max_length=320)] = "",
    ) -> Response:
        query = q.strip()
        search: dict[str, Any] = {by: query} if query else {}
        data = await monitor.links(**search)
        return render(
            "links.html", session=session, title="Links", nav="links", by=by, q=query, found=data
        )

    # Runs

    @router.get("/runs")
    async def runs(session: SignedIn) -> Response:
        data = await monitor.runs(100)
        return render("runs.html", session=session, title="Runs", nav="runs", runs=data)

    @router.get("/runs/{run_id}")
    async def run(
        session: SignedIn,
        run_id: RunIdPath,
        kind: Annotated[str, Query(max_length=40)] = "",
        offset: OffsetQuery = 0,
    ) -> Response:
        chosen = kind if kind in OUTCOME_KINDS else None
        if kind and chosen is None:
            raise WebError(400, "invalid_request", f"{kind!r} is not an outcome kind")
        data = await monitor.run(run_id, kind=chosen, limit=PAGE_SIZE * 2, offset=offset)
        total = data.run.counts.get(chosen, 0) if chosen else data.run.total
        step = PAGE_SIZE * 2
        base = f"/runs/{run_id}"
        return render(
            "run.html",
            session=session,
            title=f"Run {run_id}",
            nav="runs",
            d=data,
            total=total,
            kind=chosen or "",
            previous=_query(base, kind=chosen, offset=max(offset - step, 0)) if offset else None,
            following=_query(base, kind=chosen, offset=offset + step)
            if offset + step < total
            else None,
        )

    return router
