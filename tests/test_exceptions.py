"""The exception tree says what the caller should do with each error."""

from __future__ import annotations

import pytest

from klaviyo_sync import exceptions as exc


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (exc.ConfigError, exc.FatalError),
        (exc.KlaviyoAuthError, exc.FatalError),
        (exc.KlaviyoValidationError, exc.RecordError),
        (exc.KlaviyoNotFoundError, exc.RecordError),
        (exc.KlaviyoConflictError, exc.RecordError),
        (exc.KlaviyoUnexpectedError, exc.RecordError),
        (exc.KlaviyoUnavailableError, exc.RetryableError),
        (exc.KlaviyoTimeoutError, exc.RetryableError),
    ],
)
def test_each_error_has_one_disposition(cls: type[Exception], kind: type[Exception]) -> None:
    dispositions = {exc.FatalError, exc.RecordError, exc.RetryableError}
    assert issubclass(cls, kind)
    assert issubclass(cls, exc.KlaviyoSyncError)
    assert [d for d in dispositions if issubclass(cls, d)] == [kind]


def test_duplicate_carries_the_existing_profile() -> None:
    err = exc.KlaviyoDuplicateProfileError(
        "duplicate", duplicate_profile_id="01ABC", status=409, code="duplicate_profile"
    )
    assert isinstance(err, exc.KlaviyoConflictError)
    assert err.duplicate_profile_id == "01ABC"
    assert err.status == 409


def test_rate_limited_is_retryable_with_its_wait() -> None:
    err = exc.KlaviyoRateLimitedError("throttled", retry_after=3, status=429)
    assert isinstance(err, exc.RetryableError)
    assert err.retry_after == 3


def test_repr_shows_what_klaviyo_said() -> None:
    err = exc.KlaviyoValidationError(
        "bad phone",
        status=400,
        code="invalid",
        detail="Invalid phone number format",
        pointer="/data/attributes/phone_number",
        request_id="r-1",
    )
    text = repr(err)
    for part in ("400", "invalid", "phone_number", "r-1"):
        assert part in text
