"""Time for the sandbox, injected so tests drive rate windows and job progress by hand."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "isoformat"]

# 2026-10-15T00:00:00Z, the newest revision's release: a ManualClock starts in the API's own
# present, where every revision Klaviyo serves today is served.
REVISION_EPOCH = 1_792_022_400.0


class Clock(Protocol):
    """Wall-clock seconds since the epoch, and a way to wait."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told; sleeping advances it instead of waiting."""

    __slots__ = ("_now",)

    def __init__(self, start: float = REVISION_EPOCH) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))


def isoformat(timestamp: float) -> str:
    """Klaviyo's timestamp shape: seconds precision, explicit UTC offset."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
