"""Runs: started, finished with counts, listed, and their outcomes read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from klaviyo_sync.outcome import Failure, Outcome
from klaviyo_sync.store import NotFoundError, RunRecord, Store, StoreError

from .fakes import START, FakeClock


def test_a_run_is_started_then_finished_with_counts(store: Store, clock: FakeClock) -> None:
    run_id = store.start_run("sync", source="customers.jsonl")
    assert store.get_run(run_id) == RunRecord(run_id, "sync", "customers.jsonl", START, None, {})
    end = clock.advance(90)
    store.finish_run(run_id, {"created": 3, "failed": 1})
    assert store.get_run(run_id) == RunRecord(
        run_id, "sync", "customers.jsonl", START, end, {"created": 3, "failed": 1}
    )


def test_runs_are_listed_newest_first(store: Store, clock: FakeClock) -> None:
    ids = []
    for kind in ("sync", "sync-one", "retry", "trigger"):
        ids.append(store.start_run(kind))
        clock.advance()
    assert [r.kind for r in store.list_runs()] == ["trigger", "retry", "sync-one", "sync"]
    assert [r.id for r in store.list_runs(limit=2)] == ids[:1:-1]


def test_an_unknown_run_is_none_or_not_found(store: Store) -> None:
    assert store.get_run(404) is None
    with pytest.raises(NotFoundError, match="no run 404"):
        store.finish_run(404, {})


def test_a_batch_for_an_unknown_run_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="record a batch of run 404"):
        store.commit_batch(404, outcomes=[Outcome("c1", "created", "P1")], fingerprints={"c1": "f"})
    assert store.get_fingerprints(["c1"]) == {}


def test_outcomes_come_back_in_order_with_their_failures(store: Store) -> None:
    run_id = store.start_run("sync")
    failure = Failure(
        "c2", "identify", "no_identifier", "no email and no phone", detail={"draft": {}}
    )
    batch = [
        Outcome("c1", "created", "P1", route="create", detail={"payload": {"email": "a@x.io"}}),
        Outcome("c2", "failed", failure=failure),
        Outcome("c3", "unchanged", "P3", route="update"),
    ]
    store.commit_batch(run_id, outcomes=batch)
    assert store.run_outcomes(run_id) == batch
    assert store.run_outcomes(run_id, kind="failed") == [batch[1]]
    assert store.run_outcomes(run_id, limit=1, offset=2) == [batch[2]]
    assert store.run_outcomes(run_id + 1) == []


def test_times_come_from_the_clock_in_utc(store_url: str) -> None:
    paris = timezone(timedelta(hours=1))
    with Store.open(store_url, clock=lambda: datetime(2026, 3, 1, 10, 0, tzinfo=paris)) as store:
        run = store.get_run(store.start_run("sync"))
        assert run is not None
        assert run.started_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        assert run.started_at.tzinfo is UTC


def test_a_naive_clock_is_refused(store_url: str) -> None:
    with (
        Store.open(store_url, clock=lambda: datetime(2026, 3, 1)) as store,
        pytest.raises(ValueError, match="naive"),
    ):
        store.start_run("sync")
