"""Several workers, each with its own Store (its own connections), share one queue.

On PostgreSQL the claims meet ``FOR UPDATE SKIP LOCKED``; on a SQLite file, its write lock.
Either way no customer is held by two workers at once, none is lost and none runs twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from klaviyo_sync.store import QueueItem, Store

from .fakes import FakeClock

WORKERS = 4
LEASE = 300.0


@dataclass
class Ledger:
    """What the workers did, written under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    held: set[str] = field(default_factory=set)
    claims: Counter[str] = field(default_factory=Counter)
    acks: list[tuple[str, int, str]] = field(default_factory=list)
    double_holds: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def claimed(self, items: list[QueueItem]) -> None:
        with self.lock:
            for item in items:
                if item.customer_id in self.held:
                    self.double_holds.append(item.customer_id)
                self.held.add(item.customer_id)
                self.claims[item.customer_id] += 1

    def letting_go(self, items: list[QueueItem], *, acked: bool) -> None:
        # Before the ack or release reaches the store: until then the lease still guards it.
        with self.lock:
            for item in items:
                self.held.discard(item.customer_id)
                if acked:
                    self.acks.append((item.customer_id, item.version, item.record["v"]))


def _run_workers(url: str, clock: FakeClock, work: Callable[[Store, str, Ledger], None]) -> Ledger:
    ledger = Ledger()

    def worker(n: int) -> None:
        try:
            with Store.open(url, clock=clock) as store:
                work(store, f"w{n}", ledger)
        except BaseException as err:
            ledger.errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker never finished"
    assert ledger.errors == []
    assert ledger.double_holds == []
    return ledger


@pytest.mark.slow  # 2,000 customers, threads
def test_workers_drain_a_queue_of_2000_each_customer_acked_once(
    shared_url: str, clock: FakeClock
) -> None:
    customers = [f"c{n:04d}" for n in range(2000)]
    with Store.open(shared_url, clock=clock) as store:
        store.enqueue([(c, {"Id": c, "v": "1"}, "customer/created") for c in customers])

    def work(store: Store, worker_id: str, ledger: Ledger) -> None:
        while items := store.claim(worker_id, limit=25, lease_seconds=LEASE):
            ledger.claimed(items)
            # Every seventh customer fails its first try and goes back in line.
            retry = [i for i in items if i.attempts == 0 and int(i.customer_id[1:]) % 7 == 0]
            done = [i for i in items if i not in retry]
            ledger.letting_go(retry, acked=False)
            for item in retry:
                store.release(worker_id, item, delay=0)
            ledger.letting_go(done, acked=True)
            store.ack(worker_id, done)

    ledger = _run_workers(shared_url, clock, work)
    assert Counter(c for c, _, _ in ledger.acks) == Counter(customers)
    retried = {c for c in customers if int(c[1:]) % 7 == 0}
    assert ledger.claims == Counter({c: 2 if c in retried else 1 for c in customers})
    with Store.open(shared_url, clock=clock) as store:
        assert store.queue_depth() == 0


def test_updates_arriving_while_workers_run_end_with_each_customers_latest_state(
    shared_url: str, clock: FakeClock
) -> None:
    customers = [f"c{n:03d}" for n in range(200)]
    rounds = 5
    enqueued = threading.Event()

    def enqueue_rounds() -> None:
        with Store.open(shared_url, clock=clock) as store:
            for v in range(1, rounds + 1):
                for start in range(0, len(customers), 50):
                    part = customers[start : start + 50]
                    store.enqueue([(c, {"Id": c, "v": str(v)}, "customer/updated") for c in part])
        enqueued.set()

    def work(store: Store, worker_id: str, ledger: Ledger) -> None:
        if worker_id == "w0":
            enqueue_rounds()
        while not (enqueued.is_set() and store.queue_depth() == 0):
            items = store.claim(worker_id, limit=20, lease_seconds=LEASE)
            ledger.claimed(items)
            ledger.letting_go(items, acked=True)
            store.ack(worker_id, items)

    ledger = _run_workers(shared_url, clock, work)
    runs: dict[str, list[int]] = {}
    for customer_id, _, v in ledger.acks:
        runs.setdefault(customer_id, []).append(int(v))
    assert runs.keys() == set(customers)
    for customer_id, states in runs.items():
        # One at a time and in order: a customer's states only ever move forward (a burst
        # coalesced skips some), none runs twice…
        assert states == sorted(set(states)), customer_id
        # …and the last state received is the last one run.
        assert states[-1] == rounds, customer_id
