"""Links and fingerprints: read in bulk, written by commit_batch, relinked and dropped."""

from __future__ import annotations

from klaviyo_sync.outcome import Failure, Link, Outcome
from klaviyo_sync.store import Store
from tests.store.fakes import statements_from

from .fakes import START, FakeClock


def _link(store: Store, *links: Link) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome(link.customer_id, "created", link.profile_id) for link in links],
        links=links,
    )


def test_a_customer_without_a_link_has_none(store: Store) -> None:
    assert store.get_links(["nobody"]) == {}
    assert store.get_link("nobody") is None


def test_links_are_stored_with_how_and_when(store: Store, clock: FakeClock) -> None:
    _link(store, Link("c1", "P1", "created"), Link("c2", "P2", "matched_email"))
    assert store.get_links(["c1", "c2", "c3"]) == {
        "c1": Link("c1", "P1", "created", START, START),
        "c2": Link("c2", "P2", "matched_email", START, START),
    }


def test_a_relink_updates_profile_and_how_but_keeps_created_at(
    store: Store, clock: FakeClock
) -> None:
    _link(store, Link("c1", "P1", "created"))
    later = clock.advance(60)
    _link(store, Link("c1", "P9", "duplicate"))
    assert store.get_link("c1") == Link("c1", "P9", "duplicate", START, later)


def test_a_dropped_link_is_gone_and_so_is_its_fingerprint(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("c2", "created", "P2")],
        links=[Link("c1", "P1", "created"), Link("c2", "P2", "created")],
        fingerprints={"c1": "f1", "c2": "f2"},
    )
    # The profile behind c1's link is gone (404): the link goes, and re-routing failed.
    failure = Failure("c1", "write", "klaviyo_unavailable", "503", retryable=True)
    store.commit_batch(
        run_id, outcomes=[Outcome("c1", "failed", failure=failure)], dropped_links=["c1"]
    )
    assert set(store.get_links(["c1", "c2"])) == {"c2"}
    assert store.get_fingerprints(["c1", "c2"]) == {"c2": "f2"}


def test_a_dropped_link_relinked_in_the_same_batch_ends_linked(store: Store) -> None:
    _link(store, Link("c1", "P1", "created"))
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P2")],
        links=[Link("c1", "P2", "created")],
        dropped_links=["c1"],
        fingerprints={"c1": "new"},
    )
    link = store.get_link("c1")
    assert link is not None
    assert link.profile_id == "P2"
    assert store.get_fingerprints(["c1"]) == {"c1": "new"}


def test_find_links_by_customer_or_profile(store: Store, clock: FakeClock) -> None:
    _link(store, Link("c1", "P1", "created"))
    clock.advance()
    _link(store, Link("c2", "P1", "duplicate"), Link("c3", "P3", "matched_phone"))
    assert [link.customer_id for link in store.find_links(profile_id="P1")] == ["c2", "c1"]
    assert [link.profile_id for link in store.find_links(customer_id="c3")] == ["P3"]
    assert store.find_links(customer_id="c3", profile_id="P1") == []
    assert [link.customer_id for link in store.find_links(limit=2)] == ["c2", "c3"]


def test_get_links_asks_in_chunks_of_at_most_500_ids(store: Store) -> None:
    ids = [f"c{i:04d}" for i in range(1200)]
    _link(store, *(Link(c, f"P{c}", "created") for c in ids))
    with statements_from(store, "links") as queries:
        found = store.get_links([*ids, *ids, "missing"])
    assert len(found) == 1200
    assert found["c0999"].profile_id == "Pc0999"
    assert len(queries) == 3


def test_fingerprints_are_upserted(store: Store, clock: FakeClock) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[Outcome("c1", "created", "P1")], fingerprints={"c1": "a"})
    store.commit_batch(run_id, outcomes=[Outcome("c1", "updated", "P1")], fingerprints={"c1": "b"})
    assert store.get_fingerprints(["c1", "c2"]) == {"c1": "b"}


def test_a_failed_customer_keeps_its_fingerprint(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[Outcome("c1", "created", "P1")], fingerprints={"c1": "a"})
    failure = Failure("c1", "write", "phone_rejected", "Invalid phone number")
    store.commit_batch(
        run_id,
        outcomes=[
            Outcome("c1", "failed", "P1", failure=failure),
            Outcome("c2", "failed"),
            Outcome("c3", "created", "P3"),
        ],
        fingerprints={"c1": "b", "c2": "x", "c3": "c"},
    )
    assert store.get_fingerprints(["c1", "c2", "c3"]) == {"c1": "a", "c3": "c"}
