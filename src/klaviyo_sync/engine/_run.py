"""A run: customers in, one outcome each out, in batches that each commit in one transaction.

Strategies (``EngineOptions.strategy``):

- ``per-record``: batches of ``batch_size``, each profile written with its own request (the
  seed's integration, and the benchmark's baseline);
- ``bulk``: batches of up to ``bulk_batch_size`` (a bulk import job's 10,000 profiles), every
  batch written through bulk import jobs;
- ``auto`` (the default): batches as for ``bulk``; a batch with at least ``bulk_threshold``
  customers to write goes through bulk import jobs, a smaller one (a trigger, a manual sync,
  a resync where little changed) through the per-record endpoints, which answer sooner.

Batches flow through a two-stage pipeline: while one batch is being written, the next is read
and planned (its lookups keep the profile endpoints' quota busy), and batches still commit in
order. A customer id in both waits for the earlier batch to commit first, so it is planned
from its stored link.

Before a batch is written, the guard (``_guard``) adds it to what the run has planned so far;
a batch that would take the run past a guardrail is recorded as refused (each customer it would
have written fails with kind ``guardrail``) and the run stops with ``GuardrailError``, unless
the run is forced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from ..customer import Customer
from ..exceptions import FatalError, GuardrailError, InvalidRecordError
from ..klaviyo import MAX_BULK_IMPORT_PROFILES, KlaviyoClient
from ..mapping import Collections, PhoneSettings, compile_collection
from ..outcome import Failure, Outcome
from ..store import Store
from ._bulk import BulkWriter
from ._consent import ConsentWriter, ListDirectory
from ._failures import failed, failure_from_error
from ._guard import Guard, Guardrails, sync_advice
from ._plan import BatchPlan, BatchResult
from ._planner import STUCK_KINDS, Planner, unreadable
from ._preview import PlanEntry, PlanReport, plan_entries
from ._writer import Writer

__all__ = ["DEFAULT_BULK_THRESHOLD", "Engine", "EngineOptions", "RunSummary", "Strategy"]

log = logging.getLogger("klaviyo_sync.engine")

Item = Customer | InvalidRecordError
OnOutcome = Callable[[Outcome], None]


Strategy = Literal["auto", "bulk", "per-record"]

DEFAULT_BULK_THRESHOLD: Final = 500
"""With ``auto``, the fewest customers to write in a batch that go through a bulk import job.

Measured with ``python -m bench.threshold --job-seconds 0.2 5``: new customers in one batch,
rate limits on. With bulk jobs that take 5 s (Klaviyo publishes no figure; its jobs take
seconds), bulk finishes first from 500 customers, where per record has spent 521 requests,
two thirds of a minute's profile quota. With the sandbox's 0.2 s jobs bulk wins from 100."""


@dataclass(slots=True, frozen=True)
class EngineOptions:
    batch_size: int = 100
    """customers per batch on the per-record strategy"""
    concurrency: int = 8
    subscribe_sms: bool = False
    account_opt_in: str = "double_opt_in"
    """the account's opt-in process, which a subscription without a list follows"""
    full: bool = False
    """ignore fingerprints and send every customer, changed or not"""
    strategy: Strategy = "auto"
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD
    bulk_batch_size: int = MAX_BULK_IMPORT_PROFILES
    """customers per batch on the bulk and auto strategies"""
    guardrails: Guardrails = field(default_factory=Guardrails)
    force: bool = False
    """write batches the guardrails would refuse"""
    live: bool = False
    """diff linked customers against Klaviyo's profiles, not the store (``plan --live``)"""

    @property
    def read_size(self) -> int:
        """How many customers each batch reads before it is planned."""
        return self.batch_size if self.strategy == "per-record" else self.bulk_batch_size

    def use_bulk(self, to_write: int) -> bool:
        """Whether a batch with ``to_write`` customers to send goes through bulk import jobs."""
        if self.strategy == "auto":
            return to_write >= self.bulk_threshold
        return self.strategy == "bulk" and to_write > 0


@dataclass(slots=True)
class RunSummary:
    """Counts of a finished run: outcomes by kind and failures by kind.

    ``failures`` counts every customer whose outcome carries a failure: the failed and the
    conflicts, and the customers whose profile was written with something failing or left out
    (a list step, a phone Klaviyo left out), which ``partial`` counts on their own."""

    run_id: int
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    partial: int = 0
    """customers whose profile was written but whose outcome carries a failure"""

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        """Customers not transferred: failures and identity conflicts."""
        return self.outcomes["failed"] + self.outcomes["conflict"]

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.kind] += 1
        if outcome.failure is not None:
            self.failures[outcome.failure.kind] += 1
            if outcome.kind not in ("failed", "conflict"):
                self.partial += 1


