"""The error log: filtered, searched, paged newest first, resolved by hand, fast at scale."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from klaviyo_sync.outcome import FAILURE_KINDS, Failure, Outcome
from klaviyo_sync.store import FailureFilter, FailureRecord, NotFoundError, Store
from klaviyo_sync.store._queries import list_failures_query
from klaviyo_sync.store._schema import links, outcomes

from .fakes import FakeClock


def _log(store: Store, clock: FakeClock, *failures: Failure) -> int:
    """Each failure in its own batch, a second apart: last_seen orders them."""
    run_id = store.start_run("sync")
    for failure in failures:
        clock.advance()
        outcome = Outcome(failure.customer_id or "?", "failed", failure=failure)
        store.commit_batch(run_id, outcomes=[outcome])
    return run_id


@pytest.fixture
def logged(store: Store, clock: FakeClock) -> Store:
    _log(
        store,
        clock,
        Failure("cust-1", "write", "phone_rejected", "Invalid phone number +1555"),
        Failure("cust-2", "identify", "no_identifier", "no email and no usable phone"),
        Failure("CUST-3", "write", "klaviyo_unavailable", "503 from Klaviyo", retryable=True),
        Failure("cust-4", "write", "phone_rejected", "Phone number 100% wrong"),
        Failure(None, "read", "invalid_record", "customers.jsonl:7: missing Id"),
    )
    return store


def _ids(failures: list[FailureRecord]) -> list[str | None]:
    return [f.customer_id for f in failures]


def test_listed_newest_first(logged: Store) -> None:
    assert _ids(logged.list_failures()) == [None, "cust-4", "CUST-3", "cust-2", "cust-1"]


def test_filtered_by_kind(logged: Store) -> None:
    phone = FailureFilter(kind="phone_rejected")
    assert _ids(logged.list_failures(phone)) == ["cust-4", "cust-1"]
    assert logged.count_failures(phone) == 2
    assert logged.list_failures(FailureFilter(kind="auth")) == []


def test_searched_by_message_or_customer_id_ignoring_case(logged: Store) -> None:
    def found(text: str) -> list[str | None]:
        return _ids(logged.list_failures(FailureFilter(text=text)))

    assert found("PHONE") == ["cust-4", "cust-2", "cust-1"]
    assert found("cust-3") == ["CUST-3"]
    assert found("jsonl:7") == [None]
    # % and _ are literal, not wildcards.
    assert found("100%") == ["cust-4"]
    assert found("1_0") == []
    assert logged.count_failures(FailureFilter(text="phone")) == 3


def test_filtered_by_customer_and_retryable(logged: Store) -> None:
    assert _ids(logged.list_failures(FailureFilter(customer_id="cust-2"))) == ["cust-2"]
    assert _ids(logged.list_failures(FailureFilter(customer_id="CUST-2"))) == [], "exact id"
    assert _ids(logged.list_failures(FailureFilter(retryable=True))) == ["CUST-3"]
    assert logged.count_failures(FailureFilter(retryable=False)) == 4


def test_every_field_set_is_required_at_once(logged: Store) -> None:
    logged.resolve_failure(logged.list_failures(FailureFilter(customer_id="cust-1"))[0].id)
    every = FailureFilter(
        kind="phone_rejected",
        text="phone",
        customer_id="cust-1",
        retryable=False,
        include_resolved=True,
    )
    assert _ids(logged.list_failures(every)) == ["cust-1"]
    for other in (
        dataclasses.replace(every, kind="no_identifier"),
        dataclasses.replace(every, text="100%"),
        dataclasses.replace(every, customer_id="cust-4"),
        dataclasses.replace(every, retryable=True),
        dataclasses.replace(every, include_resolved=False),
    ):
        assert "cust-1" not in _ids(logged.list_failures(other)), other
    # With another customer, the other fields still hold: cust-4 is taken instead.
    assert _ids(logged.list_failures(dataclasses.replace(every, customer_id="cust-4"))) == [
        "cust-4"
    ]


def test_the_default_filter_is_every_open_failure_and_empty_text_filters_nothing(
    logged: Store,
) -> None:
    everything = _ids(logged.list_failures())
    assert _ids(logged.list_failures(FailureFilter())) == everything
    assert _ids(logged.list_failures(FailureFilter(text=""))) == everything
    assert logged.count_failures(FailureFilter(text="")) == logged.count_failures() == 5


@pytest.mark.parametrize(
    "where",
    [
        FailureFilter(),
        FailureFilter(kind="phone_rejected"),
        FailureFilter(text="PHONE", include_resolved=True),
        FailureFilter(customer_id="cust-2", include_resolved=True),
        FailureFilter(retryable=False, text="cust"),
        FailureFilter(kind="auth"),
    ],
    ids=repr,
)
def test_a_list_and_a_count_take_the_same_failures(logged: Store, where: FailureFilter) -> None:
    logged.resolve_failure(logged.list_failures(FailureFilter(customer_id="cust-2"))[0].id)
    listed = logged.list_failures(where, limit=100)
    assert logged.count_failures(where) == len(listed)
    assert all(where.include_resolved or f.is_open for f in listed)


def test_keywords_are_a_shorthand_for_the_filter(logged: Store) -> None:
    where = FailureFilter(kind="phone_rejected", text="phone")
    assert logged.list_failures(kind="phone_rejected", text="phone") == logged.list_failures(where)
    assert logged.count_failures(kind="phone_rejected", text="phone") == logged.count_failures(
        where
    )
    with pytest.raises(TypeError, match="not both"):
        logged.list_failures(where, kind="auth")
    with pytest.raises(TypeError, match="state"):
        logged.count_failures(state="parked")


def test_a_filter_is_a_value() -> None:
    where = FailureFilter(kind="auth", text="key")
    assert where == FailureFilter(kind="auth", text="key")
    assert len({where, FailureFilter(kind="auth", text="key")}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        where.kind = "invalid"  # type: ignore[misc]


def test_paged_with_limit_and_offset(logged: Store) -> None:
    pages = [logged.list_failures(limit=2, offset=n) for n in (0, 2, 4, 6)]
    assert [_ids(p) for p in pages] == [[None, "cust-4"], ["CUST-3", "cust-2"], ["cust-1"], []]
    with pytest.raises(ValueError, match="must not be negative"):
        logged.list_failures(offset=-1)


def test_resolved_by_hand(logged: Store, clock: FakeClock) -> None:
    (target,) = logged.list_failures(customer_id="cust-2")
    now = clock.advance()
    resolved = logged.resolve_failure(target.id, note="customer asked to be left out")
    assert (resolved.resolved_at, resolved.resolution) == (now, "customer asked to be left out")
    assert not resolved.is_open
    assert logged.get_failure(target.id) == resolved
    assert "cust-2" not in _ids(logged.list_failures())
    assert logged.count_failures() == 4
    assert logged.count_failures(include_resolved=True) == 5
    assert _ids(logged.list_failures(include_resolved=True, text="cust-2")) == ["cust-2"]

    clock.advance()
    assert logged.resolve_failure(target.id) == resolved  # already resolved: unchanged


def test_an_unknown_failure(store: Store) -> None:
    assert store.get_failure(99) is None
    with pytest.raises(NotFoundError, match="no failure 99"):
        store.resolve_failure(99)


def _fill(store: Store, clock: FakeClock, total: int, per_batch: int = 1000) -> None:
    run_id = store.start_run("sync", source="bulk")
    for start in range(0, total, per_batch):
        clock.advance()
        batch = [
            Outcome(
                f"c{n:05d}",
                "failed",
                failure=Failure(
                    f"c{n:05d}", "write", FAILURE_KINDS[n % len(FAILURE_KINDS)], f"error {n}"
                ),
            )
            for n in range(start, start + per_batch)
        ]
        store.commit_batch(run_id, outcomes=batch)


@pytest.mark.slow
def test_ten_thousand_failures_page_newest_first(store: Store, clock: FakeClock) -> None:
    _fill(store, clock, 10_000)
    assert store.count_failures() == 10_000
    page = store.list_failures(limit=50, offset=5_000)
    # Newest batch first, and inside a batch (same last_seen) the highest id first.
    assert _ids(page) == [f"c{n:05d}" for n in range(4_999, 4_949, -1)]
    kind = FAILURE_KINDS[3]
    by_kind = store.list_failures(FailureFilter(kind=kind), limit=10, offset=100)
    assert {f.kind for f in by_kind} == {kind}
    assert len(by_kind) == 10
    assert store.count_failures(FailureFilter(kind=kind)) == len(
        range(3, 10_000, len(FAILURE_KINDS))
    )


@pytest.fixture(scope="module")
def big_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """10,000 failures in a SQLite file, filled once for the query-plan tests."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path_factory.mktemp('big') / 'store.db'}"
    with Store.open(url, clock=clock) as store:
        _fill(store, clock, 10_000)
        store.resolve_failure(1)
        with store._engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        yield store


