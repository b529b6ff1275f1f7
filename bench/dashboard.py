"""How the dashboard's pages and API hold up with a big store.

``python -m bench.dashboard [FAILURES]`` fills a SQLite store with FAILURES failures (100,000 by
default), as many links and 6,000 runs, then times every page and API call in-process (median
of 9 requests each, after one warm-up) and prints them beside the same request on an empty
store. The ratio is the figure to watch: paging and indexed counts keep it near 1 for most
pages; the text search scans the log and grows with it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from klaviyo_sync.config import Settings
from klaviyo_sync.store import Store
from klaviyo_sync.store._schema import failures, links, runs
from klaviyo_sync.web import create_app

TOKEN = "bench-dashboard-token-0123456789-abcdef"
KINDS = ("phone_rejected",) * 6 + ("klaviyo_unavailable",) * 3 + ("no_identifier",)
PATHS = [
    "/",
    "/?range=14d",
    "/failures",
    "/failures?offset=45000",
    "/failures?kind=no_identifier",
    "/failures?text=cust4242",
    "/failures/1",
    "/links",
    "/links?by=customer_id&q=cust5",
    "/runs",
    "/runs/1",
    "/api/overview",
    "/api/failures?limit=200",
    "/api/failures?include_resolved=true&offset=90000",
]


def fill(url: str, count: int, run_count: int = 6000) -> None:
    Store.open(url).close()
    if not count:
        return
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    start = now - timedelta(seconds=count)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(runs),
            [
                {
                    "kind": "trigger",
                    "source": "queue",
                    "started_at": now - timedelta(minutes=run_count - i),
                    "finished_at": now - timedelta(minutes=run_count - i),
                    "counts": {"created": 2, "failed": 1},
                }
                for i in range(run_count)
            ],
        )
        conn.execute(
            sa.insert(failures),
            [
                {
                    "customer_id": f"cust{n}",
                    "stage": "write",
                    "kind": KINDS[n % len(KINDS)],
                    "message": f"POST /api/profiles failed with 400 for customer cust{n}",
                    "retryable": False,
                    "detail": {"record": {"Id": f"cust{n}", "EmailAddress": f"c{n}@x.com"}},
                    "attempts": 1,
                    "first_seen": start + timedelta(seconds=n),
                    "last_seen": start + timedelta(seconds=n),
                    "resolved_at": start + timedelta(seconds=n) if n % 7 == 3 else None,
                    "resolution": None,
                    "run_id": None,
                }
                for n in range(count)
            ],
        )
        conn.execute(
            sa.insert(links),
            [
                {
                    "customer_id": f"cust{n}",
                    "profile_id": f"P{n:08d}",
                    "how": "created",
                    "created_at": start + timedelta(seconds=n),
                    "updated_at": start + timedelta(seconds=n),
                }
                for n in range(count)
            ],
        )
    engine.dispose()


async def timings(url: str) -> dict[str, float]:
    settings = Settings.model_validate(
        {"KLAVIYO_SYNC_STORE": url, "KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN}
    )
    found: dict[str, float] = {}
    with Store.open(url) as store:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            await client.post("/login", data={"token": TOKEN})
            for path in PATHS:
                headers = {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/api") else {}
                await client.get(path, headers=headers)
                took = []
                for _ in range(9):
                    began = time.perf_counter()
                    answer = await client.get(path, headers=headers)
                    took.append(time.perf_counter() - began)
                    if answer.status_code not in (200, 404):
                        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
                found[path] = statistics.median(took)
    return found


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        empty, big = f"sqlite:///{Path(tmp) / 'empty.db'}", f"sqlite:///{Path(tmp) / 'big.db'}"
        fill(empty, 0)
        began = time.perf_counter()
        fill(big, count)
        print(
            f"filled {count:,} failures, {count:,} links, 6,000 runs in "
            f"{time.perf_counter() - began:.1f} s (SQLite)"
        )
        small, large = asyncio.run(timings(empty)), asyncio.run(timings(big))
    print(f"{'request':<48} {'empty':>9} {f'{count:,}':>9} {'ratio':>6}")
    for path in PATHS:
        print(
            f"{path:<48} {small[path] * 1000:>7.1f}ms {large[path] * 1000:>7.1f}ms "
            f"{large[path] / small[path]:>6.1f}"
        )


if __name__ == "__main__":
    main()
