"""Status → exception: one table, one function (``error_from_response``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from klaviyo_sync.exceptions import (
    FatalError,
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
    RecordError,
    RetryableError,
)
from klaviyo_sync.klaviyo import error_from_response, error_from_transport
from klaviyo_sync.klaviyo._errors import parse_retry_after

from .fakes import Canned, error

URL = "https://a.klaviyo.com/api/profiles/01ABC"


def respond(canned: Canned, method: str = "PATCH") -> httpx.Response:
    response = canned.build()
    response.request = httpx.Request(method, URL)
    return response


INVALID_PHONE = error(
    400,
    "invalid",
    "Invalid phone number format (Example of a valid format: +12345678901)",
    pointer="/data/attributes/phone_number",
)
DUPLICATE = error(
    409,
    "duplicate_profile",
    "A profile already exists with one of these identifiers.",
    meta={"duplicate_profile_id": "01DUP"},
)

TABLE: list[tuple[str, Canned, type[KlaviyoAPIError], dict[str, Any]]] = [
    (
        "400 invalid phone",
        INVALID_PHONE,
        KlaviyoValidationError,
        {"code": "invalid", "pointer": "/data/attributes/phone_number", "status": 400},
    ),
    (
        "400 bad parameter",
        error(400, "invalid", "bad filter", parameter="filter"),
        KlaviyoValidationError,
        {"parameter": "filter", "pointer": None},
    ),
    ("422", error(422, "invalid", "unprocessable"), KlaviyoValidationError, {"status": 422}),
    ("401", error(401, "not_authenticated"), KlaviyoAuthError, {"code": "not_authenticated"}),
    ("403", error(403, "permission_denied"), KlaviyoAuthError, {"status": 403}),
    ("400 bad key", error(400, "not_authenticated"), KlaviyoAuthError, {"status": 400}),
    ("404", error(404, "not_found"), KlaviyoNotFoundError, {"request_id": "err-404-not_found"}),
    (
        "409 duplicate",
        DUPLICATE,
        KlaviyoDuplicateProfileError,
        {"duplicate_profile_id": "01DUP", "code": "duplicate_profile"},
    ),
    ("409 other", error(409, "conflict"), KlaviyoConflictError, {"code": "conflict"}),
    (
        "429",
        error(429, "throttled", headers={"Retry-After": "7"}),
        KlaviyoRateLimitedError,
        {"retry_after": 7.0},
    ),
    ("429 no header", error(429, "throttled"), KlaviyoRateLimitedError, {"retry_after": None}),
    ("500", error(500, "error"), KlaviyoUnavailableError, {"status": 500}),
    ("502 html", Canned(502, raw=b"<html>Bad gateway</html>"), KlaviyoUnavailableError, {}),
    ("503 empty", Canned(503), KlaviyoUnavailableError, {"detail": None, "code": None}),
    ("504", error(504, "timeout"), KlaviyoUnavailableError, {}),
    ("408", Canned(408), KlaviyoTimeoutError, {}),
    ("405", error(405, "method_not_allowed"), KlaviyoUnexpectedError, {"status": 405}),
    ("415", error(415, "unsupported_media_type"), KlaviyoUnexpectedError, {}),
    ("301", Canned(301, headers={"Location": "/elsewhere"}), KlaviyoUnexpectedError, {}),
    (
        "detail-only body",
        Canned(400, raw=b'{"detail": "JSON parse error"}'),
        KlaviyoValidationError,
        {"detail": "JSON parse error", "code": None},
    ),
    (
        "text body",
        Canned(400, raw=b"not json at all"),
        KlaviyoValidationError,
        {"detail": "not json at all", "body": "not json at all"},
    ),
]


@pytest.mark.parametrize(
    ("canned", "expected", "attrs"),
    [pytest.param(c, e, a, id=name) for name, c, e, a in TABLE],
)
def test_status_maps_to_exception(
    canned: Canned, expected: type[KlaviyoAPIError], attrs: dict[str, Any]
) -> None:
    err = error_from_response(respond(canned))
    assert type(err) is expected
    assert err.status == canned.status
    assert err.method == "PATCH"
    assert err.path == "/api/profiles/01ABC"
    for name, value in attrs.items():
        assert getattr(err, name) == value, name


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success_is_no_error(status: int) -> None:
    assert error_from_response(respond(Canned(status))) is None


def test_error_carries_everything_from_the_envelope() -> None:
    err = error_from_response(respond(INVALID_PHONE))
    assert isinstance(err, KlaviyoValidationError)
    assert err.title == "Error."
    assert err.detail is not None
    assert err.detail.startswith("Invalid phone number format")
    assert err.request_id == "err-400-invalid"
    assert err.body["errors"][0]["code"] == "invalid"
    assert str(err) == (
        "PATCH /api/profiles/01ABC failed with 400 (invalid): Invalid phone number format "
        "(Example of a valid format: +12345678901) (at /data/attributes/phone_number) "
        "[request err-400-invalid]"
    )
    assert "pointer='/data/attributes/phone_number'" in repr(err)


def test_request_id_falls_back_to_header() -> None:
    err = error_from_response(respond(Canned(503, headers={"X-Request-Id": "req-9"})))
    assert err is not None
    assert err.request_id == "req-9"


@pytest.mark.parametrize(
    ("cls", "marker"),
    [
        (KlaviyoAuthError, FatalError),
        (KlaviyoValidationError, RecordError),
        (KlaviyoNotFoundError, RecordError),
        (KlaviyoDuplicateProfileError, RecordError),
        (KlaviyoRateLimitedError, RetryableError),
        (KlaviyoUnavailableError, RetryableError),
        (KlaviyoTimeoutError, RetryableError),
        (KlaviyoUnexpectedError, RecordError),
    ],
)
def test_errors_say_what_to_do(cls: type[Exception], marker: type[Exception]) -> None:
    assert issubclass(cls, marker)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ReadTimeout("read timed out"), KlaviyoTimeoutError),
        (httpx.ConnectTimeout("connect timed out"), KlaviyoTimeoutError),
        (httpx.PoolTimeout("pool"), KlaviyoTimeoutError),
        (httpx.ConnectError("refused"), KlaviyoUnavailableError),
        (httpx.RemoteProtocolError("peer closed connection"), KlaviyoUnavailableError),
        (httpx.ReadError("reset"), KlaviyoUnavailableError),
        (httpx.WriteError("broken pipe"), KlaviyoUnavailableError),
        (httpx.ProxyError("proxy"), KlaviyoUnavailableError),
        (httpx.DecodingError("bad gzip"), KlaviyoUnexpectedError),
    ],
)
def test_transport_errors(exc: httpx.RequestError, expected: type[KlaviyoAPIError]) -> None:
    err = error_from_transport(exc, "GET", "/api/profiles")
    assert type(err) is expected
    assert err.status == 0
    assert (err.method, err.path) == ("GET", "/api/profiles")
    assert type(exc).__name__ in str(err)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("3", 3.0), (" 10 ", 10.0), ("0.5", 0.5), ("-1", 0.0), ("soon", None)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
