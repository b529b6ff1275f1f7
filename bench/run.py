"""The benchmark runner: both strategies, four scenarios, one table per scenario.

For each strategy it starts a fresh sandbox on loopback with Klaviyo's published rate limits
enforced, seeds the profiles that already exist in Klaviyo, and runs the engine in a
subprocess (so the peak RSS measured is the engine's own) four times on one store:

1. initial sync of N new customers;
2. resync, nothing changed;
3. resync, 10% changed;
4. resync, all changed.

Then, with bulk import jobs only, the initial sync again on a fresh sandbox and store, of the
same customers but one in 1,000 with an email Klaviyo refuses: Klaviyo refuses a whole job at
submit for one bad row, and the table shows what that costs beside the initial sync.

Between scenarios the sandbox's rate-limit windows are reset, as hours would pass between
real runs. The per-record strategy moves at most ~750 profiles a minute by design, so it runs
on the first ``--per-record-n`` customers only; its wall time at N is extrapolated (the
rate-limit floor of its request mix scaled to N, divided by the efficiency it reached) and
labelled as such.

The rate-limit floor of a run is the least time Klaviyo's published limits allow for the
requests it made: for each operation, request k (from 0) can go no sooner than
``60·⌊k/steady⌋ + ⌊(k mod steady)/burst⌋`` seconds after the first, and the floor is the
longest of those over the operations. Efficiency is floor ÷ wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from klaviyo_sandbox import RunningSandbox, SandboxConfig, running_sandbox

from klaviyo_sync.klaviyo.limits import LIMITS

from .generate import existing_profiles, write_customers

ROOT = Path(__file__).resolve().parent
API_KEY = "pk_bench0000000000000000000000"
SCENARIOS = (
    ("initial sync", 0),
    ("resync, nothing changed", 0),
    ("resync, 10% changed", 1),
    ("resync, all changed", 2),
)
STRATEGIES = ("bulk", "per-record")
INVALID_EMAIL_EVERY = 1_000


@dataclass(slots=True)
class Measured:
    """One scenario with one strategy."""

    customers: int
    wall: float
    requests: dict[str, int]
    throttled: dict[str, int]
    outcomes: dict[str, int]
    failures: dict[str, int]
    peak_rss_mb: float
    refused: dict[str, int] = field(default_factory=dict)
    """requests answered 400, by operation: a bulk import job refused at submit is one"""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.requests.items() if not op.startswith("get_"))

    @property
    def per_thousand(self) -> float:
        return 1000 * self.total / self.customers

    @property
    def floor(self) -> float:
        return rate_limit_floor(self.requests)

    @property
    def efficiency(self) -> float | None:
        return self.floor / self.wall if self.floor > 0 else None


def rate_limit_floor(requests: dict[str, int]) -> float:
    """The least time the published limits allow for this request mix, in seconds."""
    floor = 0.0
    for op, count in requests.items():
        limit = LIMITS.get(op)
        if limit is None or count <= 0:
            continue
        k = count - 1
        floor = max(floor, 60 * (k // limit.steady) + (k % limit.steady) // limit.burst)
    return floor


def _child(args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.child", *args[:2], str(out), *args[2:]]
    subprocess.run(command, env=env, cwd=ROOT.parent, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _environment(
    base_url: str, store: Path, strategy: str, threshold: int | None
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KLAVIYO_")  # the operator's own account must never be touched
    }
    env.update(
        KLAVIYO_API_KEY=API_KEY,
        KLAVIYO_BASE_URL=base_url,
        KLAVIYO_SYNC_STORE=f"sqlite:///{store}",
        KLAVIYO_SYNC_MAPPING=str(ROOT / "mapping.toml"),
        KLAVIYO_SYNC_STRATEGY=strategy,
    )
    if threshold is not None:
        env["KLAVIYO_SYNC_BULK_THRESHOLD"] = str(threshold)
    return env


def run_strategy(
    strategy: str, n: int, files: dict[int, Path], work: Path, job_seconds: float
) -> list[Measured]:
    results = []
    with _klaviyo(n, job_seconds) as running:
        store = work / f"{strategy}.db"
        env = _environment(running.base_url, store, strategy, None)
        for number, (scenario, version) in enumerate(SCENARIOS):
            running.sandbox.limiter.reset()
            out = work / f"{strategy}-{number}.json"
            measured = Measured(customers=n, **_child(["sync", str(files[version])], env, out))
            results.append(measured)
            _progress(strategy, scenario, measured)
    return results


def run_invalid_emails(n: int, path: Path, work: Path, job_seconds: float) -> Measured:
    """The initial sync in bulk, on a fresh Klaviyo and store, of customers one in 1,000 of
    whom has an email Klaviyo refuses."""
    with _klaviyo(n, job_seconds) as running:
        env = _environment(running.base_url, work / "invalid-emails.db", "bulk", None)
        out = work / "bulk-invalid-emails.json"
        measured = Measured(customers=n, **_child(["sync", str(path)], env, out))
    _progress("bulk", "initial, 1 in 1,000 bad", measured)
    return measured


@contextmanager
def _klaviyo(n: int, job_seconds: float) -> Iterator[RunningSandbox]:
    """A fresh sandbox with the template's lists and the profiles Klaviyo already has."""
    config = SandboxConfig(
        rate_limits=True, request_log_limit=1_000, job_processing_seconds=job_seconds
    )
    with running_sandbox(config) as running:
        running.sandbox.create_list("Sms Subscribers", "double_opt_in")
        running.sandbox.create_list("Preview List", "single_opt_in")
        for attributes in existing_profiles(n):
            running.sandbox.create_profile(attributes)
        yield running


