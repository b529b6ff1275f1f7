"""The library calls behind the command line: sync a source, plan it, sync one customer, check,
retry and resolve failures.

Each opens what it needs from ``Settings`` (the store, the Klaviyo client, the collections),
does one thing, and closes everything again. ``transport`` lets tests and the demo point the
client at an in-process sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from .clock import Clock
from .config import Settings
from .customer import Customer
from .draft import parse_destination
from .engine import Engine, EngineOptions, Guardrails, PlanEntry, PlanReport, RunSummary
from .exceptions import ConfigError, CustomerNotFoundError, InvalidRecordError
from .klaviyo import KlaviyoClient
from .mapping import CheckMessage, PhoneSettings, check_collections, load_collections
from .outcome import Outcome
from .sources import Source, open_source
from .store import FailureFilter, FailureRecord, NotFoundError, Store, StoreError

__all__ = [
    "Connections",
    "ListResult",
    "RetryResult",
    "check_configuration",
    "configured_source",
    "create_lists",
    "guardrails",
    "open_engine",
    "plan_source",
    "resolve_failure",
    "retry_failures",
    "sync_one",
    "sync_source",
]


@dataclass(slots=True, frozen=True)
class Connections:
    """How to reach Klaviyo: by default over the network from ``Settings``; tests inject."""

    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock | None = None


def phone_settings(settings: Settings) -> PhoneSettings:
    return PhoneSettings(region=settings.phone_region, strict=settings.phone_strict)


def guardrails(settings: Settings) -> Guardrails:
    return Guardrails(
        max_unsubscribe_share=settings.max_unsubscribe_share,
        max_list_removal_share=settings.max_list_removal_share,
        max_cleared_fields=settings.max_cleared_fields,
    )


@asynccontextmanager
async def open_engine(
    settings: Settings,
    *,
    full: bool = False,
    force: bool = False,
    live: bool = False,
    connections: Connections | None = None,
) -> AsyncIterator[Engine]:
    """An engine over the configured store, Klaviyo account and collections.

    ``full`` resends unchanged customers, ``force`` writes past the guardrails, ``live`` diffs
    against Klaviyo's profiles instead of the store (for plans)."""
    connections = connections or Connections()
    collections = load_collections(settings.mapping_path)
    client = KlaviyoClient.from_settings(
        settings, transport=connections.transport, clock=connections.clock
    )
    try:
        store = Store.open(settings.store_url)
    except BaseException:
        await client.aclose()
        raise
    options = EngineOptions(
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        subscribe_sms=settings.subscribe_sms,
        account_opt_in=settings.account_opt_in,
        full=full,
        strategy=settings.strategy,
        bulk_threshold=settings.bulk_threshold,
        guardrails=guardrails(settings),
        force=force,
        live=live,
    )
    try:
        yield Engine(client, store, collections, phone=phone_settings(settings), options=options)
    finally:
        await client.aclose()
        store.close()


async def sync_source(
    settings: Settings,
    source: Source,
    *,
    full: bool = False,
    force: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    connections: Connections | None = None,
) -> RunSummary:
    """Sync every customer of ``source``; each one's outcome goes to ``on_outcome``.

    Raises GuardrailError (after recording the refused batch) when the run would go past a
    guardrail, unless ``force``."""
    async with open_engine(settings, full=full, force=force, connections=connections) as engine:
        return await engine.run(source, kind="sync", source=source.name, on_outcome=on_outcome)


async def plan_source(
    settings: Settings,
    source: Source,
    *,
    only: str | None = None,
    live: bool = False,
    full: bool = False,
    force: bool = False,
    on_entry: Callable[[PlanEntry], None] | None = None,
    connections: Connections | None = None,
) -> PlanReport:
    """What syncing ``source`` would do, customer by customer; nothing is written.

    ``only`` plans that one customer (fetched by id); ``live`` diffs every linked customer
    against its profile as Klaviyo holds it now rather than against what the store says was
    last applied. The lookups a sync makes are made (they are reads), and Klaviyo's lists are
    read when a customer's lists change: the plan says what each consent and list change comes
    to (a list Klaviyo does not have, a consent email on a double opt-in list) as the sync
    decides it."""
    items: Source | list[Customer] = source
    if only is not None:
        customer = source.get(only)
        if customer is None:
            raise CustomerNotFoundError(only, source.name)
        items = [customer]
    async with open_engine(
        settings, full=full, force=force, live=live, connections=connections
    ) as engine:
        return await engine.preview(items, on_entry=on_entry)


