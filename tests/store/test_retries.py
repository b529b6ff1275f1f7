"""Automatic retries: growing delays, due retries found on the clock, then parked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from klaviyo_sync.outcome import Failure, Outcome
from klaviyo_sync.store import FailureRecord, Store, retry_delay

from .fakes import START, FakeClock

MAX = 3


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (9, 3600)],
)
def test_retry_delay_doubles_from_30_seconds_up_to_an_hour(attempts: int, seconds: float) -> None:
    assert retry_delay(attempts) == seconds


def test_retry_delay_stays_at_an_hour_however_many_attempts() -> None:
    assert retry_delay(10**9) == 3600


@pytest.mark.parametrize("attempts", [0, -1])
def test_retry_delay_counts_from_one(attempts: int) -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        retry_delay(attempts)


def _unavailable(customer_id: str) -> Failure:
    return Failure(
        customer_id,
        "write",
        "klaviyo_unavailable",
        "503 from Klaviyo",
        retryable=True,
        detail={"record": {"Id": customer_id, "v": "failed"}},
    )


def _rejected(customer_id: str) -> Failure:
    return Failure(customer_id, "write", "phone_rejected", "Invalid phone number")


def _fail(store: Store, *failures: Failure) -> None:
    run_id = store.start_run("trigger")
    outcomes = [Outcome(f.customer_id or "?", "failed", failure=f) for f in failures]
    store.commit_batch(run_id, outcomes=outcomes)


def _only(store: Store, customer_id: str) -> FailureRecord:
    (failure,) = store.list_failures(customer_id=customer_id, include_resolved=True)
    return failure


def test_a_retryable_failure_is_due_after_the_delay_for_its_attempts(
    store: Store, clock: FakeClock
) -> None:
    _fail(store, _unavailable("c1"))
    assert _only(store, "c1").next_retry_at == START + timedelta(seconds=30)
    later = clock.advance(45)
    _fail(store, _unavailable("c1"))
    failure = _only(store, "c1")
    assert (failure.attempts, failure.next_retry_at) == (2, later + timedelta(seconds=60))


def test_met_twice_in_one_batch_counts_both_attempts(store: Store) -> None:
    _fail(store, _unavailable("c1"), _unavailable("c1"))
    failure = _only(store, "c1")
    assert (failure.attempts, failure.next_retry_at) == (2, START + timedelta(seconds=60))


def test_a_failure_that_is_not_retryable_has_no_retry_time(store: Store) -> None:
    _fail(store, _rejected("c1"))
    assert _only(store, "c1").next_retry_at is None


def test_a_retryable_failure_met_again_as_not_retryable_loses_its_retry_time(
    store: Store, clock: FakeClock
) -> None:
    _fail(store, _unavailable("c1"))
    clock.advance()
    _fail(store, Failure("c1", "write", "klaviyo_unavailable", "gave up", retryable=False))
    assert _only(store, "c1").next_retry_at is None


def test_a_resolved_failure_has_no_retry_time(store: Store) -> None:
    _fail(store, _unavailable("c1"), _unavailable("c2"))
    store.commit_batch(store.start_run("sync"), outcomes=[Outcome("c1", "updated", "P1")])
    store.resolve_failure(_only(store, "c2").id)
    assert [_only(store, c).next_retry_at for c in ("c1", "c2")] == [None, None]


@pytest.fixture
def failing(store: Store, clock: FakeClock) -> Store:
    """c1 due first, then c2; c3 not retryable; c4 met MAX times (parked)."""
    _fail(store, _unavailable("c1"))
    clock.advance(10)
    _fail(store, _unavailable("c2"), _rejected("c3"))
    for _ in range(MAX):
        clock.advance(1)
        _fail(store, _unavailable("c4"))
    return store


def _customers(failures: list[FailureRecord]) -> list[str | None]:
    return [f.customer_id for f in failures]


def test_due_retries_come_when_their_time_has_come_soonest_first(
    failing: Store, clock: FakeClock
) -> None:
    clock.now = START + timedelta(seconds=29)
    assert failing.due_retries(limit=10, max_attempts=MAX) == []
    clock.now = START + timedelta(seconds=30)
    assert _customers(failing.due_retries(limit=10, max_attempts=MAX)) == ["c1"]
    clock.now = START + timedelta(hours=2)
    assert _customers(failing.due_retries(limit=10, max_attempts=MAX)) == ["c1", "c2"]
    assert _customers(failing.due_retries(limit=1, max_attempts=MAX)) == ["c1"]
    # With a bigger budget, c4 has retries left too.
    assert _customers(failing.due_retries(limit=10, max_attempts=MAX + 1)) == ["c1", "c2", "c4"]


def test_failures_out_of_retries_are_parked(failing: Store, clock: FakeClock) -> None:
    assert _customers(failing.parked(max_attempts=MAX)) == ["c4"]
    assert _customers(failing.parked(max_attempts=1)) == ["c4", "c2", "c1"]
    assert _customers(failing.parked(max_attempts=1, limit=1)) == ["c4"]
    (parked,) = failing.parked(max_attempts=MAX)
    failing.resolve_failure(parked.id, note="retried by hand")
    assert failing.parked(max_attempts=MAX) == []


def _retries(failures: list[FailureRecord]) -> list[tuple[int, str, dict[str, Any]]]:
    return [(f.id, f.customer_id or "", f.detail["record"]) for f in failures]


def test_requeued_retries_are_queued_once_and_not_found_due_again(
    failing: Store, clock: FakeClock
) -> None:
    clock.now = START + timedelta(hours=2)
    # c2 sent a newer record meanwhile: it is queued already and keeps it.
    failing.enqueue([("c2", {"Id": "c2", "v": "newer"}, "customer/updated")])
    due = failing.due_retries(limit=10, max_attempts=MAX)
    assert failing.requeue_retries(_retries(due)) == 1
    assert failing.due_retries(limit=10, max_attempts=MAX) == []
    assert _customers(due) == ["c1", "c2"]
    assert all(_only(failing, c).next_retry_at is None for c in ("c1", "c2"))

    items = {i.customer_id: i for i in failing.claim("w1", limit=10, lease_seconds=60)}
    assert (items["c1"].record, items["c1"].event) == ({"Id": "c1", "v": "failed"}, "retry")
    assert (items["c2"].record, items["c2"].event) == (
        {"Id": "c2", "v": "newer"},
        "customer/updated",
    )

    # The retry fails again: the failure gets its next retry time from its attempts.
    _fail(failing, _unavailable("c1"))
    assert _only(failing, "c1").next_retry_at == clock.now + timedelta(seconds=60)
    assert failing.requeue_retries([]) == 0
