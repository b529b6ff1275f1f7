"""A run: customers in, one outcome each out, in batches that each commit in one transaction."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from ..customer import Customer
from ..exceptions import FatalError, InvalidRecordError
from ..klaviyo import KlaviyoClient
from ..mapping import Collections, PhoneSettings, compile_collection
from ..outcome import Outcome
from ..store import Store
from ._consent import ConsentWriter, ListDirectory
from ._failures import failed, failure_from_error
from ._plan import BatchResult
from ._planner import Planner, unreadable
from ._writer import Writer

__all__ = ["Engine", "EngineOptions", "RunSummary"]

log = logging.getLogger("klaviyo_sync.engine")

Item = Customer | InvalidRecordError
OnOutcome = Callable[[Outcome], None]


@dataclass(slots=True, frozen=True)
class EngineOptions:
    batch_size: int = 100
    concurrency: int = 8
    subscribe_sms: bool = False
    full: bool = False
    """ignore fingerprints and send every customer, changed or not"""


@dataclass(slots=True)
class RunSummary:
    """Counts of a finished run: outcomes by kind and failures by kind."""

    run_id: int
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.outcomes["failed"]

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.kind] += 1
        if outcome.failure is not None:
            self.failures[outcome.failure.kind] += 1


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
        self.planner = Planner(
            client,
            store,
            compile_collection(collections.add, phone=phone),
            compile_collection(collections.update, phone=phone),
            full=self.options.full,
        )
        consent = ConsentWriter(
            client, ListDirectory(client), subscribe_sms=self.options.subscribe_sms
        )
        self.writer = Writer(client, self.planner, consent, concurrency=self.options.concurrency)

    async def run(
        self,
        items: Iterable[Item],
        *,
        kind: str = "sync",
        source: str | None = None,
        on_outcome: OnOutcome | None = None,
    ) -> RunSummary:
        """Sync every customer in ``items``; each gets exactly one outcome, stored per batch.

        A FatalError (Klaviyo refused the API key) stops the run after the batch in flight is
        recorded, and is raised.
        """
        summary = RunSummary(self.store.start_run(kind, source=source))
        try:
            for batch in _batches(items, self.options.batch_size):
                result, fatal = await self._batch(batch)
                self.store.commit_batch(
                    summary.run_id,
                    outcomes=result.outcomes,
                    links=result.links,
                    dropped_links=result.dropped_links,
                    fingerprints=result.fingerprints,
                )
                for outcome in _in_source_order(batch, result.outcomes):
                    summary.add(outcome)
                    if on_outcome is not None:
                        on_outcome(outcome)
                if fatal is not None:
                    raise fatal
        finally:
            self.store.finish_run(summary.run_id, dict(summary.outcomes))
        return summary

    async def _batch(self, batch: list[Item]) -> tuple[BatchResult, FatalError | None]:
        fatal: FatalError | None
        try:
            plan = await self.planner.plan(batch)
        except FatalError as err:
            result, fatal = BatchResult([_batch_failed(i, err) for i in batch]), err
        except Exception as err:  # a bug must not lose the batch: each customer is told why
            log.exception("planning a batch failed")
            result, fatal = BatchResult([_batch_failed(i, err) for i in batch]), None
        else:
            result, fatal = await self.writer.apply(plan)
        result.outcomes = _with_records(batch, result.outcomes)
        return result, fatal


def _batch_failed(item: Item, error: Exception) -> Outcome:
    if isinstance(item, InvalidRecordError):
        return unreadable(item)
    return failed(item.id, failure_from_error(error, stage="match", customer_id=item.id))


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
