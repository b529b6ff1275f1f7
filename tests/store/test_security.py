"""Webhook ids, revoked sessions and failed sign-ins: remembered by the store, so a restart or a
second process knows them (each test opens a second Store on the same database to say so)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from klaviyo_sync.store import Store
from klaviyo_sync.store._migrate import alembic_config, head_revision

from .fakes import START, FakeClock

KEEP = timedelta(hours=72)
FORGET = timedelta(minutes=15)


def test_a_webhook_id_is_accepted_once_across_stores(shared_url: str, clock: FakeClock) -> None:
    item = ("c1", {"Id": "c1", "EmailAddress": "a@example.com"}, "customer/updated")
    with Store.open(shared_url, clock=clock) as first:
        assert first.accept_webhook("msg_1", [item], keep_for=KEEP) is True
        assert first.queue_depth() == 1
    # A restart: a new Store on the same database still knows the id and queues nothing.
    with Store.open(shared_url, clock=clock) as second:
        assert second.accept_webhook("msg_1", [item], keep_for=KEEP) is False
        assert second.accept_webhook("msg_2", [], keep_for=KEEP) is True
        assert second.queue_depth() == 1


def test_webhook_ids_are_forgotten_after_keep_for(store: Store, clock: FakeClock) -> None:
    assert store.accept_webhook("msg_1", [], keep_for=KEEP) is True
    clock.advance(KEEP.total_seconds() - 1)
    assert store.accept_webhook("msg_1", [], keep_for=KEEP) is False
    clock.advance(2)
    assert store.accept_webhook("msg_2", [], keep_for=KEEP) is True
    with store._engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT webhook_id FROM webhook_ids")).scalars().all()
    assert ids == ["msg_2"], "accepting a webhook drops the ids older than keep_for"


def test_racing_receivers_accept_an_id_exactly_once(shared_url: str, clock: FakeClock) -> None:
    stores = [Store.open(shared_url, clock=clock) for _ in range(4)]
    answers: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def receive(store: Store) -> None:
        barrier.wait()
        answers.append(store.accept_webhook("msg_race", [("c1", {}, "x")], keep_for=KEEP))

    threads = [threading.Thread(target=receive, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(answers) == [False, False, False, True]
        assert stores[0].queue_depth() == 1
    finally:
        for store in stores:
            store.close()


def test_a_revoked_session_stays_revoked_after_a_restart(shared_url: str, clock: FakeClock) -> None:
    expires = START + timedelta(hours=12)
    with Store.open(shared_url, clock=clock) as first:
        assert first.session_revoked("sid-1") is False
        first.revoke_session("sid-1", expires_at=expires)
    with Store.open(shared_url, clock=clock) as second:
        assert second.session_revoked("sid-1") is True
        assert second.session_revoked("sid-2") is False
        clock.now = expires
        assert second.session_revoked("sid-1") is False, "an expired cookie needs no entry"
        second.revoke_session("sid-2", expires_at=expires + timedelta(hours=1))
        second.revoke_session("sid-2", expires_at=expires + timedelta(hours=1))  # twice is fine
        with second._engine.connect() as conn:
            sids = conn.execute(sa.text("SELECT sid FROM revoked_sessions")).scalars().all()
        assert sids == ["sid-2"], "revoking drops the entries whose cookies have expired"


def test_failed_logins_count_per_client_and_are_forgotten(store: Store, clock: FakeClock) -> None:
    assert store.login_failures("10.0.0.1", forget_after=FORGET) == (0, None)
    assert [store.login_failed("10.0.0.1", forget_after=FORGET) for _ in range(3)] == [1, 2, 3]
    assert store.login_failed("10.0.0.2", forget_after=FORGET) == 1
    assert store.login_failures("10.0.0.1", forget_after=FORGET) == (3, START)
    store.login_succeeded("10.0.0.1")
    assert store.login_failures("10.0.0.1", forget_after=FORGET) == (0, None)
    clock.advance(FORGET.total_seconds() + 1)
    assert store.login_failures("10.0.0.2", forget_after=FORGET) == (0, None)
    assert store.login_failed("10.0.0.2", forget_after=FORGET) == 1, "a quiet client starts over"


def test_0004_upgrades_a_0003_store(shared_url: str, clock: FakeClock) -> None:
    with Store.open(shared_url, clock=clock) as store:
        store.enqueue([("c1", {}, "customer/updated")])
    command.downgrade(alembic_config(url=shared_url), "0003")
    engine = sa.create_engine(shared_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        assert not names & {"webhook_ids", "revoked_sessions", "login_failures"}
    finally:
        engine.dispose()
    with Store.open(shared_url, clock=clock) as store:
        assert store.schema_revision() == head_revision()
        assert store.queue_depth() == 1
        assert store.accept_webhook("msg_1", [], keep_for=KEEP) is True


@pytest.mark.parametrize(
    ("table", "index", "columns"),
    [
        ("webhook_ids", "ix_webhook_ids_received_at", ["received_at"]),
        ("revoked_sessions", "ix_revoked_sessions_expires_at", ["expires_at"]),
        ("login_failures", "ix_login_failures_last_at", ["last_at"]),
    ],
)
def test_forgetting_old_rows_is_indexed(
    store: Store, table: str, index: str, columns: list[str]
) -> None:
    indexes = {
        ix["name"]: ix["column_names"] for ix in sa.inspect(store._engine).get_indexes(table)
    }
    assert indexes == {index: columns}