class Engine:
    """Runs customers through the flow against one Klaviyo account and one store."""

    def __init__(
        self,
        client: KlaviyoClient,
        store: Store,
        collections: Collections,
        *,
        phone: PhoneSettings | None = None,
        options: EngineOptions | None = None,
    ) -> None:
        phone = phone or PhoneSettings()
        self.options = options or EngineOptions()
        self.store = store
        lists = ListDirectory(client)
        self.planner = Planner(
            client,
            store,
            compile_collection(collections.add, phone=phone),
            compile_collection(collections.update, phone=phone),
            full=self.options.full,
            live=self.options.live,
            sms=self.options.subscribe_sms,
            double=self.options.account_opt_in == "double_opt_in",
            lists=lists,
        )
        self.consent = ConsentWriter(client, lists, subscribe_sms=self.options.subscribe_sms)
        self.writer = Writer(
            client, self.planner, self.consent, concurrency=self.options.concurrency
        )
        self.bulk = BulkWriter(client, self.writer)

    async def run(
        self,
        items: Iterable[Item],
        *,
        kind: str = "sync",
        source: str | None = None,
        on_outcome: OnOutcome | None = None,
        guard: Guard | None = None,
    ) -> RunSummary:
        """Sync every customer in ``items``; each gets exactly one outcome, stored per batch.

        A FatalError (Klaviyo refused the API key) stops the run after the batch in flight is
        recorded, and is raised; so does a GuardrailError for a batch the guard refused.
        ``guard`` carries a guard across runs (a worker's); by default each run has its own,
        and a forced one none.
        """
        if guard is None and not self.options.force:
            guard = Guard(self.options.guardrails, advice=sync_advice(source))
        summary = RunSummary(self.store.start_run(kind, source=source))
        writing: _Writing | None = None
        try:
            for batch in _batches(items, self.options.read_size):
                ids = _ids(batch)
                if writing is not None and not ids.isdisjoint(writing.ids):
                    await writing.task
                    writing = None
                planned = await self._plan(batch)
                refused = _admit(guard, planned)
                if refused is not None:
                    pending, writing = writing, None
                    if pending is not None:
                        await self._after(pending, batch, summary, on_outcome)
                    await self._write(batch, refused, summary, on_outcome)  # raises
                if writing is not None:
                    await self._after(writing, batch, summary, on_outcome)
                task = asyncio.create_task(self._write(batch, planned, summary, on_outcome))
                writing = _Writing(task, ids)
            if writing is not None:
                await writing.task
        finally:
            if writing is not None and not writing.task.done():
                # The run is being abandoned (the source broke, a cancel): let the batch under
                # way finish recording, so none of its customers goes without an outcome.
                await asyncio.shield(_quietly(writing.task))
            self.store.finish_run(summary.run_id, dict(summary.outcomes))
        return summary

    async def preview(
        self, items: Iterable[Item], *, on_entry: Callable[[PlanEntry], None] | None = None
    ) -> PlanReport:
        """What ``run`` would do with ``items``, customer by customer; nothing is written to
        Klaviyo or the store. Lookups and consent checks are made: they are reads."""
        report = PlanReport()
        for batch in _batches(items, self.options.read_size):
            planned = await self._plan(batch)
            report.add_batch(planned)
            position = {item.id: i for i, item in enumerate(batch) if isinstance(item, Customer)}
            previews = {}
            if isinstance(planned, BatchPlan):
                # What the consent stage would do, decided as a sync decides it.
                previews = await self.consent.preview(planned.planned)
            for entry in plan_entries(planned, position, previews):
                report.add(entry)
                if on_entry is not None:
                    on_entry(entry)
        report.judge(None if self.options.force else self.options.guardrails)
        return report

    async def _after(
        self,
        writing: _Writing,
        batch: list[Item],
        summary: RunSummary,
        on_outcome: OnOutcome | None,
    ) -> None:
        """Wait for the batch being written; when it stops the run, record the next batch
        (already read and planned) as failed with the same error before stopping."""
        try:
            await writing.task
        except FatalError as err:
            stopped = _Stopped([_batch_failed(i, err) for i in batch], fatal=None)
            await self._write(batch, stopped, summary, on_outcome)
            raise

    async def _plan(self, batch: list[Item]) -> BatchPlan | BatchResult:
        """The batch's plan, or (when planning itself failed) every customer's failure."""
        try:
            return await self.planner.plan(batch)
        except FatalError as err:
            return _Stopped([_batch_failed(i, err) for i in batch], fatal=err)
        except Exception as err:  # a bug must not lose the batch: each customer is told why
            log.exception("planning a batch failed")
            return BatchResult([_batch_failed(i, err) for i in batch])

    async def _write(
        self,
        batch: list[Item],
        planned: BatchPlan | BatchResult,
        summary: RunSummary,
        on_outcome: OnOutcome | None,
    ) -> None:
        """Write a planned batch, record it in one transaction, then report its outcomes."""
        fatal: FatalError | None = None
        if isinstance(planned, BatchPlan):
            writer = self.bulk if self.options.use_bulk(len(planned.planned)) else self.writer
            result, fatal = await writer.apply(planned)
            result.outcomes = _with_fingerprints(planned, result.outcomes)
        else:
            result = planned
            fatal = planned.fatal if isinstance(planned, _Stopped) else None
        result.outcomes = _with_records(batch, result.outcomes)
        self.store.commit_batch(
            summary.run_id,
            outcomes=result.outcomes,
            links=result.links,
            dropped_links=result.dropped_links,
            fingerprints=result.fingerprints,
            applied=result.applied,
            audit=result.audit,
        )
        for outcome in _in_source_order(batch, result.outcomes):
            summary.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        if fatal is not None:
            raise fatal


