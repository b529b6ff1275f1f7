"""When a retryable failure is tried again: a pure function, so tests and the worker agree."""

from __future__ import annotations

__all__ = ["RETRY_BASE_SECONDS", "RETRY_CAP_SECONDS", "retry_delay"]

RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0
# 30 s · 2^7 is past the cap already; a larger exponent only builds big numbers for nothing.
_MAX_EXPONENT = 8


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 30 s, 60 s, 2 min … up to 1 h."""
    if attempts < 1:
        raise ValueError(f"attempts counts failed tries and starts at 1 (got {attempts})")
    exponent = min(attempts - 1, _MAX_EXPONENT)
    return min(RETRY_BASE_SECONDS * float(2**exponent), RETRY_CAP_SECONDS)
