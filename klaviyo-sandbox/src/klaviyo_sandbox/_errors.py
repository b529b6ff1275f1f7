"""Klaviyo's error envelope, and the one exception handlers raise to produce it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ApiError",
    "ApiErrors",
    "conflict_duplicate",
    "envelope",
    "invalid",
    "not_found",
]

_TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    410: "Gone.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    503: "Service unavailable.",
}


class ApiError(Exception):
    """An error answer in Klaviyo's shape; raise it anywhere below a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title or _TITLES.get(status, "Error.")
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.meta = meta or {}
        self.headers = headers or {}

    def item(self) -> dict[str, Any]:
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        return {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": source,
            "links": {},
            "meta": dict(self.meta),
        }

    def body(self) -> dict[str, Any]:
        return envelope(self)


class ApiErrors(ApiError):
    """Several errors in one answer: a bulk import job refused for each of its bad rows."""

    def __init__(self, errors: Sequence[ApiError]) -> None:
        if not errors:
            raise ValueError("ApiErrors needs at least one error")
        first = errors[0]
        super().__init__(
            first.status,
            first.code,
            first.detail,
            title=first.title,
            pointer=first.pointer,
            parameter=first.parameter,
            meta=first.meta,
            headers=first.headers,
        )
        self.errors = list(errors)

    def body(self) -> dict[str, Any]:
        return envelope(*self.errors)


def envelope(*errors: ApiError) -> dict[str, Any]:
    return {"errors": [error.item() for error in errors]}


def invalid(detail: str, *, pointer: str | None = None, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid", detail, pointer=pointer, parameter=parameter)


def not_found(detail: str, *, pointer: str | None = None) -> ApiError:
    return ApiError(404, "not_found", detail, pointer=pointer)


def conflict_duplicate(profile_id: str, field: str, pointer: str) -> ApiError:
    return ApiError(
        409,
        "duplicate_profile",
        f"A profile already exists with one of these identifiers ({field}).",
        pointer=pointer,
        meta={"duplicate_profile_id": profile_id},
    )
