"""Every page and API answer with 100,000 failures in the store (and 6,000 runs, 100,000
links): paged with limit and offset, counted by indexed queries. No timings are asserted here;
``bench/dashboard.py`` prints them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from klaviyo_sync.config import Settings
from klaviyo_sync.store import Store
from klaviyo_sync.store._schema import failures, links, runs
from klaviyo_sync.web import create_app

from .dashboard import TOKEN

# A store of 100,000 failures and 6,000 runs.
pytestmark = pytest.mark.slow

FAILURES = 100_000
RUNS = 6_000
KINDS = ("phone_rejected",) * 6 + ("klaviyo_unavailable",) * 3 + ("no_identifier",)


def kind_of(n: int) -> str:
    return KINDS[n % len(KINDS)]


def resolved(n: int) -> bool:
    return n % 7 == 3


OPEN = [n for n in range(FAILURES) if not resolved(n)]
OPEN_KINDS = Counter(kind_of(n) for n in OPEN)
NEWEST = [f"cust{n}" for n in reversed(OPEN)]


def fill(url: str) -> None:
    """Bulk rows straight into the store's tables: the store's own writes would take minutes."""
    Store.open(url).close()  # the schema, by the store's migrations
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    start = now - timedelta(seconds=FAILURES)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(runs),
            [
                {
                    "kind": "trigger",
                    "source": "queue",
                    "started_at": now - timedelta(minutes=RUNS - i),
                    "finished_at": now - timedelta(minutes=RUNS - i),
                    "counts": {"created": 2, "failed": 1},
                }
                for i in range(RUNS)
            ],
        )
        rows = []
        for n in range(FAILURES):
            seen = start + timedelta(seconds=n)
            rows.append(
                {
                    "customer_id": f"cust{n}",
                    "stage": "write",
                    "kind": kind_of(n),
                    "message": f"POST /api/profiles failed with 400 for customer cust{n}",
                    "retryable": kind_of(n) == "klaviyo_unavailable",
                    "detail": {
                        "payload": {"data": {"type": "profile", "attributes": {"email": "x"}}},
                        "record": {"Id": f"cust{n}", "EmailAddress": f"c{n}@example.com"},
                    },
                    "attempts": 1,
                    "first_seen": seen,
                    "last_seen": seen,
                    "resolved_at": seen if resolved(n) else None,
                    "resolution": "resolved by hand" if resolved(n) else None,
                    "run_id": RUNS,
                }
            )
        conn.execute(sa.insert(failures), rows)
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
                for n in range(FAILURES)
            ],
        )
    engine.dispose()


@dataclass
class Big:
    client: httpx.AsyncClient

    async def api(self, path: str) -> Any:
        answer = await self.client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def page(self, path: str) -> str:
        answer = await self.client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('big')) / 'store.db'}"
    fill(url)
    return url


@pytest.fixture
async def big(big_store: str) -> AsyncIterator[Big]:
    settings = Settings.model_validate(
        {"KLAVIYO_SYNC_STORE": big_store, "KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN}
    )
    with Store.open(big_store) as store:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            signed_in = await client.post("/login", data={"token": TOKEN})
            assert signed_in.status_code == 303
            yield Big(client)


async def test_the_error_log_api_pages_and_counts_100000_failures(big: Big) -> None:
    first = await big.api("/api/failures?limit=50")
    deep = await big.api(f"/api/failures?limit=50&offset={len(OPEN) - 10}")
    everything = await big.api("/api/failures?include_resolved=true&limit=1")
    phones = await big.api("/api/failures?kind=phone_rejected&limit=200&offset=1000")
    text = await big.api("/api/failures?text=CUST99999")

    assert first["total"] == len(OPEN)
    assert [f["customer_id"] for f in first["items"]] == NEWEST[:50]
    assert [f["customer_id"] for f in deep["items"]] == NEWEST[-10:]
    assert everything["total"] == FAILURES
    assert phones["total"] == OPEN_KINDS["phone_rejected"]
    assert len(phones["items"]) == 200
    assert {f["kind"] for f in phones["items"]} == {"phone_rejected"}
    assert [f["customer_id"] for f in text["items"]] == ["cust99999"]
    one = await big.api(f"/api/failures/{first['items'][0]['id']}")
    assert one["record"]["Id"] == NEWEST[0]


async def test_the_overview_counts_100000_failures_and_reads_a_bounded_number_of_runs(
    big: Big,
) -> None:
    overview = await big.api("/api/overview")
    daily = await big.api("/api/overview?range=14d")

    assert overview["failures_open"] == len(OPEN)
    assert overview["failures_by_kind"] == dict(OPEN_KINDS)
    assert len(overview["recent_failures"]) == 10
    assert len(overview["runs"]) == 10
    chart = overview["chart"]
    # A run a minute, over the 23 to 24 hours since the first bucket's start (less a few
    # minutes, should the tests have been slow since the rows were written).
    assert 23 * 60 - 5 <= chart["runs_counted"] <= 24 * 60
    assert sum(sum(b["counts"].values()) for b in chart["buckets"]) == 3 * chart["runs_counted"]
    assert chart["complete"] is True
    assert daily["chart"]["complete"] is False, "6,000 runs in the window, 5,000 read"


async def test_runs_and_links_with_100000_rows(big: Big) -> None:
    latest = await big.api("/api/runs?limit=200")
    run = await big.api(f"/api/runs/{RUNS}")
    by_customer = await big.api("/api/links?customer_id=cust31337")
    by_profile = await big.api("/api/links?profile_id=P00031337")
    newest = await big.api("/api/links?limit=5")

    assert len(latest) == 200
    assert run["run"]["total"] == 3
    assert [link["profile_id"] for link in by_customer["items"]] == ["P00031337"]
    assert [link["customer_id"] for link in by_profile["items"]] == ["cust31337"]
    assert [link["customer_id"] for link in newest["items"]] == [
        f"cust{n}" for n in range(FAILURES - 1, FAILURES - 6, -1)
    ]


@pytest.mark.parametrize(
    ("path", "shows"),
    [
        ("/", f"{len(OPEN):,}</span>"),
        ("/?range=14d", "only the latest runs are counted"),
        ("/failures", f"1–50 of {len(OPEN):,} open failures"),
        (
            f"/failures?offset={len(OPEN) - 50}",
            f"{len(OPEN) - 49:,}–{len(OPEN):,} of {len(OPEN):,} open failures",
        ),
        ("/failures?kind=no_identifier", f"1–50 of {OPEN_KINDS['no_identifier']:,} open"),
        ("/failures?include_resolved=true&offset=50", "51–100 of 100,000 failures"),
        ("/failures?text=cust4242", f"of {sum(str(n).startswith('4242') for n in OPEN)} open"),
        ("/sync", "iPaaS.com Customer ID"),
        ("/links", "cust99999"),
        ("/links?by=customer_id&q=cust5", "P00000005"),
        ("/runs", f"#{RUNS}"),
        (f"/runs/{RUNS}", "Outcomes"),
    ],
)
async def test_every_page_renders_with_100000_failures(big: Big, path: str, shows: str) -> None:
    html = await big.page(path)

    assert shows in html


async def test_a_failure_page_deep_in_the_log(big: Big) -> None:
    html = await big.page("/failures?offset=45000")
    [first_id] = re.findall(r'<a href="/failures/(\d+)">', html)[:1]

    assert f"45,001–45,050 of {len(OPEN):,}" in html
    assert "cust" in await big.page(f"/failures/{first_id}")
