"""The event log: every webhook event received and what became of it, newest first."""

from __future__ import annotations

import pytest

from klaviyo_sync.store import EventRecord, Store

from .fakes import START, FakeClock

KEY = "pk_0123456789abcdef0123456789abcdef01"


@pytest.fixture
def logged(store: Store, clock: FakeClock) -> list[int]:
    ids = []
    for event, customer_id, status, reason in [
        ("customer/created", "c1", "queued", None),
        ("customer/updated", "c2", "ignored", "trigger customer/updated is disabled"),
        ("customer/deleted", "c1", "ignored", "outbound delete is not supported"),
        ("customer/updated", None, "rejected", "bad signature"),
        ("customer/updated", "c1", "queued", None),
    ]:
        ids.append(store.record_event(event, customer_id=customer_id, status=status, reason=reason))
        clock.advance()
    return ids


def test_an_event_is_recorded_with_when_and_why(store: Store) -> None:
    event_id = store.record_event(
        "customer/updated", customer_id="c2", status="ignored", reason="trigger disabled"
    )
    assert store.list_events() == [
        EventRecord(event_id, START, "customer/updated", "c2", "ignored", "trigger disabled")
    ]


def test_events_are_listed_newest_first_and_paged(store: Store, logged: list[int]) -> None:
    assert [e.id for e in store.list_events()] == logged[::-1]
    assert [e.id for e in store.list_events(limit=2, offset=1)] == logged[3:1:-1]
    assert store.list_events(offset=5) == []
    assert store.count_events() == 5
    with pytest.raises(ValueError, match="must not be negative"):
        store.list_events(limit=-1)


def test_events_are_filtered_and_counted_by_status(store: Store, logged: list[int]) -> None:
    ignored = store.list_events(status="ignored")
    assert [(e.event, e.reason) for e in ignored] == [
        ("customer/deleted", "outbound delete is not supported"),
        ("customer/updated", "trigger customer/updated is disabled"),
    ]
    assert [e.customer_id for e in store.list_events(status="queued")] == ["c1", "c1"]
    assert store.count_events(status="rejected") == 1
    assert store.count_events(status="queued") == 2


def test_events_at_the_same_instant_keep_their_order(store: Store) -> None:
    ids = [
        store.record_event("customer/updated", customer_id=f"c{n}", status="queued")
        for n in range(3)
    ]
    assert [e.id for e in store.list_events()] == ids[::-1]


def test_an_unknown_status_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="queued, ignored, rejected"):
        store.record_event("customer/updated", customer_id="c1", status="done")
    with pytest.raises(ValueError, match="got 'done'"):
        store.list_events(status="done")
    assert store.count_events() == 0


def test_no_api_key_reaches_the_event_log(store: Store) -> None:
    store.record_event(
        "customer/updated",
        customer_id=None,
        status="rejected",
        reason=f"body quoted Authorization: Klaviyo-API-Key {KEY}",
    )
    (event,) = store.list_events()
    assert event.reason is not None
    assert KEY not in event.reason
