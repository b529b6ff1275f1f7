"""When to try a request again, and how long to wait first: small pure functions.

Jitter is a separate, injectable function so tests can make waits exact. Retries cover what
may go better later (429, 5xx, timeouts, refused or dropped connections); everything else is
raised at once.

A request that carries many customers (a lookup of 100 emails, a subscription job, a bulk import
job) gets more tries than one that carries one: giving up on it fails every customer it carries,
each to be run again later at full cost, while a few more seconds of backoff cost one batch a
few seconds. See ``RetryPolicy.patient_from``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..exceptions import KlaviyoRateLimitedError, RetryableError

__all__ = ["RetryPolicy", "default_jitter", "no_jitter", "should_retry", "sleep_time"]


def default_jitter(delay: float) -> float:
    """Somewhere between half and all of ``delay``, so many clients do not retry in step."""
    return delay * random.uniform(0.5, 1.0)


def no_jitter(delay: float) -> float:
    """``delay`` unchanged: for tests and for callers that want exact waits."""
    return delay


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """How hard to try. ``max_attempts`` counts the first try; 1 means never retry.

    A request carrying at least ``patient_from`` customers gets ``patient_attempts`` tries
    (never fewer than ``max_attempts``): with the default backoff, 5 tries wait at most 7.5 s
    in all and 8 tries at most 61.5 s. Set both to 1 to never retry anything.
    """

    max_attempts: int = 5
    patient_from: int = 10
    """the fewest customers a request carries to be tried ``patient_attempts`` times"""
    patient_attempts: int = 8
    base: float = 0.5
    """first backoff in seconds; doubles each attempt"""
    cap: float = 30.0
    """longest backoff in seconds (Retry-After may ask for more and gets it)"""
    max_retry_after: float = 300.0
    """a Retry-After longer than this is not waited out in-line: the 429 is raised instead"""
    jitter: Callable[[float], float] = default_jitter

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.patient_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts and .patient_attempts must be at least 1")
        if self.patient_from < 1:
            raise ValueError("RetryPolicy.patient_from must be at least 1")
        if self.base < 0 or self.cap < 0:
            raise ValueError("RetryPolicy.base and .cap must not be negative")

    def attempts(self, carrying: int = 1) -> int:
        """Tries for a request that carries ``carrying`` customers, the first one included."""
        if carrying >= self.patient_from:
            return max(self.max_attempts, self.patient_attempts)
        return self.max_attempts


def should_retry(
    error: BaseException, attempt: int, policy: RetryPolicy, *, carrying: int = 1
) -> bool:
    """Whether to try again after ``attempt`` tries (1-based) ended in ``error``, for a
    request that carries ``carrying`` customers."""
    if not isinstance(error, RetryableError) or attempt >= policy.attempts(carrying):
        return False
    if isinstance(error, KlaviyoRateLimitedError) and error.retry_after is not None:
        # A daily limit answers with hours; better to fail the batch than hang the run.
        return error.retry_after <= policy.max_retry_after
    return True


def sleep_time(attempt: int, policy: RetryPolicy, retry_after: float | None) -> float:
    """Seconds to wait after ``attempt`` tries: jittered capped backoff, never under Retry-After."""
    backoff = min(policy.cap, policy.base * 2.0 ** min(attempt - 1, 60))
    delay = max(policy.jitter(backoff), 0.0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
