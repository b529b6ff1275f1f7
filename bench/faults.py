"""A bulk sync under a heavy fault mix: how many customers one run transfers, and what a rerun
leaves (issue 13: "the blast radius of one failed request is a whole batch").

``python -m bench.faults -n 5000`` syncs n new customers with the bulk strategy against the
in-process sandbox, which answers each /api request, drawn independently per rule from its
seeded RNG (the first rule that hits wins):

- 20% with a 503,
- 10% with a 429 and ``Retry-After: 1``,
- 5% with the connection dropped before the request is applied,
- 5% with the connection dropped after it is applied (the answer is lost, the write is not),

then syncs the same customers again under the same faults. Retry waits pass on an instant
clock (the time they would have taken is printed as "waited"), so the figure takes seconds.
It prints each run's outcomes, the failures by kind, the requests by what the sandbox did with
them, and whether any customer has two profiles. ``--mix realistic`` uses the benchmark's
generated customers (``bench.generate``), whose few data failures (a phone Klaviyo rejects, no
identifier) stay failed in the rerun by design; the default customers have none.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from klaviyo_sandbox import FaultRule, SandboxConfig, create_app, sandbox_transport

from klaviyo_sync.engine import Engine, EngineOptions, RunSummary
from klaviyo_sync.klaviyo import KlaviyoClient, RetryPolicy
from klaviyo_sync.mapping import load_collections
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import Store

from .child import operation
from .generate import customer, existing_profiles

__all__ = ["FAULT_MIX", "Figures", "InstantClock", "clean_customers", "measure"]

API_KEY = "pk_faults0000000000000000"

FAULT_MIX = (
    FaultRule(operation="*", status=503, rate=0.20),
    FaultRule(operation="*", status=429, rate=0.10),
    FaultRule(operation="*", drop=True, rate=0.05),
    FaultRule(operation="*", drop=True, after=True, rate=0.05),
)

Mix = Literal["clean", "realistic"]


class InstantClock:
    """Sleeps pass at once (letting other tasks run) and add up in ``waited``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waited = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.now += seconds
        self.waited += seconds
        await asyncio.sleep(0)


