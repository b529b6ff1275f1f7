"""One measured run of the engine, in a process of its own so its peak RSS is its own.

``python -m bench.child sync FILE OUT.json`` syncs FILE with the settings in the environment
(the runner points them at the sandbox and a store), counting every request it sends by
Klaviyo operation and status, and writes what it measured to OUT.json.

``python -m bench.child local FILE OUT.json`` measures the engine's local work on one core,
with Klaviyo out of the picture: mapping, phone normalization and fingerprinting.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from klaviyo_sync.config import load_settings
from klaviyo_sync.customer import Customer
from klaviyo_sync.klaviyo._endpoints import ENDPOINTS
from klaviyo_sync.mapping import compile_collection, load_collections
from klaviyo_sync.operations import Connections, phone_settings, sync_source
from klaviyo_sync.sources import open_source
from klaviyo_sync.sources._jsonlines import _screened as screened

_ROUTES = [
    (e.method, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(e.template)) + "$"), op)
    for op, e in ENDPOINTS.items()
]


def operation(method: str, path: str) -> str:
    for verb, pattern, op in _ROUTES:
        if verb == method and pattern.match(path):
            return op
    return f"{method} {path}"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts each request by operation, each 429 and each 400 (a bulk import job refused at
    submit is one), on its way to the real transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.requests: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        op = operation(request.method, request.url.path)
        self.requests[op] += 1
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            self.throttled[op] += 1
        elif response.status_code == 400:
            self.refused[op] += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux carries ``ru_maxrss`` over from the parent across
    exec (the runner, which holds the sandbox, is large), so VmHWM is read where there is one:
    it belongs to this process's memory alone."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _sync(path: Path, full: bool) -> dict[str, Any]:
    settings = load_settings()
    transport = CountingTransport(httpx.AsyncHTTPTransport(http1=True))
    source = open_source(str(path))
    started = time.perf_counter()
    summary = await sync_source(
        settings, source, full=full, connections=Connections(transport=transport)
    )
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "requests": dict(transport.requests),
        "throttled": dict(transport.throttled),
        "refused": dict(transport.refused),
        "outcomes": dict(summary.outcomes),
        "failures": dict(summary.failures),
        "peak_rss_mb": peak_rss_mb(),
    }


def _local(path: Path, limit: int) -> dict[str, Any]:
    """Customers per second on one core: parsing apart, then mapping + phone + fingerprint."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    settings = load_settings()
    collections = load_collections(settings.mapping_path)
    add = compile_collection(collections.add, phone=phone_settings(settings))
    lines = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number >= limit:
                break
            lines.append(line)
    started = time.perf_counter()
    # As the JSON Lines source reads them: the line's text rules out what a store cannot keep.
    customers = [Customer.from_record(json.loads(line), screened=screened(line)) for line in lines]
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    for customer in customers:
        add.draft(customer, profile_id=None).fingerprint()
    mapped = time.perf_counter() - started
    return {
        "customers": len(customers),
        "parse_per_s": len(customers) / parsed,
        "map_per_s": len(customers) / mapped,
        "both_per_s": len(customers) / (parsed + mapped),
    }


def main(argv: list[str]) -> None:
    mode, source, out = argv[0], Path(argv[1]), Path(argv[2])
    if mode == "sync":
        result = asyncio.run(_sync(source, full="--full" in argv))
    else:
        result = _local(source, int(argv[3]) if len(argv) > 3 else 200_000)
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
