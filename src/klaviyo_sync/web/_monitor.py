"""Integration Monitoring: what the dashboard's pages and its JSON API both ask for.

One object, so a page and the API call behind it can never disagree. The store is synchronous:
reads run in a worker thread (several per call, so a page costs one thread hop). Retries and
manual syncs go through the same library calls as the command line (``retry_failures``,
``sync_one``), against the configured source. Every problem becomes a ``WebError`` that says
what to do about it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from ..config import Settings
from ..exceptions import (
    ConfigError,
    CustomerNotFoundError,
    FatalError,
    InvalidRecordError,
    KlaviyoSyncError,
)
from ..klaviyo import KlaviyoClient
from ..operations import Connections, RetryResult, check_configuration, configured_source
from ..operations import retry_failures as _retry_failures
from ..operations import sync_one as _sync_one
from ..outcome import FAILURE_KINDS, Link, Outcome, OutcomeKind
from ..sources import Source, redact_url
from ..store import FailureFilter, FailureRecord, NotFoundError, RunRecord, Store, StoreError
from ._chart import Range, bucket_runs, window_start
from ._errors import WebError
from ._monitor_models import (
    MAX_RETRY_IDS,
    CheckItem,
    FailureDetail,
    FailurePage,
    FailureState,
    FailureSummary,
    LinkItem,
    LinkSearch,
    OutcomeItem,
    Overview,
    QueueFigures,
    RetryItem,
    RetryReport,
    RetryRequest,
    RunDetail,
    RunItem,
    SyncFailure,
    SyncResult,
    TriggerStatus,
    WorkerItem,
)

__all__ = ["CHART_RUN_LIMIT", "HOW", "ROUTES", "Monitor", "failure_state"]

T = TypeVar("T")

CHART_RUN_LIMIT = 5000
"""Runs read for the chart; a worker makes one per micro-batch, so a busy day can have more."""
RECENT = 10
WORKERS_SEEN_WITHIN = 24 * 60 * 60.0
ROUTES = {
    "create": "created a new profile",
    "update": "patched the linked profile",
    "match": "linked an existing profile and patched it",
}
HOW = {
    "created": "created by a sync",
    "matched_email": "matched an existing profile by email",
    "matched_phone": "matched an existing profile by phone",
    "duplicate": "Klaviyo answered duplicate_profile on create: linked that profile",
    "conflict": "conflict",
}
_DETAIL_KEYS = ("klaviyo", "payload", "record")


def failure_state(failure: FailureRecord, max_attempts: int) -> FailureState:
    if failure.resolved_at is not None:
        return "resolved"
    if failure.retryable and failure.attempts >= max_attempts:
        return "parked"
    return "retrying" if failure.retryable else "open"


@dataclass(slots=True)
class Monitor:
    settings: Settings
    store: Store
    connections: Connections | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # reading

    async def overview(self, span: Range = "24h") -> Overview:
        read = await self._store(self._read_overview, span)
        checks, check_error = await self._checks()
        return read.model_copy(update={"checks": checks, "check_error": check_error})

    async def failures(
        self, where: FailureFilter, *, limit: int = 50, offset: int = 0
    ) -> FailurePage:
        def read() -> FailurePage:
            found = self.store.list_failures(where, limit=limit, offset=offset)
            total = self.store.count_failures(where)
            items = [self._summary(f) for f in found]
            return FailurePage(total=total, limit=limit, offset=offset, items=items)

        return await self._store(read)

    async def failure(self, failure_id: int) -> FailureDetail:
        found = await self._store(self.store.get_failure, failure_id)
        if found is None:
            raise _no_failure(failure_id)
        return self._detail(found)

    async def runs(self, limit: int = 50) -> list[RunItem]:
        found = await self._store(lambda: self.store.list_runs(limit=limit))
        return [_run_item(r) for r in found]

    async def run(
        self, run_id: int, *, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> RunDetail:
        def read() -> tuple[RunRecord | None, list[Outcome]]:
            run = self.store.get_run(run_id)
            if run is None:
                return None, []
            return run, self.store.run_outcomes(run_id, kind=kind, limit=limit, offset=offset)

        run, outcomes = await self._store(read)
        if run is None:
            raise WebError(404, "run_not_found", f"there is no run {run_id} in the store")
        return RunDetail(
            run=_run_item(run),
            kind=cast(OutcomeKind | None, kind),  # the routes take outcome kinds only
            limit=limit,
            offset=offset,
            outcomes=[_outcome_item(o) for o in outcomes],
        )

    async def links(
        self,
        *,
        customer_id: str | None = None,
        email: str | None = None,
        profile_id: str | None = None,
        limit: int = 50,
    ) -> LinkSearch:
        """By customer id or profile id from the store; by email through Klaviyo, which knows
        which profile has that email (the store keeps ids only)."""
        if customer_id:
            found = await self._store(lambda: self.store.find_links(customer_id=customer_id))
            return _search("customer_id", customer_id, found)
        if profile_id:
            found = await self._store(lambda: self.store.find_links(profile_id=profile_id))
            return _search("profile_id", profile_id, found)
        if email:
            profiles = await self._profiles_with_email(email)

            def by_profile() -> list[Link]:
                return [
                    link for p in profiles for link in self.store.find_links(profile_id=p, limit=10)
                ]

            found = await self._store(by_profile)
            return _search("email", email, found, profiles=profiles)
        latest = await self._store(lambda: self.store.find_links(limit=limit))
        return _search("latest", None, latest)

    # changing

    async def retry(self, request: RetryRequest) -> RetryReport:
        """Run the named failures (or the newest open ones, of a kind) again, now."""
        if request.all:
            where = FailureFilter(kind=request.kind)
            chosen = await self._store(lambda: self.store.list_failures(where, limit=MAX_RETRY_IDS))
            ids = [f.id for f in chosen]
        else:
            ids = list(dict.fromkeys(request.ids))
            missing = await self._store(
                lambda: [i for i in ids if self.store.get_failure(i) is None]
            )
            if missing:
                raise _no_failure(missing[0])
        results: list[RetryResult] = []
        if ids:
            source = self._source(required=False)
            results = await self._klaviyo(
                _retry_failures(self.settings, ids, source=source, connections=self.connections)
            )
        states = await self._store(self._states_after, results)
        items = [_retry_item(r, states[r.failure.id]) for r in results]
        if request.all:
            remaining = await self._store(lambda: self.store.count_failures(where))
        else:
            remaining = sum(item.state != "resolved" for item in items)
        return RetryReport(
            results=items,
            resolved=sum(i.status == "resolved" for i in items),
            failed=sum(i.status == "failed" for i in items),
            not_retried=sum(i.status == "not_retried" for i in items),
            remaining=remaining,
        )

    def _states_after(self, results: list[RetryResult]) -> dict[int, FailureState]:
        """Each retried failure's state as the store has it now (one primary-key read each)."""
        states: dict[int, FailureState] = {}
        for result in results:
            now = self.store.get_failure(result.failure.id) or result.failure
            states[result.failure.id] = failure_state(now, self.settings.max_attempts)
        return states

    async def resolve(self, failure_id: int, note: str) -> FailureDetail:
        try:
            resolved = await self._store(self.store.resolve_failure, failure_id, note=note)
        except NotFoundError:
            raise _no_failure(failure_id) from None
        return self._detail(resolved)

    async def manual_sync(self, customer_id: str) -> SyncResult:
        """The seed's Manual Sync: read the customer from the configured source, send it now."""
        source = self._source(required=True)
        assert source is not None
        wanted = customer_id.strip()
        outcome = await self._klaviyo(
            _sync_one(self.settings, wanted, source, connections=self.connections)
        )
        failure_id = None
        if outcome.failure is not None:
            logged = await self._store(
                lambda: self.store.list_failures(
                    FailureFilter(customer_id=outcome.customer_id), limit=1
                )
            )
            failure_id = logged[0].id if logged else None
        return _sync_result(outcome, source.name, failure_id)

    # plumbing

    async def _store(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except NotFoundError:
            raise  # a StoreError too, but the caller's to answer (404)
        except StoreError as err:
            raise WebError(503, "store_unavailable", str(err)) from None

    async def _klaviyo(self, work: Awaitable[T]) -> T:
        """Await a library call that talks to Klaviyo; its errors become WebErrors."""
        try:
            return await work
        except CustomerNotFoundError as err:
            raise WebError(404, "customer_not_found", str(err)) from None
        except InvalidRecordError as err:
            raise WebError(422, "invalid_record", str(err)) from None
        except StoreError as err:
            raise WebError(503, "store_unavailable", str(err)) from None
        except ConfigError as err:
            raise WebError(503, "not_configured", str(err)) from None
        except FatalError as err:
            raise WebError(502, "klaviyo_refused", str(err)) from None
        except KlaviyoSyncError as err:
            raise WebError(502, "klaviyo_error", str(err)) from None

    def _source(self, *, required: bool) -> Source | None:
        try:
            source = configured_source(self.settings)
        except ConfigError as err:
            raise WebError(503, "source_unavailable", str(err)) from None
        if source is None and required:
            raise WebError(
                503,
                "source_not_set",
                "KLAVIYO_SYNC_SOURCE is not set: Manual Sync reads the customer from the "
                "configured source (a customer file or a database URL with "
                "KLAVIYO_SYNC_SOURCE_QUERY)",
            )
        return source

    async def _profiles_with_email(self, email: str) -> list[str]:
        connections = self.connections or Connections()

        async def ask() -> list[str]:
            async with KlaviyoClient.from_settings(
                self.settings, transport=connections.transport, clock=connections.clock
            ) as client:
                found = await client.find_profiles("email", [email.strip()])
            return [str(p["id"]) for p in found]

        return await self._klaviyo(ask())

    async def _checks(self) -> tuple[list[CheckItem], str | None]:
        try:
            messages = await check_configuration(self.settings, offline=True)
        except KlaviyoSyncError as err:
            return [], str(err)
        items = [
            CheckItem(severity=m.severity, collection=m.collection, row=m.row, message=m.message)
            for m in messages
        ]
        return items, None

    def _read_overview(self, span: Range) -> Overview:
        store, settings = self.store, self.settings
        by_kind = {kind: store.count_failures(FailureFilter(kind=kind)) for kind in FAILURE_KINDS}
        stats = store.queue_stats()
        runs = store.list_runs(limit=CHART_RUN_LIMIT)
        start = window_start(self.clock(), span)
        complete = len(runs) < CHART_RUN_LIMIT or runs[-1].started_at < start
        return Overview(
            failures_open=store.count_failures(FailureFilter()),
            failures_by_kind={kind: n for kind, n in by_kind.items() if n},
            events={s: store.count_events(status=s) for s in ("queued", "ignored", "rejected")},
            queue=QueueFigures(
                depth=stats.depth,
                ready=stats.ready,
                leased=stats.leased,
                delayed=stats.delayed,
                oldest_enqueued_at=stats.oldest_enqueued_at,
            ),
            workers=[self._worker(w) for w in store.list_workers(seen_within=WORKERS_SEEN_WITHIN)],
            triggers=TriggerStatus(
                created="created" in settings.triggers,
                updated="updated" in settings.triggers,
                webhook_secret_set=bool(
                    settings.webhook_secret and settings.webhook_secret.get_secret_value()
                ),
            ),
            source=_shown_source(settings.source),
            runs=[_run_item(r) for r in runs[:RECENT]],
            recent_failures=[
                self._summary(f) for f in store.list_failures(FailureFilter(), limit=RECENT)
            ],
            checks=[],
            check_error=None,
            chart=bucket_runs(runs, now=self.clock(), span=span, complete=complete),
        )

    def _worker(self, record: Any) -> WorkerItem:
        state = record.state
        silent_after = timedelta(seconds=max(self.settings.lease_seconds, 30.0))
        if state == "running" and self.clock() - record.last_seen > silent_after:
            state = "silent"
        return WorkerItem(
            worker_id=record.worker_id,
            host=record.host,
            pid=record.pid,
            started_at=record.started_at,
            last_seen=record.last_seen,
            processed=record.processed,
            state=state,
        )

    def _summary(self, failure: FailureRecord) -> FailureSummary:
        return FailureSummary(
            id=failure.id,
            customer_id=failure.customer_id,
            stage=failure.stage,
            kind=failure.kind,
            message=failure.message,
            retryable=failure.retryable,
            attempts=failure.attempts,
            state=failure_state(failure, self.settings.max_attempts),
            first_seen=failure.first_seen,
            last_seen=failure.last_seen,
            next_retry_at=failure.next_retry_at,
            resolved_at=failure.resolved_at,
            resolution=failure.resolution,
            run_id=failure.run_id,
        )

    def _detail(self, failure: FailureRecord) -> FailureDetail:
        record = failure.detail.get("record")
        klaviyo = failure.detail.get("klaviyo")
        return FailureDetail(
            **self._summary(failure).model_dump(),
            klaviyo=klaviyo if isinstance(klaviyo, dict) else None,
            payload=failure.detail.get("payload"),
            record=record if isinstance(record, dict) else None,
            detail={k: v for k, v in failure.detail.items() if k not in _DETAIL_KEYS},
        )


def _no_failure(failure_id: int) -> WebError:
    return WebError(404, "failure_not_found", f"there is no failure {failure_id} in the error log")


def _shown_source(spec: str | None) -> str | None:
    if spec is None or "://" not in spec:
        return spec
    try:
        return redact_url(spec)
    except ConfigError:
        return "a database (its URL could not be read)"


def _search(
    by: Literal["latest", "customer_id", "email", "profile_id"],
    query: str | None,
    found: list[Link],
    *,
    profiles: list[str] | None = None,
) -> LinkSearch:
    items = [
        LinkItem(
            customer_id=link.customer_id,
            profile_id=link.profile_id,
            how=link.how,
            how_text=HOW.get(link.how, link.how),
            created_at=link.created_at,
            updated_at=link.updated_at,
        )
        for link in found
    ]
    return LinkSearch(by=by, query=query, profiles=profiles or [], items=items)


def _run_item(run: RunRecord) -> RunItem:
    return RunItem(
        id=run.id,
        kind=run.kind,
        source=_shown_source(run.source),
        started_at=run.started_at,
        finished_at=run.finished_at,
        counts=run.counts,
        total=sum(run.counts.values()),
    )


def _outcome_item(outcome: Outcome) -> OutcomeItem:
    failure = outcome.failure
    return OutcomeItem(
        customer_id=outcome.customer_id,
        outcome=outcome.kind,
        profile_id=outcome.profile_id,
        route=outcome.route,
        failure_kind=failure.kind if failure else None,
        failure_message=failure.message if failure else None,
    )


def _retry_item(result: RetryResult, state: FailureState) -> RetryItem:
    base: dict[str, Any] = {
        "failure_id": result.failure.id,
        "customer_id": result.failure.customer_id,
        "was": result.failure.kind,
        "state": state,
        "note": result.note,
    }
    outcome = result.outcome
    if outcome is None:
        # Nothing was sent: no record to retry with, or the engine gave this customer no outcome.
        reason = result.skipped or "the retry gave this customer no outcome"
        return RetryItem(
            **base,
            status="not_retried",
            outcome=None,
            profile_id=None,
            message=f"not retried: {reason}",
            failure_kind=None,
        )
    if outcome.failure is not None:
        return RetryItem(
            **base,
            status="failed",
            outcome=outcome.kind,
            profile_id=outcome.profile_id,
            message=f"failed again: {outcome.failure.message}",
            failure_kind=outcome.failure.kind,
        )
    done = ROUTES.get(outcome.route or "", outcome.kind)
    return RetryItem(
        **base,
        status="resolved",
        outcome=outcome.kind,
        profile_id=outcome.profile_id,
        message=f"{done}: profile {outcome.profile_id}" if outcome.profile_id else done,
        failure_kind=None,
    )


def _matched_by(value: Any) -> Literal["email", "phone"] | None:
    if value == "matched_email":
        return "email"
    if value == "matched_phone":
        return "phone"
    return None


def _sync_result(outcome: Outcome, source: str, failure_id: int | None) -> SyncResult:
    detail = outcome.detail
    failure = outcome.failure
    payload = detail.get("payload")
    if payload is None and failure is not None:
        payload = failure.detail.get("payload")
    matched = detail.get("matched_by")
    # A profile written without a field Klaviyo left out carries a failure, but was written.
    if failure is not None and outcome.kind in ("failed", "conflict"):
        route_text = f"failed at {failure.stage}"
    else:
        route_text = ROUTES.get(outcome.route or "", outcome.route or outcome.kind)
    klaviyo = failure.detail.get("klaviyo") if failure else None
    return SyncResult(
        customer_id=outcome.customer_id,
        outcome=outcome.kind,
        route=outcome.route,
        route_text=route_text,
        matched_by=_matched_by(matched),
        profile_id=outcome.profile_id,
        payload=payload,
        consent=detail.get("consent"),
        lists={str(k): str(v) for k, v in detail.get("lists", {}).items()},
        notes=[str(n) for n in detail.get("notes", [])],
        failure=SyncFailure(
            failure_id=failure_id,
            kind=failure.kind,
            stage=failure.stage,
            message=failure.message,
            retryable=failure.retryable,
            klaviyo=klaviyo if isinstance(klaviyo, dict) else None,
        )
        if failure is not None
        else None,
        source=source,
    )
