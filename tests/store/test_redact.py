"""No API key reaches the store, whatever a failure's detail or an outcome carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from klaviyo_sync.outcome import Failure, Outcome
from klaviyo_sync.store import Store, redact

KEY = "pk_0123456789abcdef0123456789abcdef01"


def test_header_like_keys_are_dropped_at_any_depth_in_any_case() -> None:
    detail = {
        "Authorization": f"Klaviyo-API-Key {KEY}",
        "request": {
            "method": "POST",
            "headers": {"AUTHORIZATION": "x", "X-Api-Key": "x", "revision": "2026-07-15"},
            "params": [{"api_key": "x", "page": 2}, {"API-KEY": "x"}],
        },
        "status": 400,
    }
    assert redact(detail) == {
        "request": {
            "method": "POST",
            "headers": {"revision": "2026-07-15"},
            "params": [{"page": 2}, {}],
        },
        "status": 400,
    }


def test_header_pairs_and_keys_inside_text_are_scrubbed() -> None:
    detail = {
        "headers": [("Authorization", f"Klaviyo-API-Key {KEY}"), ("accept", "application/json")],
        "error": f"sent klaviyo-api-key {KEY} and got 401",
    }
    cleaned = redact(detail)
    assert cleaned["headers"] == [["accept", "application/json"]]
    assert KEY not in json.dumps(cleaned)
    assert "[redacted]" in cleaned["error"]


def test_values_json_cannot_hold_become_text() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    odd: dict[object, object] = {"at": when, "amount": Decimal("1.50"), "tags": {"a"}, 1: None}
    assert redact(odd) == {  # type: ignore[arg-type]
        "at": "2026-01-02T00:00:00+00:00",
        "amount": "1.50",
        "tags": ["a"],
        "1": None,
    }


def test_redact_leaves_its_input_alone() -> None:
    detail = {"headers": {"Authorization": "x"}}
    redact(detail)
    assert detail == {"headers": {"Authorization": "x"}}


def test_the_store_never_holds_the_key(store: Store) -> None:
    leaky = {
        "request": {"headers": {"Authorization": f"Klaviyo-API-Key {KEY}"}, "body": {"a": 1}},
        "response": {"errors": [{"detail": "bad"}]},
    }
    failure = Failure("c1", "write", "auth", f"401 for Klaviyo-API-Key {KEY}", detail=leaky)
    run_id = store.start_run("sync")
    store.commit_batch(
        run_id,
        outcomes=[
            Outcome("c1", "failed", failure=failure, detail=leaky),
            Outcome("c2", "created", "P2", detail={"api_key": KEY, "payload": {"x": 1}}),
        ],
    )
    store.commit_batch(run_id, outcomes=[Outcome("c1", "failed", failure=failure)])  # the bump

    (stored,) = store.list_failures()
    assert stored.detail == {
        "request": {"headers": {}, "body": {"a": 1}},
        "response": {"errors": [{"detail": "bad"}]},
    }
    with store._engine.connect() as conn:
        everything = [
            json.dumps(
                [list(row) for row in conn.execute(sa.text(f"SELECT * FROM {table}"))], default=str
            )
            for table in ("failures", "outcomes", "runs", "links")
        ]
    assert not [dump for dump in everything if KEY in dump]
