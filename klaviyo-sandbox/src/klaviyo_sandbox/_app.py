"""The ASGI app: Klaviyo's request checks in Klaviyo's order, then the operation's handler.

For every /api request: catch jobs up with the clock, route (404/405), authenticate (401),
check the revision (400, or 410 for a retired one), count it against the operation's rate
limit (429), apply any injected fault, check the content type (415) and size (413), parse the
body (400), check the sparse fieldsets and ``include`` (400), run the handler, and log the
request. Anything unexpected becomes a 500 in the same envelope.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import Receive, Scope, Send

from ._admin import admin_routes
from ._config import SandboxConfig
from ._errors import ApiError
from ._faults import DroppedConnection, FaultOutcome
from ._query import Query
from ._revisions import check_revision
from ._routes import OPERATIONS
from ._routing import Context, Operation, Reply, Router, check_sparse
from ._sandbox import RequestRecord, Sandbox
from ._validation import loads_strict, parse_json

__all__ = ["JSON_API", "create_app"]

JSON_API = "application/vnd.api+json"
_KEY_SHAPE = re.compile(r"^pk_[A-Za-z0-9]+$")
_FAULT_CODES = {
    429: "throttled",
    500: "error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

logger = logging.getLogger("klaviyo_sandbox")


class _DroppedResponse(Response):
    """Starts the answer, then dies: the server closes the socket, the client sees it cut."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        raise DroppedConnection("the sandbox dropped this connection on purpose")


def _json_response(reply: Reply, headers: dict[str, str], *, drop: bool) -> Response:
    content = b"" if reply.body is None else json.dumps(reply.body).encode()
    media_type = None if reply.body is None else JSON_API
    kind = _DroppedResponse if drop else Response
    return kind(content, status_code=reply.status, headers=headers, media_type=media_type)


def _authenticate(request: Request, expected: str | None) -> None:
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise ApiError(401, "not_authenticated", "Authentication credentials were not provided.")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if expected is not None:
        good = hmac.compare_digest(key.encode(), expected.encode())
    else:
        good = _KEY_SHAPE.match(key) is not None
    if scheme.lower() != "klaviyo-api-key" or not good:
        # Never echo the key: errors end up in logs.
        raise ApiError(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
            title="Incorrect authentication credentials.",
        )


def _throttled(retry_after: int) -> ApiError:
    unit = "second" if retry_after == 1 else "seconds"
    return ApiError(
        429,
        "throttled",
        f"Request was throttled. Expected available in {retry_after} {unit}.",
        headers={"Retry-After": str(retry_after)},
    )


def _fault_reply(outcome: FaultOutcome) -> Reply:
    status = outcome.status or 500
    error = ApiError(
        status,
        _FAULT_CODES.get(status, "error"),
        "The sandbox injected this fault.",
        headers={"Retry-After": "1"} if status == 429 else None,
    )
    return Reply(status, error.body(), error.headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_body(request: Request, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def _loggable(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return loads_strict(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", errors="replace")


class _Api:
    """The /api endpoint: one callable for every path, so every answer is Klaviyo-shaped."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.router = Router(OPERATIONS)

    async def handle(self, request: Request) -> Response:
        sandbox = self.sandbox
        sandbox.process_jobs()
        raw, too_large = await _read_body(request, sandbox.config.max_body_bytes)
        query = Query.from_string(request.url.query)
        headers: dict[str, str] = {}
        operation: Operation | None = None
        outcome: FaultOutcome | None = None
        body: Any = None
        try:
            operation, params = self.router.match(request.method, request.scope["path"])
            reply, body, outcome = await self._serve(
                request, operation, params, query, raw, too_large, headers
            )
        except ApiError as err:
            reply = Reply(err.status, err.body(), err.headers)
        except Exception:
            logger.exception("sandbox: unexpected error on %s %s", request.method, request.url.path)
            crash = ApiError(
                500, "error", "The sandbox failed unexpectedly; this is a sandbox bug."
            )
            reply = Reply(500, crash.body())
        headers.update(reply.headers)
        drop = outcome is not None and outcome.drop
        sandbox.record(
            RequestRecord(
                method=request.method,
                path=request.scope["path"],
                query=query.params,
                status=None if drop else reply.status,
                body=body if body is not None else _loggable(raw),
                operation_id=None if operation is None else operation.operation_id,
                at=sandbox.clock.now(),
                dropped=drop,
            )
        )
        return _json_response(reply, headers, drop=drop)

    async def _serve(
        self,
        request: Request,
        operation: Operation,
        params: dict[str, str],
        query: Query,
        raw: bytes,
        too_large: bool,
        headers: dict[str, str],
    ) -> tuple[Reply, Any, FaultOutcome | None]:
        sandbox = self.sandbox
        _authenticate(request, sandbox.config.api_key)
        check_revision(request.headers.get("revision", "").strip(), sandbox.clock.now())
        with sandbox.lock:
            decision = sandbox.limiter.check(operation.operation_id)
            if not decision.allowed:
                raise _throttled(decision.retry_after)
            headers.update(decision.headers)
            outcome = sandbox.faults.outcome(operation.operation_id)
        if outcome is not None and outcome.latency:
            await sandbox.clock.sleep(outcome.latency)
        if outcome is not None and outcome.fails and not outcome.after:
            return _fault_reply(outcome), None, outcome
        body = None
        try:
            ctx = self._context(request, operation, params, query, raw, too_large)
            body = ctx.body
            if operation.handler is None:
                raise ApiError(
                    404,
                    "not_found",
                    f"{operation.operation_id} is part of Klaviyo's API but not emulated by the "
                    "sandbox.",
                )
            check_sparse(query, operation)
            with sandbox.lock:
                reply = operation.handler(ctx)
        except ApiError as err:
            reply = Reply(err.status, err.body(), err.headers)
        if outcome is not None and outcome.fails:
            reply = _fault_reply(outcome)  # the write happened; its answer is lost
        return reply, body, outcome

    def _context(
        self,
        request: Request,
        operation: Operation,
        params: dict[str, str],
        query: Query,
        raw: bytes,
        too_large: bool,
    ) -> Context:
        body: Any = None
        if operation.takes_body:
            if too_large:
                limit = self.sandbox.config.max_body_bytes
                raise ApiError(
                    413,
                    "request_too_large",
                    f"The request body is larger than the {limit:,} bytes allowed.",
                )
            media_type = _media_type(request)
            if media_type != JSON_API:
                shown = media_type[:60] or "none"
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    f'Unsupported media type "{shown}" in request; use {JSON_API}.',
                )
            body = parse_json(raw)
        return Context(
            sandbox=self.sandbox,
            params=params,
            query=query,
            body=body,
            base=str(request.base_url).rstrip("/"),
            url=str(request.url),
            path=request.url.path,
            size=len(raw),
        )


class _EveryPath(BaseRoute):
    """Catches every request the admin routes leave, whatever its path or method.

    Starlette's own path patterns stop at a newline and answer 404/405 in plain text; the API
    must answer everything in Klaviyo's envelope, so it matches unconditionally.
    """

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """The sandbox as an ASGI app; ``app.state.sandbox`` is its state."""
    sandbox = Sandbox(config or SandboxConfig())
    api = _Api(sandbox)
    app = Starlette(routes=[*admin_routes(sandbox), _EveryPath(api.handle)])
    app.state.sandbox = sandbox
    return app
