"""A million profiles must not slow each request: lookups and pages never scan the store.

Rather than timing anything, the store's containers are swapped for ones that refuse to be
iterated and count element reads; a page or a lookup must then cost about the same number of
reads (a binary search: log n) in a 200k store as in a 1k one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, SupportsIndex

from starlette.applications import Starlette

from klaviyo_sandbox import ManualClock, Profile, Sandbox, SandboxConfig, create_app
from klaviyo_sandbox._ids import IdFactory, SortedIds

from .conftest import SpecClient, client_for


class NoScanDict(dict[str, Profile]):
    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the profile store was scanned")

    def keys(self) -> Any:
        raise AssertionError("the profile store was scanned")

    def values(self) -> Any:
        raise AssertionError("the profile store was scanned")

    def items(self) -> Any:
        raise AssertionError("the profile store was scanned")


class CountingList(list[str]):
    reads = 0

    def __getitem__(self, index: SupportsIndex | slice) -> Any:  # type: ignore[override]
        CountingList.reads += 1
        return super().__getitem__(index)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the sorted id index was scanned")


def fill(sandbox: Sandbox, count: int) -> list[str]:
    ids = []
    now = sandbox.clock.now()
    for i in range(count):
        profile = Profile(sandbox.ids.ulid(), now, now, email=f"p{i}@example.com")
        profile.external_id = f"c-{i}"
        sandbox.store.insert(profile)
        ids.append(profile.id)
    return ids


async def cost_of_requests(app: Starlette, count: int) -> int:
    sandbox: Sandbox = app.state.sandbox
    ids = fill(sandbox, count)
    sandbox.store.profiles = NoScanDict(sandbox.store.profiles)
    sandbox.store.ids.items = CountingList(sandbox.store.ids.items)
    middle = ids[count // 2]
    CountingList.reads = 0
    async with client_for(app) as http:
        client = SpecClient(http)
        first = await client.get("/api/profiles", params={"page[size]": "100"})
        assert len(first.json()["data"]) == 100
        onward = await client.get(first.json()["links"]["next"])
        assert len(onward.json()["data"]) == 100
        for params in (
            {"filter": f"equals(email,'p{count - 1}@example.com')"},
            {"filter": f'any(external_id,["c-{count // 3}","c-7"])'},
            {"filter": f'equals(id,"{middle}")'},
        ):
            found = await client.get("/api/profiles", params=params)
            assert found.json()["data"], params
        assert (await client.get(f"/api/profiles/{middle}")).status_code == 200
        admin = await http.get("/__sandbox__/profiles", params={"page[size]": "50"})
        assert len(admin.json()["data"]) == 50
    return CountingList.reads


async def test_lookups_and_pages_cost_log_n_not_n(app: Starlette) -> None:
    small = await cost_of_requests(app, 1_000)
    big_app = create_app(SandboxConfig(rate_limits=False, clock=app.state.sandbox.clock))
    big = await cost_of_requests(big_app, 200_000)
    # Binary search over 200k ids takes ~8 more probes than over 1k: a handful per paged
    # request, nowhere near the 199k extra a scan would take.
    assert big - small <= 30
    assert big < 100


def test_ids_are_26_crockford_chars_and_strictly_increasing() -> None:
    clock = ManualClock()
    factory = IdFactory(clock.now, seed=1)
    ids = [factory.ulid() for _ in range(1000)]  # all in one millisecond
    clock.advance(0.001)
    ids.append(factory.ulid())
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    assert IdFactory(ManualClock().now, seed=1).ulid() == ids[0]  # seeded: reproducible


def test_sorted_ids_add_discard_after() -> None:
    index = SortedIds()
    for item in ("b", "d", "a", "c", "b"):
        index.add(item)
    assert index.items == ["a", "b", "c", "d"]
    index.discard("c")
    index.discard("zz")
    assert index.after(None, 2) == ["a", "b"]
    assert index.after("a", 5) == ["b", "d"]
    assert index.after("bb", 5) == ["d"]