def _plan(store: Store, query: sa.Select) -> str:  # type: ignore[type-arg]
    sql = str(query.compile(store._engine, compile_kwargs={"literal_binds": True}))
    with store._engine.connect() as conn:
        return "\n".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


@pytest.mark.parametrize(
    ("filters", "index", "ordered_by_index"),
    [
        ({}, "ix_failures_resolved_at_last_seen", True),
        ({"include_resolved": True}, "ix_failures_last_seen", True),
        ({"kind": "auth"}, "ix_failures_kind", True),
        ({"text": "error 12"}, "ix_failures_resolved_at_last_seen", True),
        ({"retryable": True}, "ix_failures_resolved_at_last_seen", True),
        # Rare views: the index narrows the rows to one kind or customer, which are then sorted.
        ({"kind": "auth", "include_resolved": True}, "ix_failures_kind", False),
        ({"customer_id": "c00012"}, "ix_failures_customer_id", False),
    ],
)
def test_failure_pages_are_read_through_an_index(
    big_sqlite: Store, filters: dict[str, Any], index: str, ordered_by_index: bool
) -> None:
    plan = _plan(big_sqlite, list_failures_query(FailureFilter(**filters), limit=50, offset=9_000))
    assert index in plan, plan
    if ordered_by_index:
        # The index gives the order: no sorting of the whole log for one page.
        assert "TEMP B-TREE" not in plan, plan


