"""The retry policy's pure functions."""

from __future__ import annotations

import pytest

from klaviyo_sync.exceptions import (
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
from klaviyo_sync.klaviyo import RetryPolicy, default_jitter, no_jitter, should_retry, sleep_time

POLICY = RetryPolicy(max_attempts=4, base=0.5, cap=3.0, jitter=no_jitter)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (KlaviyoRateLimitedError("429", retry_after=1.0, status=429), True),
        (KlaviyoRateLimitedError("429", retry_after=None, status=429), True),
        (KlaviyoUnavailableError("503", status=503), True),
        (KlaviyoUnavailableError("dropped"), True),
        (KlaviyoTimeoutError("timed out"), True),
        (KlaviyoValidationError("400", status=400), False),
        (KlaviyoAuthError("401", status=401), False),
        (KlaviyoNotFoundError("404", status=404), False),
        (KlaviyoConflictError("409", status=409), False),
        (KlaviyoDuplicateProfileError("409", duplicate_profile_id="x", status=409), False),
        (KlaviyoUnexpectedError("405", status=405), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_retried(error: Exception, retry: bool) -> None:
    assert should_retry(error, 1, POLICY) is retry


def test_budget_counts_the_first_try() -> None:
    err = KlaviyoUnavailableError("503", status=503)
    assert [should_retry(err, n, POLICY) for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert not should_retry(err, 1, RetryPolicy(max_attempts=1))


def test_a_retry_after_too_long_to_wait_is_not_waited() -> None:
    err = KlaviyoRateLimitedError("daily limit", retry_after=3_600.0, status=429)
    assert not should_retry(err, 1, RetryPolicy(max_retry_after=300.0))
    assert should_retry(err, 1, RetryPolicy(max_retry_after=7_200.0))


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [sleep_time(n, POLICY, None) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_after_is_a_floor() -> None:
    assert sleep_time(1, POLICY, 7.0) == 7.0
    assert sleep_time(4, POLICY, 1.0) == 3.0
    assert sleep_time(1, POLICY, 0.0) == 0.5


def test_jitter_is_injected_and_never_undercuts_retry_after() -> None:
    halves = RetryPolicy(base=1.0, cap=10.0, jitter=lambda d: d / 2)
    assert sleep_time(3, halves, None) == 2.0
    assert sleep_time(3, halves, 5.0) == 5.0


def test_default_jitter_stays_between_half_and_whole() -> None:
    draws = [default_jitter(4.0) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in draws)
    assert len(set(draws)) > 1


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert sleep_time(10_000, POLICY, None) == 3.0


@pytest.mark.parametrize("kw", [{"max_attempts": 0}, {"base": -1.0}, {"cap": -1.0}])
def test_policy_refuses_nonsense(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kw)  # type: ignore[arg-type]


def test_a_request_carrying_many_customers_gets_more_tries() -> None:
    policy = RetryPolicy()
    assert [policy.attempts(n) for n in (1, 9, 10, 10_000)] == [5, 5, 8, 8]
    err = KlaviyoUnavailableError("503", status=503)
    assert not should_retry(err, 5, policy)
    assert should_retry(err, 5, policy, carrying=100)
    assert not should_retry(err, 8, policy, carrying=100)


def test_patience_never_means_fewer_tries_and_can_be_turned_off() -> None:
    assert RetryPolicy(max_attempts=10).attempts(100) == 10
    never = RetryPolicy(max_attempts=1, patient_attempts=1)
    assert never.attempts(1) == never.attempts(1_000) == 1
    with pytest.raises(ValueError, match="patient_attempts"):
        RetryPolicy(patient_attempts=0)
    with pytest.raises(ValueError, match="patient_from"):
        RetryPolicy(patient_from=0)
