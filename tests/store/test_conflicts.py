"""Settling identity conflicts: a batch's open failures looked up, and a customer linked by hand."""

from __future__ import annotations

import pytest

from klaviyo_sync.outcome import Failure, Link, Outcome
from klaviyo_sync.store import NotFoundError, Store, StoreError
from klaviyo_sync.store._schema import failures
from tests.store.fakes import statements_from

from .fakes import START, FakeClock


def _fail(store: Store, customer_id: str | None, kind: str, message: str = "m") -> None:
    failure = Failure(customer_id, "match", kind, message)  # type: ignore[arg-type]
    store.commit_batch(
        store.start_run("sync"),
        outcomes=[Outcome(customer_id or "line:1", "failed", failure=failure)],
    )


def _open_id(store: Store, customer_id: str, kind: str = "conflict") -> int:
    return store.open_failures([customer_id], kinds=[kind])[customer_id].id


# open_failures


def test_open_failures_of_the_given_kinds_by_customer(store: Store) -> None:
    _fail(store, "c1", "conflict")
    _fail(store, "c2", "guardrail")
    _fail(store, "c3", "invalid")
    found = store.open_failures(["c1", "c2", "c3", "c4"], kinds=["conflict", "guardrail"])
    assert {c: f.kind for c, f in found.items()} == {"c1": "conflict", "c2": "guardrail"}
    assert all(f.is_open for f in found.values())
    assert store.open_failures(["c1"], kinds=[]) == {}
    assert store.open_failures([], kinds=["conflict"]) == {}


def test_open_failures_picks_the_newest_open_one(store: Store, clock: FakeClock) -> None:
    _fail(store, "c1", "conflict", "first")
    clock.advance()
    # A failure of another kind supersedes (resolves) the conflict; then the conflict is back.
    _fail(store, "c1", "guardrail")
    clock.advance()
    _fail(store, "c1", "conflict", "again")
    found = store.open_failures(["c1"], kinds=["conflict", "guardrail"])
    assert (found["c1"].kind, found["c1"].message) == ("conflict", "again")


def test_open_failures_ignores_resolved_ones(store: Store) -> None:
    _fail(store, "c1", "conflict")
    store.resolve_failure(_open_id(store, "c1"), note="looked at it")
    _fail(store, "c2", "conflict")
    store.commit_batch(store.start_run("sync"), outcomes=[Outcome("c2", "updated", "P2")])
    assert store.open_failures(["c1", "c2"], kinds=["conflict"]) == {}


def test_open_failures_with_two_open_picks_the_latest_seen(store: Store, clock: FakeClock) -> None:
    # commit_batch leaves a customer one open failure; the store does not forbid two.
    _fail(store, "c1", "conflict")
    with store._engine.begin() as conn:
        older = conn.execute(failures.select()).one()._mapping
        conn.execute(
            failures.insert().values(
                {
                    **{k: v for k, v in older.items() if k != "id"},
                    "kind": "guardrail",
                    "message": "later",
                    "last_seen": START.replace(hour=10),
                }
            )
        )
    found = store.open_failures(["c1"], kinds=["conflict", "guardrail"])
    assert found["c1"].message == "later"
    assert store.open_failures(["c1"], kinds=["conflict"])["c1"].kind == "conflict"


def test_open_failures_asks_in_chunks(store: Store) -> None:
    ids = [f"c{n:04d}" for n in range(1200)]
    conflicts = [Failure(c, "match", "conflict", "two profiles") for c in ids]
    store.commit_batch(
        store.start_run("sync"),
        outcomes=[Outcome(f.customer_id or "", "failed", failure=f) for f in conflicts],
    )
    with statements_from(store, "failures") as queries:
        found = store.open_failures([*ids, *ids, "missing"], kinds=["conflict"])
    assert len(found) == 1200
    assert len(queries) == 3


# link_by_hand


def test_link_by_hand_links_drops_the_fingerprint_and_resolves(
    store: Store, clock: FakeClock
) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("c2", "created", "P2")],
        links=[Link("c1", "P1", "created"), Link("c2", "P2", "created")],
        fingerprints={"c1": "f1", "c2": "f2"},
        applied={"c1": {"email": "a@example.com"}, "c2": {"email": "b@example.com"}},
    )
    clock.advance()
    _fail(store, "c1", "conflict")
    failure_id = _open_id(store, "c1")
    later = clock.advance(60)

    resolved = store.link_by_hand(failure_id, "P9", note="P9 is the real one (ana)")

    assert (resolved.id, resolved.customer_id) == (failure_id, "c1")
    assert (resolved.resolved_at, resolved.resolution) == (later, "P9 is the real one (ana)")
    assert resolved.next_retry_at is None
    assert store.get_failure(failure_id) == resolved
    assert store.get_link("c1") == Link("c1", "P9", "conflict", START, later)
    # The next run sends c1 to P9 in full; c2 is untouched.
    assert store.get_fingerprints(["c1", "c2"]) == {"c2": "f2"}
    assert store.get_applied(["c1", "c2"]) == {"c2": {"email": "b@example.com"}}
    assert store.open_failures(["c1"], kinds=["conflict"]) == {}


def test_link_by_hand_links_a_customer_that_had_no_link(store: Store, clock: FakeClock) -> None:
    _fail(store, "c1", "conflict")
    store.link_by_hand(_open_id(store, "c1"), "P7", note="chosen")
    assert store.get_link("c1") == Link("c1", "P7", "conflict", START, START)


def test_link_by_hand_refuses_an_unknown_failure(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no failure 404"):
        store.link_by_hand(404, "P1", note="x")


def test_link_by_hand_refuses_a_resolved_failure_and_changes_nothing(store: Store) -> None:
    _fail(store, "c1", "conflict")
    failure_id = _open_id(store, "c1")
    store.link_by_hand(failure_id, "P1", note="first")
    with pytest.raises(StoreError, match=f"failure {failure_id} is already resolved"):
        store.link_by_hand(failure_id, "P2", note="second")
    assert store.get_link("c1") == Link("c1", "P1", "conflict", START, START)
    failure = store.get_failure(failure_id)
    assert failure is not None
    assert failure.resolution == "first"


def test_link_by_hand_refuses_a_failure_without_a_customer(store: Store) -> None:
    _fail(store, None, "invalid_record", "customers.jsonl:3: not JSON")
    (failure,) = store.list_failures()
    with pytest.raises(StoreError, match=f"failure {failure.id} has no customer"):
        store.link_by_hand(failure.id, "P1", note="x")
    assert store.get_failure(failure.id) == failure
