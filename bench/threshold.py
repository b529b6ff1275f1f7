"""Where bulk import jobs start to pay: the measurement behind ``bulk_threshold``'s default.

``python -m bench.threshold`` syncs batches of n new customers with each strategy, each on a
fresh sandbox over loopback with the published rate limits on, and prints the wall time of
each. A bulk job's latency is the sandbox's ``--job-seconds`` (Klaviyo publishes none; its
jobs take seconds), so the table is printed for each value given. The crossover is the
smallest n at which bulk finishes no later than per record.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from klaviyo_sandbox import SandboxConfig, running_sandbox

from .generate import write_customers
from .run import Measured, _child, _environment

LADDER = (25, 50, 100, 200, 300, 400, 500, 750, 1000)


def _one(strategy: str, n: int, job_seconds: float, work: Path) -> Measured:
    source = write_customers(work / f"t-{n}.jsonl", n)
    config = SandboxConfig(
        rate_limits=True, request_log_limit=100, job_processing_seconds=job_seconds
    )
    with running_sandbox(config) as running:
        running.sandbox.create_list("Sms Subscribers", "double_opt_in")
        running.sandbox.create_list("Preview List", "single_opt_in")
        store = work / f"t-{strategy}-{n}-{job_seconds}.db"
        env = _environment(running.base_url, store, strategy, None)
        out = work / f"t-{strategy}-{n}.json"
        return Measured(customers=n, **_child(["sync", str(source)], env, out))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.threshold", description=__doc__)
    parser.add_argument("--job-seconds", type=float, nargs="+", default=[0.2, 5.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LADDER))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="klaviyo-sync-threshold-"))
    for job_seconds in args.job_seconds:
        print(f"#### New customers in one batch, bulk job latency {job_seconds:g} s", "", sep="\n")
        print("| customers | per-record | bulk | per-record requests | bulk requests |")
        print("|---:|---:|---:|---:|---:|")
        crossover = None
        for n in args.sizes:
            per = _one("per-record", n, job_seconds, work)
            bulk = _one("bulk", n, job_seconds, work)
            if crossover is None and bulk.wall <= per.wall:
                crossover = n
            print(
                f"| {n:,} | {per.wall:.2f} s | {bulk.wall:.2f} s | {per.total:,} | {bulk.total:,} |"
            )
            sys.stdout.flush()
        print(f"\nBulk is as fast from {crossover:,} customers.\n" if crossover else "\n")


if __name__ == "__main__":
    main()