def _progress(strategy: str, scenario: str, measured: Measured) -> None:
    print(
        f"  {strategy:<10} {scenario:<26} {measured.wall:8.1f}s {measured.total:7} requests",
        file=sys.stderr,
        flush=True,
    )


def _files(work: Path, n: int) -> dict[int, Path]:
    return {v: write_customers(work / f"customers-{n}-v{v}.jsonl", n, v) for v in (0, 1, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="customers for the bulk strategy")
    parser.add_argument(
        "--per-record-n", type=int, default=1_000, help="customers for the per-record strategy"
    )
    parser.add_argument(
        "--job-seconds",
        type=float,
        default=SandboxConfig().job_processing_seconds,
        help="how long the sandbox takes over a bulk import job",
    )
    parser.add_argument("--work", type=Path, default=None, help="keep files here (default: temp)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="klaviyo-sync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    per_record_n = min(args.per_record_n, args.n)
    print(f"generating {args.n:,} customers in {work}", file=sys.stderr, flush=True)
    files = {args.n: _files(work, args.n)}
    if per_record_n != args.n:
        files[per_record_n] = _files(work, per_record_n)
    invalid = write_customers(
        work / f"customers-{args.n}-invalid-emails.jsonl",
        args.n,
        invalid_email_every=INVALID_EMAIL_EVERY,
    )
    started = time.perf_counter()
    results = {
        "bulk": run_strategy("bulk", args.n, files[args.n], work, args.job_seconds),
        "per-record": run_strategy(
            "per-record", per_record_n, files[per_record_n], work, args.job_seconds
        ),
        "invalid-emails": [run_invalid_emails(args.n, invalid, work, args.job_seconds)],
    }
    env = _environment("http://127.0.0.1:9", work / "local.db", "bulk", None)
    local = _child(
        ["local", str(files[args.n][0]), str(min(args.n, 200_000))], env, work / "l.json"
    )
    from .report import print_report

    print_report(results, local, n=args.n, per_record_n=per_record_n, machine=_machine())
    print(f"\n(benchmark took {time.perf_counter() - started:.0f}s)", file=sys.stderr)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count()
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"
