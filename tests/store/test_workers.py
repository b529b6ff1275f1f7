"""Worker heartbeats: one row per worker, started at its first beat, listed by who is alive."""

from __future__ import annotations

from klaviyo_sync.store import Store, WorkerRecord

from .fakes import START, FakeClock


def test_the_first_beat_records_a_worker(store: Store) -> None:
    store.heartbeat("host-a:101:x", host="host-a", pid=101, processed=0)
    assert store.list_workers() == [
        WorkerRecord("host-a:101:x", "host-a", 101, START, START, 0, "running")
    ]


def test_later_beats_update_it_and_keep_when_it_started(store: Store, clock: FakeClock) -> None:
    store.heartbeat("w1", host="host-a", pid=101, processed=0)
    later = clock.advance(30)
    store.heartbeat("w1", host="host-a", pid=101, processed=250, state="stopped")
    (worker,) = store.list_workers()
    assert (worker.started_at, worker.last_seen) == (START, later)
    assert (worker.processed, worker.state) == (250, "stopped")


def test_workers_are_listed_oldest_first_and_filtered_by_last_seen(
    store: Store, clock: FakeClock
) -> None:
    store.heartbeat("w1", host="host-a", pid=1, processed=0)
    clock.advance(10)
    store.heartbeat("w2", host="host-b", pid=2, processed=0)
    clock.advance(50)
    store.heartbeat("w2", host="host-b", pid=2, processed=9)
    store.heartbeat("w0", host="host-b", pid=3, processed=0)
    clock.advance(30)
    # w1 has been silent for 90 s, w2 and w0 for 30 s.
    assert [w.worker_id for w in store.list_workers()] == ["w1", "w2", "w0"]
    assert [w.worker_id for w in store.list_workers(seen_within=60)] == ["w2", "w0"]
    assert [w.worker_id for w in store.list_workers(seen_within=30)] == ["w2", "w0"]
    assert store.list_workers(seen_within=29) == []


def test_a_large_processed_count_fits(store: Store) -> None:
    store.heartbeat("w1", host="h", pid=1, processed=5_000_000_000)
    assert store.list_workers()[0].processed == 5_000_000_000
