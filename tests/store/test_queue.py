"""The durable queue: one row per customer, coalesced, claimed under leases, acked or released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from klaviyo_sync.store import QueueItem, QueueStats, Store

from .fakes import START, FakeClock

LEASE = 60.0


def _record(customer_id: str, n: int = 0) -> dict[str, Any]:
    return {"Id": customer_id, "EmailAddress": f"{customer_id}@example.com", "FirstName": f"v{n}"}


def _enqueue(store: Store, *customer_ids: str, event: str = "customer/updated") -> None:
    store.enqueue([(c, _record(c), event) for c in customer_ids])


def _ids(items: list[QueueItem]) -> list[str]:
    return [item.customer_id for item in items]


def test_an_enqueued_customer_is_claimed_with_its_record(store: Store) -> None:
    store.enqueue([("c1", _record("c1"), "customer/created")])
    assert store.queue_depth() == 1
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert item == QueueItem("c1", _record("c1"), "customer/created", 1, 0, START, START)


def test_a_burst_of_updates_to_one_customer_is_one_row_with_the_latest_record(
    store: Store, clock: FakeClock
) -> None:
    _enqueue(store, "first")
    for n in range(1, 6):
        clock.advance()
        store.enqueue([("c1", _record("c1", n), "customer/updated")])
    clock.advance()
    _enqueue(store, "last")

    assert store.queue_depth() == 3
    first, burst, last = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert (first.customer_id, last.customer_id) == ("first", "last")
    assert burst.record == _record("c1", 5)
    assert burst.version == 5
    # Its place in line is the first update's.
    assert burst.enqueued_at == START + timedelta(seconds=1)


def test_the_same_customer_twice_in_one_call_counts_both_and_keeps_the_last(store: Store) -> None:
    store.enqueue(
        [
            ("c1", _record("c1", 1), "customer/created"),
            ("c2", _record("c2"), "customer/created"),
            ("c1", _record("c1", 2), "customer/updated"),
        ]
    )
    items = {i.customer_id: i for i in store.claim("w1", limit=10, lease_seconds=LEASE)}
    assert (items["c1"].record, items["c1"].event, items["c1"].version) == (
        _record("c1", 2),
        "customer/updated",
        2,
    )
    assert items["c2"].version == 1


def test_claims_take_the_oldest_first_up_to_the_limit(store: Store, clock: FakeClock) -> None:
    for customer_id in ("c3", "c1", "c2", "c5", "c4"):
        _enqueue(store, customer_id)
        clock.advance()
    assert _ids(store.claim("w1", limit=2, lease_seconds=LEASE)) == ["c3", "c1"]
    assert _ids(store.claim("w2", limit=2, lease_seconds=LEASE)) == ["c2", "c5"]
    assert _ids(store.claim("w3", limit=10, lease_seconds=LEASE)) == ["c4"]
    assert store.claim("w4", limit=10, lease_seconds=LEASE) == []
    assert store.claim("w4", limit=0, lease_seconds=LEASE) == []


def test_a_delayed_item_waits_until_it_is_available(store: Store, clock: FakeClock) -> None:
    store.enqueue([("c1", _record("c1"), "customer/updated")], delay=30)
    assert store.claim("w1", limit=10, lease_seconds=LEASE) == []
    clock.advance(30)
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert item.available_at == clock.now


def test_a_newer_record_makes_a_queued_one_no_later(store: Store, clock: FakeClock) -> None:
    store.enqueue([("c1", _record("c1"), "customer/updated")], delay=10)
    # A longer delay does not push it back (no starving a customer updated again and again)…
    store.enqueue([("c1", _record("c1", 1), "customer/updated")], delay=60)
    clock.advance(10)
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert (item.record, item.available_at) == (_record("c1", 1), START + timedelta(seconds=10))


def test_a_leased_customer_is_not_claimed_again_until_the_lease_runs_out(
    store: Store, clock: FakeClock
) -> None:
    _enqueue(store, "c1", "c2")
    assert _ids(store.claim("w1", limit=1, lease_seconds=LEASE)) == ["c1"]
    clock.advance(10)
    assert _ids(store.claim("w2", limit=10, lease_seconds=LEASE)) == ["c2"]
    clock.advance(LEASE - 11)
    assert store.claim("w3", limit=10, lease_seconds=LEASE) == []

    # w1 was killed: once its lease runs out, another worker picks its customer up.
    clock.advance(1)
    (again,) = store.claim("w3", limit=10, lease_seconds=LEASE)
    assert (again.customer_id, again.version, again.attempts) == ("c1", 1, 0)
    clock.advance(9)
    assert store.claim("w4", limit=10, lease_seconds=LEASE) == []
    # w2 was killed too.
    clock.advance(1)
    assert _ids(store.claim("w4", limit=10, lease_seconds=LEASE)) == ["c2"]


def test_ack_removes_the_claimed_rows(store: Store) -> None:
    _enqueue(store, "c1", "c2", "c3")
    items = store.claim("w1", limit=2, lease_seconds=LEASE)
    store.ack("w1", items)
    assert store.queue_depth() == 1
    assert _ids(store.claim("w1", limit=10, lease_seconds=LEASE)) == ["c3"]
    store.ack("w1", [])


def test_an_ack_after_a_newer_enqueue_keeps_the_newer_record_available(
    store: Store, clock: FakeClock
) -> None:
    store.enqueue([("c1", _record("c1", 1), "customer/created")])
    (old,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    clock.advance()
    store.enqueue([("c1", _record("c1", 2), "customer/updated")])
    # Still held by w1: the newer record must not run beside the older one.
    assert store.claim("w2", limit=10, lease_seconds=LEASE) == []

    store.ack("w1", [old])
    (new,) = store.claim("w2", limit=10, lease_seconds=LEASE)
    assert (new.record, new.event, new.version) == (_record("c1", 2), "customer/updated", 2)
    assert new.enqueued_at == START
    store.ack("w2", [new])
    assert store.queue_depth() == 0


def test_an_ack_from_a_worker_that_lost_its_lease_changes_nothing(
    store: Store, clock: FakeClock
) -> None:
    _enqueue(store, "c1")
    (stale,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    clock.advance(LEASE)
    (taken,) = store.claim("w2", limit=10, lease_seconds=LEASE)
    store.ack("w1", [stale])
    store.release("w1", stale, delay=100)
    assert store.queue_stats() == QueueStats(1, 1, 0, START)
    store.ack("w2", [taken])
    assert store.queue_depth() == 0


def test_an_ack_after_the_lease_ran_out_but_before_anyone_took_it_counts(
    store: Store, clock: FakeClock
) -> None:
    _enqueue(store, "c1")
    items = store.claim("w1", limit=10, lease_seconds=LEASE)
    clock.advance(LEASE * 2)
    store.ack("w1", items)
    assert store.queue_depth() == 0


def test_release_counts_an_attempt_and_waits_the_delay(store: Store, clock: FakeClock) -> None:
    _enqueue(store, "c1")
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    store.release("w1", item, delay=30)
    assert store.queue_stats() == QueueStats(1, 0, 1, START)
    clock.advance(29)
    assert store.claim("w1", limit=10, lease_seconds=LEASE) == []
    clock.advance(1)
    (again,) = store.claim("w2", limit=10, lease_seconds=LEASE)
    assert (again.attempts, again.version, again.available_at) == (1, 1, clock.now)
    store.release("w2", again, delay=60)
    clock.advance(60)
    (third,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert third.attempts == 2


def test_release_with_a_newer_record_runs_the_newer_one_at_once(
    store: Store, clock: FakeClock
) -> None:
    _enqueue(store, "c1")
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    store.release("w1", item, delay=30)
    clock.advance(30)
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert item.attempts == 1
    store.enqueue([("c1", _record("c1", 2), "customer/updated")])
    store.release("w1", item, delay=600)
    (newer,) = store.claim("w2", limit=10, lease_seconds=LEASE)
    assert (newer.record, newer.version, newer.attempts) == (_record("c1", 2), 2, 0)


def test_a_newer_record_ends_a_retry_delay(store: Store, clock: FakeClock) -> None:
    _enqueue(store, "c1")
    (item,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    store.release("w1", item, delay=3600)
    clock.advance()
    store.enqueue([("c1", _record("c1", 2), "customer/updated")])
    (newer,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    assert (newer.version, newer.attempts, newer.available_at) == (2, 0, clock.now)


def test_per_customer_order_each_state_runs_after_the_one_before(
    store: Store, clock: FakeClock
) -> None:
    """Whatever interleaving of updates and workers, a customer's states run one at a time,
    in order, and the last one received always runs."""
    ran: list[int] = []
    store.enqueue([("c1", _record("c1", 1), "customer/created")])
    (a,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    store.enqueue([("c1", _record("c1", 2), "customer/updated")])
    store.enqueue([("c1", _record("c1", 3), "customer/updated")])
    assert store.claim("w2", limit=10, lease_seconds=LEASE) == []
    ran.append(a.version)
    store.ack("w1", [a])

    (b,) = store.claim("w2", limit=10, lease_seconds=LEASE)
    store.enqueue([("c1", _record("c1", 4), "customer/updated")])
    assert store.claim("w1", limit=10, lease_seconds=LEASE) == []
    ran.append(b.version)
    store.release("w2", b, delay=30)  # Klaviyo was down: the newest state runs next anyway

    (c,) = store.claim("w1", limit=10, lease_seconds=LEASE)
    ran.append(c.version)
    store.ack("w1", [c])
    assert ran == [1, 3, 4]
    assert c.record == _record("c1", 4)
    assert store.queue_depth() == 0


def test_queue_stats_count_leased_and_delayed(store: Store, clock: FakeClock) -> None:
    assert store.queue_stats() == QueueStats(0, 0, 0, None)
    _enqueue(store, "c1", "c2", "c3", "c4")
    clock.advance()
    store.enqueue([("c5", _record("c5"), "customer/created")], delay=60)
    held = store.claim("w1", limit=2, lease_seconds=LEASE)
    store.release("w1", held[1], delay=30)
    stats = store.queue_stats()
    assert stats == QueueStats(depth=5, leased=1, delayed=2, oldest_enqueued_at=START)
    assert stats.ready == 2
    assert store.queue_depth() == 5


def test_the_queue_is_listed_in_line_order_with_its_leases(store: Store, clock: FakeClock) -> None:
    _enqueue(store, "b", "a")  # one call: lined up by customer id
    clock.advance()
    _enqueue(store, "c")
    store.claim("w1", limit=1, lease_seconds=LEASE)
    entries = store.list_queue()
    assert [e.item.customer_id for e in entries] == ["a", "b", "c"]
    lease_until = clock.now + timedelta(seconds=LEASE)
    assert (entries[0].leased_by, entries[0].lease_until) == ("w1", lease_until)
    assert (entries[1].leased_by, entries[1].lease_until) == (None, None)
    assert entries[2].updated_at == clock.now
    assert [e.item.customer_id for e in store.list_queue(limit=1, offset=1)] == ["b"]
    with pytest.raises(ValueError, match="must not be negative"):
        store.list_queue(offset=-1)


def test_values_json_cannot_hold_are_queued_as_text(store: Store) -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    record = {"Id": "c1", "CustomFields": {"Since": when, "Spent": Decimal("12.50")}}
    store.enqueue([("c1", record, "customer/created")])
    (item,) = store.claim("w1", limit=1, lease_seconds=LEASE)
    assert item.record == {
        "Id": "c1",
        "CustomFields": {"Since": "2026-01-02 00:00:00+00:00", "Spent": "12.50"},
    }


def test_nonsense_arguments_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="delay must not be negative"):
        store.enqueue([], delay=-1)
    with pytest.raises(ValueError, match="lease_seconds must be positive"):
        store.claim("w1", limit=1, lease_seconds=0)
    with pytest.raises(ValueError, match="limit must not be negative"):
        store.claim("w1", limit=-1, lease_seconds=1)
    store.enqueue([])
    assert store.queue_depth() == 0