@dataclass(slots=True)
class _Stopped(BatchResult):
    """A batch whose planning met a FatalError: recorded as failed, then the run stops."""

    fatal: FatalError | None = None


@dataclass(slots=True)
class _Writing:
    """The batch being written while the next one is planned, and its customer ids."""

    task: asyncio.Task[None]
    ids: frozenset[str]


async def _quietly(task: asyncio.Task[None]) -> None:
    try:
        await task
    except Exception:  # the run is already failing with the error that matters
        log.debug("a batch under way failed while the run was stopping", exc_info=True)


def _ids(batch: list[Item]) -> frozenset[str]:
    return frozenset(item.id for item in batch if isinstance(item, Customer))


def _batch_failed(item: Item, error: Exception) -> Outcome:
    if isinstance(item, InvalidRecordError):
        return unreadable(item)
    return failed(item.id, failure_from_error(error, stage="match", customer_id=item.id))


def _admit(guard: Guard | None, planned: BatchPlan | BatchResult) -> _Stopped | None:
    """None when the batch may be written; else the batch recorded as refused: what it had
    settled stays, each customer it would have written fails with kind ``guardrail``."""
    if guard is None or not isinstance(planned, BatchPlan):
        return None
    try:
        guard.admit(planned)
    except GuardrailError as err:
        refused = [_refused(p.customer.id, p.route, err) for p in planned.planned]
        return _Stopped([*planned.settled, *refused], fatal=err)
    return None


def _refused(customer_id: str, route: str, error: GuardrailError) -> Outcome:
    failure = Failure(
        customer_id=customer_id,
        stage="guard",
        kind="guardrail",
        message=str(error),
        detail={"guard": error.counts, "problems": error.problems},
    )
    return failed(customer_id, failure, route=route)


def _with_fingerprints(plan: BatchPlan, outcomes: list[Outcome]) -> list[Outcome]:
    """Keep the draft's fingerprint with a failure Klaviyo gave for the customer's own data,
    so the next run does not send the same draft again while it is unchanged."""
    fingerprints = {p.customer.id: p.fingerprint for p in plan.planned}
    kept = []
    for outcome in outcomes:
        failure = outcome.failure
        fingerprint = fingerprints.get(outcome.customer_id)
        stuck = failure is not None and failure.kind in STUCK_KINDS
        if failure is not None and fingerprint and stuck and "fingerprint" not in failure.detail:
            failure = replace(failure, detail={**failure.detail, "fingerprint": fingerprint})
            outcome = replace(outcome, failure=failure)
        kept.append(outcome)
    return kept


def _with_records(batch: list[Item], outcomes: list[Outcome]) -> list[Outcome]:
    """Keep each failed customer's record with its failure, so a retry can run it again even
    when the source it came from (a webhook event, a file since changed) cannot be re-read."""
    records = {item.id: item.raw for item in batch if isinstance(item, Customer)}
    kept = []
    for outcome in outcomes:
        failure = outcome.failure
        record = records.get(outcome.customer_id)
        if failure is not None and record is not None and "record" not in failure.detail:
            failure = replace(failure, detail={**failure.detail, "record": dict(record)})
            outcome = replace(outcome, failure=failure)
        kept.append(outcome)
    return kept


def _in_source_order(batch: list[Item], outcomes: list[Outcome]) -> list[Outcome]:
    position = {item.id: i for i, item in enumerate(batch) if isinstance(item, Customer)}
    return sorted(outcomes, key=lambda o: position.get(o.customer_id, len(batch)))


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive batches of ``size``; a customer id seen twice starts a new batch, so one
    customer is never written twice at once (its later record wins, in order)."""
    batch: list[Item] = []
    ids: set[str] = set()
    for item in items:
        customer_id = item.id if isinstance(item, Customer) else None
        if len(batch) >= size or (customer_id is not None and customer_id in ids):
            yield batch
            batch, ids = [], set()
        batch.append(item)
        if customer_id is not None:
            ids.add(customer_id)
    if batch:
        yield batch