class _Tally(httpx.AsyncBaseTransport):
    """Counts what became of each request: its status, or a dropped connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.answers: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.by_operation[operation(request.method, request.url.path)] += 1
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            self.answers["dropped"] += 1
            raise
        self.answers[str(response.status_code)] += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(slots=True)
class Run:
    """One sync: the engine's summary of it, failures by kind, stage and whether retryable,
    and what went over the wire."""

    summary: RunSummary = field(default_factory=lambda: RunSummary(run_id=0))
    failures: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    waited: float = 0.0
    wall: float = 0.0

    @property
    def total(self) -> int:
        return self.summary.total

    @property
    def failed(self) -> int:
        return self.summary.failed

    @property
    def succeeded(self) -> int:
        return self.total - self.failed


@dataclass(slots=True)
class Figures:
    customers: int
    runs: list[Run]
    profiles: int
    """profiles in Klaviyo after the last run"""
    duplicated: int
    """external ids held by more than one profile"""


_AREAS = (415, 212, 312, 617, 646)


def clean_customers(n: int) -> list[dict[str, Any]]:
    """``n`` (≤ 50,000) new customers, each with its own email and valid phone number."""
    return [
        {
            "Id": 200_000 + i,
            "EmailAddress": f"f{i}@example.com",
            "Phone": f"({_AREAS[i // 10_000]}) 555-{i % 10_000:04d}",
            "FirstName": f"F{i}",
        }
        for i in range(n)
    ]


async def measure(
    n: int,
    work: Path,
    *,
    mix: Mix = "clean",
    seed: int = 1,
    rules: tuple[FaultRule, ...] = FAULT_MIX,
    runs: int = 2,
    retry: RetryPolicy | None = None,
) -> Figures:
    """Sync ``n`` customers ``runs`` times with the bulk strategy under ``rules``, on one
    store, retrying per ``retry`` (the client's default policy when None)."""
    app = create_app(SandboxConfig(rate_limits=False, job_processing_seconds=0.0, seed=seed))
    sandbox = app.state.sandbox
    sandbox.create_list("Sms Subscribers", "double_opt_in")
    sandbox.create_list("Preview List", "single_opt_in")
    records = clean_customers(n) if mix == "clean" else [customer(i) for i in range(n)]
    if mix == "realistic":
        for attributes in existing_profiles(n):
            sandbox.create_profile(attributes)
    sandbox.set_faults(rules, seed)
    store_url = f"sqlite:///{work / 'store.db'}"
    transport = sandbox_transport(app)
    done = [await _run(store_url, records, transport, retry) for _ in range(runs)]
    external_ids = Counter(p.external_id for p in sandbox.profiles.values() if p.external_id)
    duplicated = sum(1 for count in external_ids.values() if count > 1)
    return Figures(n, done, len(sandbox.profiles), duplicated)


async def _run(
    store_url: str,
    records: list[dict[str, Any]],
    inner: httpx.AsyncBaseTransport,
    retry: RetryPolicy | None,
) -> Run:
    run = Run()
    clock = InstantClock()
    tally = _Tally(inner)
    client = KlaviyoClient(
        API_KEY, base_url="http://sandbox", transport=tally, clock=clock, retry=retry
    )
    store = Store.open(store_url)

    def seen(outcome: Outcome) -> None:
        run.summary.add(outcome)
        if outcome.failure is not None:
            retryable = "retryable" if outcome.failure.retryable else "not retryable"
            run.failures[f"{outcome.failure.kind} ({outcome.failure.stage}, {retryable})"] += 1

    started = time.perf_counter()
    try:
        engine = Engine(
            client, store, load_collections(None), options=EngineOptions(strategy="bulk")
        )
        await engine.run(RecordsSource(records), on_outcome=seen)
    finally:
        await client.aclose()
        store.close()
    run.wall = time.perf_counter() - started
    run.answers, run.waited = tally.answers, clock.waited
    run.requests = sum(tally.by_operation.values())
    return run


def report(figures: Figures, retry: RetryPolicy) -> str:
    lines = [
        f"{figures.customers:,} customers, bulk strategy, fault mix: 20% 503, 10% 429 "
        "(Retry-After: 1), 5% dropped before, 5% dropped after; tries: "
        f"{retry.max_attempts}, {retry.attempts(retry.patient_from)} for a request carrying "
        f"{retry.patient_from}+ customers",
        "",
        "| run | succeeded | failed | requests | answers | waited (retries) | wall |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for number, run in enumerate(figures.runs, 1):
        share = 100 * run.succeeded / run.total if run.total else 0.0
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(run.answers.items()))
        lines.append(
            f"| {number} | {run.succeeded:,} ({share:.1f}%) | {run.failed:,} | {run.requests:,} "
            f"| {answers} | {run.waited:.0f} s | {run.wall:.1f} s |"
        )
    for number, run in enumerate(figures.runs, 1):
        for kind, count in sorted(run.failures.items()):
            lines.append(f"run {number} failed: {count:,} × {kind}")
    lines.append(
        f"profiles in Klaviyo: {figures.profiles:,}; external ids on two profiles or more: "
        f"{figures.duplicated}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("-n", type=int, default=5_000, help="customers (at most 50,000)")
    parser.add_argument("--seed", type=int, default=1, help="the sandbox's fault draws")
    parser.add_argument("--mix", choices=("clean", "realistic"), default="clean")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--patient-attempts",
        type=int,
        default=RetryPolicy().patient_attempts,
        help="tries of a request carrying many customers (5, the single request's, to compare)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("klaviyo_sync").setLevel(logging.ERROR)  # a retry line per fault
    retry = RetryPolicy(patient_attempts=args.patient_attempts)
    with tempfile.TemporaryDirectory(prefix="klaviyo-sync-faults-") as work:
        figures = asyncio.run(
            measure(args.n, Path(work), mix=args.mix, seed=args.seed, runs=args.runs, retry=retry)
        )
    print(report(figures, retry))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