async def sync_one(
    settings: Settings,
    customer_id: str,
    source: Source,
    *,
    connections: Connections | None = None,
) -> Outcome:
    """The iPaaS.com integration's Manual Sync: fetch one customer by id from ``source`` and
    transfer it now.

    A manual sync always sends, even when nothing changed since the last transfer: the person
    asking wants Klaviyo brought in line now.
    """
    customer = source.get(customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id, source.name)
    outcomes: list[Outcome] = []
    async with open_engine(settings, full=True, connections=connections) as engine:
        await engine.run(
            [customer], kind="sync-one", source=source.name, on_outcome=outcomes.append
        )
    return outcomes[0]


async def check_configuration(
    settings: Settings, *, offline: bool = False, connections: Connections | None = None
) -> list[CheckMessage]:
    """Check the collections; unless ``offline``, also against Klaviyo's lists."""
    collections = load_collections(settings.mapping_path)
    lists: dict[str, str] | None = None
    if not offline:
        lists = await _list_opt_ins(settings, connections or Connections())
    return check_collections(
        collections,
        phone=phone_settings(settings),
        lists=lists,
        account_opt_in=settings.account_opt_in,
    )


async def _list_opt_ins(settings: Settings, connections: Connections) -> dict[str, str]:
    """Each Klaviyo list's ``opt_in_process``, by name."""
    async with KlaviyoClient.from_settings(
        settings, transport=connections.transport, clock=connections.clock
    ) as client:
        return await _opt_ins(client)


async def _opt_ins(client: KlaviyoClient) -> dict[str, str]:
    lists: dict[str, str] = {}
    async for item in client.iter_lists():
        attrs = item.get("attributes", {})
        lists.setdefault(str(attrs.get("name")), str(attrs.get("opt_in_process")))
    return lists


@dataclass(slots=True, frozen=True)
class ListResult:
    """One list the mapping names: the opt-in process its rows need, and what was done:
    ``created``, ``would_create`` (a dry run), ``exists``, or ``differs`` (it exists with
    another opt-in process, which is left as it is: Klaviyo's API cannot change it)."""

    name: str
    opt_in_process: str
    status: str
    existing_opt_in: str | None = None


def named_lists(settings: Settings) -> dict[str, str]:
    """Each list the mapping's rows name, with the opt-in process they need: ``LIST_`` asks
    for consent, which only a double opt-in list confirms by email; ``UCLIST_`` adds without
    consent, so a single opt-in list. A name used both ways needs double opt-in."""
    collections = load_collections(settings.mapping_path)
    needed: dict[str, str] = {}
    for collection in (collections.add, collections.update):
        for row in collection.rows:
            if not isinstance(row.destination, str):
                continue
            target = parse_destination(row.destination)
            if target.kind == "list":
                needed[target.key] = "double_opt_in"
            elif target.kind == "uclist":
                needed.setdefault(target.key, "single_opt_in")
    return needed


async def create_lists(
    settings: Settings, *, dry_run: bool = False, connections: Connections | None = None
) -> list[ListResult]:
    """Create in Klaviyo the lists the mapping names and the account lacks, each with the
    opt-in process its rows need; lists that exist are left as they are."""
    needed = named_lists(settings)
    connections = connections or Connections()
    results: list[ListResult] = []
    async with KlaviyoClient.from_settings(
        settings, transport=connections.transport, clock=connections.clock
    ) as client:
        existing = await _opt_ins(client) if needed else {}
        for name, opt_in in needed.items():
            have = existing.get(name)
            if have is not None:
                status = "exists" if have == opt_in else "differs"
                results.append(ListResult(name, opt_in, status, existing_opt_in=have))
            elif dry_run:
                results.append(ListResult(name, opt_in, "would_create"))
            else:
                await client.create_list(name, opt_in_process=opt_in)
                results.append(ListResult(name, opt_in, "created"))
    return results


def configured_source(settings: Settings, override: str | None = None) -> Source | None:
    """The source to re-read customers from: ``override``, else ``KLAVIYO_SYNC_SOURCE``."""
    spec = override or settings.source
    if spec is None:
        return None
    return open_source(spec, query=settings.source_query)


@dataclass(slots=True, frozen=True)
class RetryResult:
    """What retrying one logged failure did: its customer's new outcome, or why it was not
    retried (``skipped``: nothing to retry with). ``note`` says where the record came from when
    that is not the source asked for."""

    failure: FailureRecord
    outcome: Outcome | None = None
    skipped: str | None = None
    note: str | None = None


