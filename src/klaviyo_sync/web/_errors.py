"""One error envelope for the whole app: ``{"error": {"code": …, "message": …}}``.

Webhook senders, the dashboard's JSON API and load balancers all get the same small shape, so
FastAPI's own ``{"detail": …}`` answers (404, 405, request validation) and Starlette's plain-text
500 are rewritten into it. A dashboard page is the exception: a request that a page route marked
with :func:`wants_html` gets the same refusal as an HTML page, from the renderer the dashboard
installs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = [
    "ErrorDetail",
    "ErrorResponse",
    "HtmlRenderer",
    "WebError",
    "error_response",
    "install_error_handlers",
    "wants_html",
]

HtmlRenderer = Callable[[Request, int, str, str], Awaitable[Response]]
"""Renders (request, status, code, message) as a page."""


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable, e.g. `signature_mismatch`")
    message: str = Field(description="what is wrong, for a person")


class ErrorResponse(BaseModel):
    """Every refusal the app sends."""

    error: ErrorDetail


class WebError(Exception):
    """Raised by a handler to answer with the error envelope."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def wants_html(request: Request) -> None:
    """A dependency for page routes: their refusals are rendered as pages, not JSON."""
    request.state.wants_html = True


def error_response(status: int, code: str, message: str) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status)


def install_error_handlers(app: FastAPI, *, html: HtmlRenderer | None = None) -> None:
    app.state.html_errors = html
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)


# Starlette types handlers as taking any Exception; each is registered for one class only.


async def _refusal(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None
) -> Response:
    html: HtmlRenderer | None = getattr(request.app.state, "html_errors", None)
    if html is not None and getattr(request.state, "wants_html", False):
        response = await html(request, status, code, message)
    else:
        response = error_response(status, code, message)
    if headers:
        response.headers.update(headers)
    return response


async def _web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    return await _refusal(request, exc.status, exc.code, exc.message, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) else status.phrase
    return await _refusal(request, exc.status_code, code, message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    )
    message = problems or "the request is invalid"
    return await _refusal(
        request, _validation_status(request, exc), "invalid_request", message, None
    )


def _validation_status(request: Request, exc: RequestValidationError) -> int:
    """422 for the API. A page answers as a browser expects: a path that names something that
    cannot exist (``/failures/-1``) is not found, a bad query is a bad request."""
    if not getattr(request.state, "wants_html", False):
        return 422
    in_path = any(tuple(err.get("loc", ()))[:1] == ("path",) for err in exc.errors())
    return 404 if in_path else 400


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback; the client learns only that it was not its fault.
    message = "the server failed to handle this request"
    return await _refusal(request, 500, "internal_error", message, None)
