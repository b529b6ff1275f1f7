"""commit_batch: one transaction per batch, and the error log's upsert and auto-resolve."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from klaviyo_sync.outcome import Failure, Link, Outcome
from klaviyo_sync.store import Store, StoreError

from .fakes import START, FakeClock


def _fail(customer_id: str | None, kind: str = "invalid", message: str = "rejected") -> Failure:
    return Failure(customer_id, "write", kind, message, detail={"status": 400})  # type: ignore[arg-type]


def _failed(customer_id: str, failure: Failure | None = None) -> Outcome:
    return Outcome(customer_id, "failed", failure=failure or _fail(customer_id))


def _rows(store: Store, table: str) -> int:
    with store._engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_an_error_mid_batch_rolls_back_everything(store: Store, clock: FakeClock) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), _failed("c2")],
        links=[Link("c1", "P1", "created")],
        fingerprints={"c1": "f1"},
    )
    before = {t: _rows(store, t) for t in ("outcomes", "failures", "links", "fingerprints")}
    clock.advance()

    # Outcomes and failures are written before links; a link without a profile id then breaks
    # the NOT NULL constraint, after everything else in the batch has been sent.
    bad = Link("c4", None, "created")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=f"cannot record a batch of run {run_id}"):
        store.commit_batch(
            run_id,
            outcomes=[
                Outcome("c2", "updated", "P2"),
                _failed("c1", _fail("c1", "conflict")),
                _failed("c3"),
                Outcome("c4", "created", "P4"),
            ],
            links=[Link("c2", "P2", "matched_email"), bad],
            dropped_links=["c1"],
            fingerprints={"c2": "f2", "c4": "f4"},
        )

    assert {t: _rows(store, t) for t in before} == before
    assert store.get_links(["c1", "c2", "c4"]).keys() == {"c1"}
    assert store.get_fingerprints(["c1", "c2", "c4"]) == {"c1": "f1"}
    (open_failure,) = store.list_failures(include_resolved=True)
    assert (open_failure.customer_id, open_failure.attempts, open_failure.resolved_at) == (
        "c2",
        1,
        None,
    )
    assert len(store.run_outcomes(run_id)) == 2


def test_a_first_failure_is_opened_with_one_attempt(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[_failed("c1")])
    (failure,) = store.list_failures()
    assert failure.customer_id == "c1"
    assert (failure.stage, failure.kind, failure.message) == ("write", "invalid", "rejected")
    assert (failure.attempts, failure.first_seen, failure.last_seen) == (1, START, START)
    assert (failure.run_id, failure.retryable, failure.detail) == (run_id, False, {"status": 400})
    assert failure.is_open
    assert failure.to_failure() == _fail("c1")


def test_failing_again_with_the_same_kind_bumps_the_open_failure(
    store: Store, clock: FakeClock
) -> None:
    first_run = store.start_run("sync")
    store.commit_batch(first_run, outcomes=[_failed("c1")])
    later = clock.advance(3600)
    second_run = store.start_run("retry")
    again = Failure("c1", "subscribe", "invalid", "still rejected", True, {"status": 422})
    store.commit_batch(second_run, outcomes=[_failed("c1", again)])

    (failure,) = store.list_failures()
    assert (failure.attempts, failure.first_seen, failure.last_seen) == (2, START, later)
    assert (failure.message, failure.detail, failure.run_id) == (
        "still rejected",
        {"status": 422},
        second_run,
    )
    assert (failure.stage, failure.retryable) == ("subscribe", True)


def test_another_kind_is_another_failure_that_supersedes_the_first(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[_failed("c1")])
    store.commit_batch(run_id, outcomes=[_failed("c1", _fail("c1", "phone_rejected"))])
    assert [f.kind for f in store.list_failures()] == ["phone_rejected"]
    everything = store.list_failures(include_resolved=True)
    assert sorted(f.kind for f in everything) == ["invalid", "phone_rejected"]


def test_a_customer_failing_twice_in_one_batch_has_one_failure_with_two_attempts(
    store: Store,
) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[_failed("c1"), _failed("c1", _fail("c1", message="2"))])
    (failure,) = store.list_failures()
    assert (failure.attempts, failure.message) == (2, "2")
    assert [o.failure for o in store.run_outcomes(run_id)] == [failure.to_failure()] * 2


@pytest.mark.parametrize("kind", ["created", "updated", "matched_email", "unchanged"])
def test_success_resolves_the_customers_open_failures(
    store: Store, clock: FakeClock, kind: str
) -> None:
    first = store.start_run("sync")
    then = clock.now
    store.commit_batch(
        first, outcomes=[_failed("c1"), _failed("c1", _fail("c1", "conflict")), _failed("c2")]
    )
    now = clock.advance()
    second = store.start_run("sync")
    store.commit_batch(second, outcomes=[Outcome("c1", kind, "P1")])  # type: ignore[arg-type]

    assert [f.customer_id for f in store.list_failures()] == ["c2"]
    resolved = store.list_failures(customer_id="c1", include_resolved=True)
    assert {(f.kind, f.resolved_at, f.resolution) for f in resolved} == {
        # The customer's last outcome in the first batch was the conflict.
        ("invalid", then, f"superseded by conflict in run {first}"),
        ("conflict", now, f"succeeded in run {second}"),
    }


def test_after_resolution_a_new_failure_opens_a_new_entry(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[_failed("c1")])
    store.commit_batch(run_id, outcomes=[Outcome("c1", "created", "P1")])
    store.commit_batch(run_id, outcomes=[_failed("c1")])
    (open_failure,) = store.list_failures()
    assert open_failure.attempts == 1
    assert store.count_failures(include_resolved=True) == 2


def test_the_last_outcome_of_a_customer_in_a_batch_decides(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[
            _failed("c1"),
            Outcome("c1", "created", "P1"),
            Outcome("c2", "created", "P2"),
            _failed("c2"),
        ],
    )
    assert [f.customer_id for f in store.list_failures()] == ["c2"]
    assert store.list_failures(customer_id="c1", include_resolved=True)[0].resolution == (
        f"succeeded in run {run_id}"
    )


def test_failures_without_a_customer_are_kept_and_never_auto_resolved(store: Store) -> None:
    run_id = store.start_run("sync")
    line = _fail(None, "invalid_record", "customers.jsonl:12: not JSON")
    store.commit_batch(
        run_id, outcomes=[_failed("customers.jsonl:12", line), Outcome("c1", "created", "P1")]
    )
    # The same line met again bumps its entry; a success of anyone resolves nothing of it.
    store.commit_batch(
        run_id,
        outcomes=[
            _failed("customers.jsonl:12", line),
            Outcome("customers.jsonl:12", "unchanged"),
            _failed("customers.jsonl:13", _fail(None, "invalid_record", "customers.jsonl:13: x")),
        ],
    )
    found = {f.message: f for f in store.list_failures()}
    assert found.keys() == {"customers.jsonl:12: not JSON", "customers.jsonl:13: x"}
    assert found["customers.jsonl:12: not JSON"].attempts == 2
    assert found["customers.jsonl:12: not JSON"].customer_id is None
