"""The applied state: kept beside the fingerprint by commit_batch, read back in bulk."""

from __future__ import annotations

import sqlalchemy as sa

from klaviyo_sync.outcome import Failure, Link, Outcome
from klaviyo_sync.store import Store
from tests.store.fakes import statements_from

STATE_1 = {"attributes": {"email": "a@example.com", "first_name": "Ada"}, "lists": ["VIP"]}
STATE_2 = {"attributes": {"email": "a@example.com", "first_name": "Ada L."}, "lists": []}


def _failed(customer_id: str) -> Outcome:
    failure = Failure(customer_id, "write", "phone_rejected", "Invalid phone number")
    return Outcome(customer_id, "failed", "P1", failure=failure)


def test_applied_states_are_stored_and_read_back(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("c2", "created", "P2")],
        fingerprints={"c1": "f1", "c2": "f2"},
        applied={"c1": STATE_1},
    )
    assert store.get_applied(["c1", "c2", "c3"]) == {"c1": STATE_1}
    assert store.get_fingerprints(["c1", "c2"]) == {"c1": "f1", "c2": "f2"}
    # JSON round trip: nested values come back as plain dicts and lists.
    assert store.get_applied(["c1"])["c1"]["attributes"]["first_name"] == "Ada"


def test_a_new_state_replaces_the_stored_one(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1")],
        fingerprints={"c1": "f1"},
        applied={"c1": STATE_1},
    )
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "updated", "P1")],
        fingerprints={"c1": "f2"},
        applied={"c1": STATE_2},
    )
    assert store.get_applied(["c1"]) == {"c1": STATE_2}


def test_a_fingerprint_without_a_state_keeps_the_stored_state(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("c2", "created", "P2")],
        fingerprints={"c1": "f1", "c2": "f2"},
        applied={"c1": STATE_1, "c2": STATE_1},
    )
    # One batch with both kinds of customer: c1 gets a new state, c2 only a new fingerprint.
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "updated", "P1"), Outcome("c2", "updated", "P2")],
        fingerprints={"c1": "g1", "c2": "g2"},
        applied={"c1": STATE_2},
    )
    assert store.get_fingerprints(["c1", "c2"]) == {"c1": "g1", "c2": "g2"}
    assert store.get_applied(["c1", "c2"]) == {"c1": STATE_2, "c2": STATE_1}


def test_a_state_without_a_fingerprint_is_ignored(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[Outcome("c1", "created", "P1")], applied={"c1": STATE_1})
    assert store.get_applied(["c1"]) == {}
    assert store.get_fingerprints(["c1"]) == {}


def test_a_failed_customer_keeps_its_state_and_a_new_one_gets_none(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1")],
        fingerprints={"c1": "f1"},
        applied={"c1": STATE_1},
    )
    store.commit_batch(
        run_id,
        outcomes=[_failed("c1"), _failed("c2")],
        fingerprints={"c1": "f2", "c2": "f2"},
        applied={"c1": STATE_2, "c2": STATE_2},
    )
    assert store.get_applied(["c1", "c2"]) == {"c1": STATE_1}
    assert store.get_fingerprints(["c1", "c2"]) == {"c1": "f1"}


def test_a_dropped_link_takes_the_state_with_it(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("c2", "created", "P2")],
        links=[Link("c1", "P1", "created"), Link("c2", "P2", "created")],
        fingerprints={"c1": "f1", "c2": "f2"},
        applied={"c1": STATE_1, "c2": STATE_1},
    )
    store.commit_batch(run_id, outcomes=[_failed("c1")], dropped_links=["c1"])
    assert store.get_applied(["c1", "c2"]) == {"c2": STATE_1}


def test_applied_states_are_read_in_chunks(store: Store) -> None:
    ids = [f"c{n:04d}" for n in range(1200)]
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome(c, "created", f"P{c}") for c in ids],
        fingerprints={c: "f" for c in ids},
        applied={c: {"n": n} for n, c in enumerate(ids)},
    )
    with statements_from(store, "fingerprints") as queries:
        found = store.get_applied([*ids, *ids, "missing"])
    assert len(found) == 1200
    assert found["c0999"] == {"n": 999}
    assert len(queries) == 3


def test_a_fingerprint_stored_without_a_state_has_none(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[Outcome("c1", "created", "P1")], fingerprints={"c1": "f"})
    assert store.get_applied(["c1"]) == {}
    with store._engine.connect() as conn:
        # SQL NULL, not the JSON text 'null'.
        stored = conn.execute(sa.text("SELECT applied IS NULL FROM fingerprints")).scalar_one()
    assert stored
