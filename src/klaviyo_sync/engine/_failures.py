"""Turning an exception into an error-log entry: one function decides the failure kind."""

from __future__ import annotations

from typing import Any

from ..exceptions import (
    FormulaError,
    InvalidRecordError,
    KlaviyoAPIError,
    KlaviyoAuthError,
    KlaviyoConflictError,
    KlaviyoNotFoundError,
    KlaviyoRateLimitedError,
    KlaviyoUnavailableError,
    KlaviyoValidationError,
)
from ..outcome import Failure, FailureKind, Outcome, Stage

__all__ = ["failed", "failure_from_error"]

_PHONE_POINTER = "/data/attributes/phone_number"


def _kind(error: BaseException) -> FailureKind:
    match error:
        case KlaviyoValidationError(pointer=pointer) if pointer == _PHONE_POINTER:
            return "phone_rejected"
        case KlaviyoValidationError():
            return "invalid"
        case KlaviyoNotFoundError():
            return "not_found"
        case KlaviyoConflictError():
            return "conflict"
        case KlaviyoRateLimitedError():
            return "rate_limited"
        case KlaviyoUnavailableError():
            return "klaviyo_unavailable"
        case KlaviyoAuthError():
            return "auth"
        case FormulaError():
            return "formula_error"
        case InvalidRecordError():
            return "invalid_record"
    return "unexpected"


def _klaviyo_detail(error: KlaviyoAPIError) -> dict[str, Any]:
    # Built from Klaviyo's answer and the request line only: never from request headers.
    fields = {
        "status": error.status,
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
        "pointer": error.pointer,
        "parameter": error.parameter,
        "request_id": error.request_id,
        "request": f"{error.method} {error.path}" if error.method else None,
        "response": error.body,
    }
    return {key: value for key, value in fields.items() if value is not None}


def failure_from_error(
    error: BaseException,
    *,
    stage: Stage,
    customer_id: str | None,
    payload: Any = None,
) -> Failure:
    """The failure for ``error`` at ``stage``; ``payload`` is what was sent, if anything."""
    kind = _kind(error)
    detail: dict[str, Any] = {"error": type(error).__name__}
    if isinstance(error, KlaviyoAPIError):
        detail["klaviyo"] = _klaviyo_detail(error)
    if isinstance(error, InvalidRecordError) and error.where:
        detail["where"] = error.where
    if payload is not None:
        detail["payload"] = payload
    message = str(error) or type(error).__name__
    if isinstance(error, KlaviyoAPIError) and error.detail and error.detail not in message:
        message = f"{message}: {error.detail}"
    return Failure(
        customer_id=customer_id,
        stage=stage,
        kind=kind,
        message=message,
        retryable=kind in ("klaviyo_unavailable", "rate_limited"),
        detail=detail,
    )


def failed(
    customer_id: str,
    failure: Failure,
    *,
    profile_id: str | None = None,
    route: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Outcome:
    """A failed outcome carrying its failure."""
    return Outcome(
        customer_id=customer_id,
        kind="failed",
        profile_id=profile_id,
        route=route,
        detail=detail or {},
        failure=failure,
    )
