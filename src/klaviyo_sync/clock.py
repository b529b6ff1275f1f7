"""Time, injected: the one ``Clock`` of klaviyo-sync.

Whatever measures time on a monotonic clock or waits reads a ``Clock``: the Klaviyo client and
its rate limiter wait through one, the engine polls bulk import jobs on its client's, the worker
times its scans for due retries on one, and a formula's deadline (``mapping/_limits.py``) is
read from one. Tests pass one fake clock (``tests/klaviyo/fakes.py``'s ``FakeClock``) that
advances instantly and records each sleep, so retries, rate limits, polls and deadlines are
checked in fake time without a single real sleep.

Wall-clock time is not a ``Clock``: the store stamps what it records with aware datetimes from a
``Callable[[], datetime]``, which the dashboard shares with it, and webhook signatures are
checked against Unix seconds; those are dates, not durations, and stay as they are.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """A monotonic time source and a way to wait on it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Final = SystemClock()
"""The real clock, for defaults (it holds no state)."""
