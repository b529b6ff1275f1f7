"""Turn a Klaviyo response, or a failure to get one, into the exception tree.

``error_from_response`` is the only place that decides which status means what; the send loop
and every endpoint rely on it. Messages are built from the response body and the request's
method and path, never from its headers, so the API key cannot leak into them. They say what
to do where there is something to do: a key Klaviyo refuses names ``KLAVIYO_API_KEY`` (a 403,
the key's scopes), a Klaviyo that cannot be reached names where it was looked for (the base URL,
which is not secret) and ``KLAVIYO_BASE_URL``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import httpx

from ..exceptions import (
    KlaviyoAPIError,
    KlaviyoAuthError,
    KlaviyoConflictError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoRateLimitedError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
    KlaviyoUnexpectedError,
    KlaviyoValidationError,
)

__all__ = ["error_from_response", "error_from_transport", "parse_retry_after"]

# Klaviyo has answered a bad key with 400 as well as 401; the code is the reliable signal.
_AUTH_CODES = frozenset({"not_authenticated", "authentication_failed", "permission_denied"})
_REQUEST_ID_HEADERS = ("x-request-id", "x-klaviyo-request-id", "cf-ray")
_MAX_TEXT = 500


@dataclass(slots=True)
class _ErrorItem:
    """The fields of the first ``errors[]`` item that we keep."""

    code: str | None = None
    title: str | None = None
    detail: str | None = None
    pointer: str | None = None
    parameter: str | None = None
    error_id: str | None = None
    meta: dict[str, Any] | None = None


def error_from_response(response: httpx.Response) -> KlaviyoAPIError | None:
    """The exception for ``response``, or None when it is a success (2xx)."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = _decode(response)
    item = _first_error(body)
    kw = _common_fields(response, body, item)
    cls = _class_for(status, item.code)
    message = _message(kw, item)
    if cls is KlaviyoAuthError:
        message = f"{message.rstrip('.')}. {_auth_advice(status, item.code)}"
    if cls is KlaviyoDuplicateProfileError:
        duplicate = (item.meta or {}).get("duplicate_profile_id")
        return KlaviyoDuplicateProfileError(
            message, duplicate_profile_id=str(duplicate) if duplicate else None, **kw
        )
    if cls is KlaviyoRateLimitedError:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return KlaviyoRateLimitedError(message, retry_after=retry_after, **kw)
    return cls(message, **kw)


def error_from_transport(
    exc: httpx.RequestError, method: str, path: str
) -> KlaviyoUnavailableError | KlaviyoUnexpectedError:
    """The exception for a request that got no usable response.

    The httpx exception is summarised, not chained: it holds the request, headers and all. The
    message says where Klaviyo was looked for (scheme, host and port of the request: never a
    user or password in the URL, never a header) and what to check.
    """
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    kw: dict[str, Any] = {"method": method, "path": path}
    base = _base_url(exc)
    at = f" at {base}" if base else ""
    if isinstance(exc, httpx.TimeoutException):
        return KlaviyoTimeoutError(
            f"{method} {path} timed out: Klaviyo{at} did not answer in time ({what}); it may be "
            f"slow or unreachable: check the network{_sandbox_hint(base)}, or try again later",
            **kw,
        )
    if isinstance(exc, httpx.TransportError):
        return KlaviyoUnavailableError(
            f"{method} {path} could not reach Klaviyo{at} ({what}): check KLAVIYO_BASE_URL "
            f"and the network{_sandbox_hint(base)}",
            **kw,
        )
    return KlaviyoUnexpectedError(f"{method} {path} failed ({what})", **kw)


def _base_url(exc: httpx.RequestError) -> str | None:
    """Where the request went, as ``scheme://host[:port]``, or None when it is not known."""
    try:
        url = exc.request.url
    except RuntimeError:  # an exception made without its request
        return None
    if not url.host:
        return None
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


def _sandbox_hint(base: str | None) -> str:
    """Klaviyo itself is somewhere else: at a loopback address it is the sandbox, or nothing."""
    if base is None:
        return ""
    host = httpx.URL(base).host
    if host in ("localhost", "::1") or host.startswith("127."):
        return ", and that the sandbox is running there (klaviyo-sync sandbox)"
    return ""


def _auth_advice(status: int, code: str | None) -> str:
    """What to do about a key Klaviyo refused: the key itself, or what it may do (scopes)."""
    if status == 403 or code == "permission_denied":
        return (
            "The API key lacks a permission this request needs: give the private key in "
            "KLAVIYO_API_KEY the profiles, lists and subscriptions scopes (read and write) in "
            "Klaviyo's API key settings"
        )
    return (
        "Klaviyo did not accept the API key: check KLAVIYO_API_KEY (a private API key of this "
        "Klaviyo account, starting pk_, not revoked)"
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or not a number.

    Klaviyo sends whole seconds; an HTTP date is not something it sends, so it is ignored.
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _class_for(status: int, code: str | None) -> type[KlaviyoAPIError]:
    if code in _AUTH_CODES and 400 <= status < 500:
        return KlaviyoAuthError
    if status in (400, 422):
        return KlaviyoValidationError
    if status in (401, 403):
        return KlaviyoAuthError
    if status == 404:
        return KlaviyoNotFoundError
    if status == 409:
        return KlaviyoDuplicateProfileError if code == "duplicate_profile" else KlaviyoConflictError
    if status == 429:
        return KlaviyoRateLimitedError
    if status == 408:
        return KlaviyoTimeoutError
    if status >= 500:
        return KlaviyoUnavailableError
    return KlaviyoUnexpectedError


def _decode(response: httpx.Response) -> Any:
    """The body as JSON, else its text (cut short), else None."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return response.text[:_MAX_TEXT]


def _first_error(body: Any) -> _ErrorItem:
    if isinstance(body, str):
        return _ErrorItem(detail=body.strip() or None)
    if not isinstance(body, dict):
        return _ErrorItem()
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        # Gateways and older endpoints answer {"detail": "…"} or {"message": "…"}.
        return _ErrorItem(detail=_str(body.get("detail") or body.get("message")))
    first = errors[0]
    source: dict[str, Any] = first["source"] if isinstance(first.get("source"), dict) else {}
    meta: dict[str, Any] | None = first["meta"] if isinstance(first.get("meta"), dict) else None
    return _ErrorItem(
        code=_str(first.get("code")),
        title=_str(first.get("title")),
        detail=_str(first.get("detail")),
        pointer=_str(source.get("pointer")),
        parameter=_str(source.get("parameter")),
        error_id=_str(first.get("id")),
        meta=meta,
    )


def _common_fields(response: httpx.Response, body: Any, item: _ErrorItem) -> dict[str, Any]:
    request = response.request
    request_id = item.error_id or next(
        (response.headers[h] for h in _REQUEST_ID_HEADERS if h in response.headers), None
    )
    return {
        "status": response.status_code,
        "code": item.code,
        "title": item.title,
        "detail": item.detail,
        "pointer": item.pointer,
        "parameter": item.parameter,
        "request_id": request_id,
        "method": request.method,
        "path": request.url.path,
        "body": body,
    }


def _message(kw: dict[str, Any], item: _ErrorItem) -> str:
    """``POST /api/profiles/ failed with 400 (invalid): Invalid phone number format ...``."""
    code = f" ({item.code})" if item.code else ""
    reason = item.detail or item.title or "no detail"
    where = item.pointer or item.parameter
    message = f"{kw['method']} {kw['path']} failed with {kw['status']}{code}: {reason}"
    if where:
        message += f" (at {where})"
    if kw["request_id"]:
        message += f" [request {kw['request_id']}]"
    return message


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