async def retry_failures(
    settings: Settings,
    failure_ids: Sequence[int] = (),
    *,
    every: bool = False,
    kind: str | None = None,
    source: Source | None = None,
    force: bool = False,
    connections: Connections | None = None,
) -> list[RetryResult]:
    """Run logged failures again: the named ones, or ``every`` open one (of ``kind``).

    Each customer's latest state is re-read from ``source`` when there is one; otherwise the
    record kept with the failure is used. A success resolves the failure in the store.
    """
    with Store.open(settings.store_url) as store:
        failures = _chosen_failures(store, failure_ids, every=every, kind=kind)
    results: dict[int, RetryResult] = {}
    notes: dict[int, str] = {}
    customers: dict[str, Customer] = {}
    for failure in failures:
        try:
            found, note = _retry_record(failure, source)
        except InvalidRecordError as err:
            found, note = f"the record is malformed: {err}", None
        if isinstance(found, str):
            results[failure.id] = RetryResult(failure, skipped=found)
            continue
        customers[found.id] = found
        if note is not None:
            notes[failure.id] = note
    outcomes: dict[str, Outcome] = {}
    if customers:
        async with open_engine(settings, full=True, force=force, connections=connections) as engine:
            await engine.run(
                list(customers.values()),
                kind="retry",
                source=source.name if source else "error log",
                on_outcome=lambda o: outcomes.__setitem__(o.customer_id, o),
            )
    for failure in failures:
        if failure.id not in results:
            outcome = outcomes.get(failure.customer_id or "")
            results[failure.id] = RetryResult(failure, outcome=outcome, note=notes.get(failure.id))
    return [results[f.id] for f in failures]


def _chosen_failures(
    store: Store, failure_ids: Sequence[int], *, every: bool, kind: str | None
) -> list[FailureRecord]:
    if every:
        chosen: list[FailureRecord] = []
        where = FailureFilter(kind=kind)
        while batch := store.list_failures(where, limit=500, offset=len(chosen)):
            chosen.extend(batch)
        return chosen
    if not failure_ids:
        raise ConfigError("name the failures to retry, or ask for all of them")
    found = []
    for failure_id in failure_ids:
        failure = store.get_failure(failure_id)
        if failure is None:
            raise ConfigError(f"there is no failure {failure_id} in the error log")
        found.append(failure)
    return found


def _retry_record(
    failure: FailureRecord, source: Source | None
) -> tuple[Customer | str, str | None]:
    """The customer to run again (or why there is none), and a note when it is not the
    source's: a customer that reached us by webhook, or left the export since, is retried with
    the record kept with its failure rather than not at all."""
    if failure.resolved_at is not None:
        return "already resolved", None
    if failure.customer_id is None:
        return "the record had no readable Id: fix it at the source and sync again", None
    note = None
    if source is not None:
        customer = source.get(failure.customer_id)
        if customer is not None:
            return customer, None
        note = f"not in {source.name}: retried with the record kept with the failure"
    record = failure.detail.get("record")
    if not isinstance(record, dict):
        where = f"not in {source.name}, and " if source is not None else ""
        return f"{where}no record was kept with this failure: retry with a source that has it", None
    return Customer.from_record(record, where=f"error log #{failure.id}"), note


def resolve_failure(
    settings: Settings, failure_id: int, *, note: str | None = None, profile: str | None = None
) -> FailureRecord:
    """Mark a failure resolved; with ``profile``, settle an identity conflict by linking its
    customer to that profile (one of the profiles the conflict named), so the next run
    proceeds with it."""
    with Store.open(settings.store_url) as store:
        try:
            if profile is None:
                return store.resolve_failure(failure_id, note=note or "resolved by hand")
            failure = store.get_failure(failure_id)
            if failure is None:
                raise NotFoundError(f"no failure {failure_id}")
            _check_candidate(failure, profile)
            chosen = note or f"linked to profile {profile} by hand"
            return store.link_by_hand(failure_id, profile, note=chosen)
        except NotFoundError:
            raise ConfigError(f"there is no failure {failure_id} in the error log") from None
        except StoreError as err:
            raise ConfigError(str(err)) from None


def _check_candidate(failure: FailureRecord, profile: str) -> None:
    if failure.kind != "conflict":
        raise ConfigError(
            f"failure {failure.id} is {failure.kind}, not an identity conflict: --profile "
            "settles conflicts only"
        )
    candidates = [str(c) for c in failure.detail.get("candidates") or []]
    if candidates and profile not in candidates:
        raise ConfigError(
            f"profile {profile} is not one of the profiles in conflict for customer "
            f"{failure.customer_id}: {', '.join(candidates)}"
        )
