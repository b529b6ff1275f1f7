"""The worker: drains the queue of triggered customers through the engine, in micro-batches.

Events accepted by the webhook wait in the store's queue, one row per customer holding its
latest state (a burst of updates coalesces into one transfer). A worker claims up to a batch of
rows under a lease, runs them through the same ``Engine.run`` as ``klaviyo-sync sync``, then:

- acknowledges each customer that ended in an outcome (success, or a failure that retrying will
  not fix: it is in the error log);
- releases a customer whose failure is retryable, to be tried again after a growing delay, until
  ``max_attempts``; after that the failure stays in the error log as parked.

The guardrails apply to a worker as to a sync, over the last ``WORKER_WINDOW`` customers it
handled (each micro-batch is a run of its own): a batch that would take them past a guardrail
is not applied. Its customers are parked in the error log (kind ``guardrail``) and the worker
goes on; ``errors retry --kind guardrail --all --force`` applies them once a person has looked.

A worker that dies mid-batch loses nothing: its rows come back when the lease runs out, and a
customer whose profile already reached Klaviyo is matched (by email, then phone) rather than
created twice. Latency: an in-process worker is woken the moment an event is queued; a separate
one polls every ``poll_seconds`` (0.5 s by default), so an event starts transferring within
about a second of being accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from ..clock import SYSTEM_CLOCK, Clock
from ..customer import Customer
from ..engine import WORKER_ADVICE, WORKER_WINDOW, Engine, Guard
from ..exceptions import FatalError, GuardrailError, InvalidRecordError
from ..outcome import Outcome
from ..store import QueueItem, Store, retry_delay

__all__ = ["Worker", "WorkerOptions"]

log = logging.getLogger("klaviyo_sync.worker")

# After a fatal error (Klaviyo refused the key), wait this long before claiming again.
_FATAL_PAUSE = 30.0


@dataclass(slots=True, frozen=True)
class WorkerOptions:
    batch_size: int = 100
    poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    max_attempts: int = 6
    retry_scan_seconds: float = 15.0
    """how often to look for retryable failures that are due again"""


class Worker:
    """One worker: claim, run, acknowledge; also requeues retryable failures when they fall due.

    ``clock`` times the scans for due retries and the waits between polls.
    """

    def __init__(
        self,
        engine: Engine,
        store: Store,
        *,
        options: WorkerOptions | None = None,
        worker_id: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._store = store
        self.options = options or WorkerOptions()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.processed = 0
        self._wake = asyncio.Event()
        self._clock = clock
        self._next_scan = clock.monotonic()
        rails = engine.options
        self._guard = None
        if not rails.force:
            self._guard = Guard(rails.guardrails, window=WORKER_WINDOW, advice=WORKER_ADVICE)

    def wake(self) -> None:
        """Claim now instead of at the next poll (the webhook calls this after queueing)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one micro-batch and run it; the number of customers it held."""
        items = await asyncio.to_thread(
            self._store.claim,
            self.worker_id,
            limit=self.options.batch_size,
            lease_seconds=self.options.lease_seconds,
        )
        if not items:
            return 0
        outcomes: dict[str, Outcome] = {}
        customers = [_customer(item) for item in items]
        try:
            await self._engine.run(
                customers,
                kind="trigger",
                source="queue",
                on_outcome=lambda o: outcomes.__setitem__(o.customer_id, o),
                guard=self._guard,
            )
        except GuardrailError as err:
            # Recorded as failures that retrying will not fix: acknowledged below, parked.
            log.warning("worker %s parked %d customers: %s", self.worker_id, len(items), err)
        except FatalError:
            # Nothing will go better until the key is fixed: put everything back for later.
            for item in items:
                await asyncio.to_thread(
                    self._store.release, self.worker_id, item, delay=_FATAL_PAUSE
                )
            raise
        await asyncio.to_thread(self._settle, items, outcomes)
        self.processed += len(items)
        return len(items)

    def _settle(self, items: list[QueueItem], outcomes: dict[str, Outcome]) -> None:
        done: list[QueueItem] = []
        for item in items:
            outcome = outcomes.get(item.customer_id)
            failure = outcome.failure if outcome is not None else None
            tries = item.attempts + 1
            if failure is not None and failure.retryable and tries < self.options.max_attempts:
                self._store.release(self.worker_id, item, delay=retry_delay(tries))
            else:
                done.append(item)
        self._store.ack(self.worker_id, done)

    async def requeue_due_retries(self) -> int:
        """Put retryable failures whose time has come back in the queue, with their record
        (a customer already queued keeps its newer queued state)."""
        due = await asyncio.to_thread(
            self._store.due_retries, limit=1000, max_attempts=self.options.max_attempts
        )
        retries = [
            (f.id, f.customer_id, f.detail["record"])
            for f in due
            if f.customer_id is not None and isinstance(f.detail.get("record"), dict)
        ]
        if not retries:
            return 0
        return await asyncio.to_thread(self._store.requeue_retries, retries)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set: drain the queue, then wait for a wake-up or the poll.

        A fatal error (Klaviyo refused the key, the store is unreachable) pauses the worker
        instead of ending it: a long-running process should outlive a database restart.
        """
        while not stop.is_set():
            try:
                await self._beat("running")
                await self._maybe_scan_retries()
                if await self.run_once():
                    continue
            except FatalError as err:
                log.error("worker %s paused for %.0fs: %s", self.worker_id, _FATAL_PAUSE, err)
                await self._pause(stop, _FATAL_PAUSE)
                continue
            await self._pause(stop, self.options.poll_seconds)
        with contextlib.suppress(FatalError):
            await self._beat("stopped")

    async def _maybe_scan_retries(self) -> None:
        now = self._clock.monotonic()
        if now >= self._next_scan:
            self._next_scan = now + self.options.retry_scan_seconds
            await self.requeue_due_retries()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait ``seconds`` on the clock, or less if woken or stopped."""
        self._wake.clear()
        waits = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._clock.sleep(seconds)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _beat(self, state: str) -> None:
        await asyncio.to_thread(
            self._store.heartbeat,
            self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            processed=self.processed,
            state=state,
        )


def _customer(item: QueueItem) -> Customer | InvalidRecordError:
    try:
        return Customer.from_record(item.record, where=f"queue:{item.customer_id}")
    except InvalidRecordError as err:
        return err
