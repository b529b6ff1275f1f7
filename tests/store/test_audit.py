"""The audit: every consent or list change a batch made, listed newest first, filtered, counted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from klaviyo_sync.outcome import AuditEntry, Failure, Link, Outcome
from klaviyo_sync.store import AuditRecord, Store, StoreError

from .fakes import START, FakeClock

SUBSCRIBE = AuditEntry(
    "c1", "P1", "subscribe", "never_subscribed", "subscribed", "SubscribeProfile"
)
LIST_ADD = AuditEntry("c1", "P1", "list_add", "absent", "member", "UCLIST_VIP", list_name="VIP")
UNSUBSCRIBE = AuditEntry(
    "c2", "P2", "unsubscribe", "subscribed", "unsubscribed", "(no SubscribeProfile row)"
)


def test_audit_entries_are_recorded_with_their_run_and_time(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "updated", "P1"), Outcome("c2", "updated", "P2")],
        audit=[SUBSCRIBE, LIST_ADD, UNSUBSCRIBE],
    )
    newest, middle, oldest = store.list_audit()
    assert newest == AuditRecord(
        id=newest.id,
        run_id=run_id,
        customer_id="c2",
        profile_id="P2",
        action="unsubscribe",
        list_name=None,
        before="subscribed",
        after="unsubscribed",
        row="(no SubscribeProfile row)",
        recorded_at=START,
    )
    assert (middle.action, middle.list_name, middle.row) == ("list_add", "VIP", "UCLIST_VIP")
    assert (oldest.action, oldest.before, oldest.after) == (
        "subscribe",
        "never_subscribed",
        "subscribed",
    )
    assert oldest.id < middle.id < newest.id


def test_a_failed_customers_changes_are_recorded_too(store: Store) -> None:
    run_id = store.start_run("sync")
    # Subscribed, then the list call failed: the subscription was made and is audited.
    failure = Failure("c1", "lists", "unknown_list", "no list named VIP")
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "failed", "P1", failure=failure)],
        fingerprints={"c1": "f"},
        audit=[SUBSCRIBE],
    )
    assert [(a.customer_id, a.action) for a in store.list_audit()] == [("c1", "subscribe")]
    assert store.get_fingerprints(["c1"]) == {}


def test_the_audit_is_filtered_by_customer_and_run_newest_first(
    store: Store, clock: FakeClock
) -> None:
    first = store.start_run("sync")
    store.commit_batch(first, outcomes=[], audit=[SUBSCRIBE, UNSUBSCRIBE])
    later = clock.advance(60)
    second = store.start_run("sync")
    store.commit_batch(second, outcomes=[], audit=[LIST_ADD])

    mine = store.list_audit(customer_id="c1")
    assert [(a.action, a.run_id, a.recorded_at) for a in mine] == [
        ("list_add", second, later),
        ("subscribe", first, START),
    ]
    assert [a.customer_id for a in store.list_audit(run_id=first)] == ["c2", "c1"]
    assert [a.action for a in store.list_audit(customer_id="c1", run_id=first)] == ["subscribe"]
    assert store.list_audit(customer_id="nobody") == []

    assert store.count_audit() == 3
    assert store.count_audit(customer_id="c1") == 2
    assert store.count_audit(run_id=second) == 1
    assert store.count_audit(customer_id="c2", run_id=second) == 0


def test_the_audit_pages_without_repeats_or_gaps(store: Store) -> None:
    run_id = store.start_run("sync")
    entries = [
        AuditEntry(f"c{n}", f"P{n}", "list_remove", "member", "absent", "LIST_News", "News")
        for n in range(7)
    ]
    store.commit_batch(run_id, outcomes=[], audit=entries)
    pages = [store.list_audit(limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [a.customer_id for page in pages for a in page] == [f"c{n}" for n in range(6, -1, -1)]


def test_a_negative_page_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        store.list_audit(offset=-1)


def test_the_audit_rolls_back_with_its_batch(store: Store) -> None:
    run_id = store.start_run("sync")
    bad = Link("c1", None, "created")  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.commit_batch(run_id, outcomes=[], links=[bad], audit=[SUBSCRIBE])
    assert store.count_audit() == 0


def test_audit_rows_outlive_their_run(store: Store) -> None:
    run_id = store.start_run("sync")
    store.commit_batch(run_id, outcomes=[], audit=[SUBSCRIBE])
    with store._engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
    (entry,) = store.list_audit(customer_id="c1")
    assert (entry.run_id, entry.action) == (None, "subscribe")
