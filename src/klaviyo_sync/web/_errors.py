"""One error envelope for the whole app: ``{"error": {"code": …, "message": …}}``.

Webhook senders, the dashboard's JSON API and load balancers all get the same small shape, so
FastAPI's own ``{"detail": …}`` answers (404, 405, request validation) and Starlette's plain-text
500 are rewritten into it.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = ["ErrorDetail", "ErrorResponse", "WebError", "error_response", "install_error_handlers"]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable, e.g. `signature_mismatch`")
    message: str = Field(description="what is wrong, for a person")


class ErrorResponse(BaseModel):
    """Every refusal the app sends."""

    error: ErrorDetail


class WebError(Exception):
    """Raised by a handler to answer with the error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)


# Starlette types handlers as taking any Exception; each is registered for one class only.


async def _web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    return error_response(exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) else status.phrase
    response = error_response(exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    )
    return error_response(422, "invalid_request", problems or "the request is invalid")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback; the client learns only that it was not its fault.
    return error_response(500, "internal_error", "the server failed to handle this request")