def test_outcomes_by_run_and_links_by_profile_use_their_indexes(big_sqlite: Store) -> None:
    by_run = sa.select(outcomes).where(outcomes.c.run_id == 1).order_by(outcomes.c.id)
    assert "ix_outcomes_run_id" in _plan(big_sqlite, by_run)
    by_profile = sa.select(links).where(links.c.profile_id == "P")
    assert "ix_links_profile_id" in _plan(big_sqlite, by_profile)


def test_a_different_failure_supersedes_the_open_one(store: Store) -> None:
    from klaviyo_sync.outcome import Failure, Outcome

    def failed(kind: str) -> Outcome:
        failure = Failure("c1", "write", kind, f"{kind} happened", retryable=kind != "invalid")  # type: ignore[arg-type]
        return Outcome("c1", "failed", failure=failure)

    first = store.start_run("sync")
    store.commit_batch(first, outcomes=[failed("klaviyo_unavailable")])
    second = store.start_run("retry")
    store.commit_batch(second, outcomes=[failed("invalid")])
    [open_one] = store.list_failures()
    assert open_one.kind == "invalid"
    [old] = [f for f in store.list_failures(include_resolved=True) if f.kind != "invalid"]
    assert old.resolution == f"superseded by invalid in run {second}"
    assert old.next_retry_at is None
