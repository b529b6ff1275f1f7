"""Issue 13 (2), the webhook half: an event whose customer holds what no store can keep (a NUL,
an unpaired surrogate, an overflowing number) is a 422 naming the field, never a 503 "send it
again later" for an event that could never be stored; nothing of it is queued, its refusal is
in the event log, and a good event still answers 202. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sync.store import Store
from tests.postgres import fresh_postgres, with_postgres

from .conftest import Post, customer, event_body, logged, queued

BACKENDS = with_postgres("sqlite")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store the app writes to (the conftest's ``make_client`` and ``post`` take it)."""
    url = fresh_postgres() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'db'}"
    with Store.open(url) as opened:
        yield opened


def _body(record: Any, event: str = "customer/updated") -> bytes:
    # ensure_ascii: a lone surrogate goes as its \ud800 escape, as any JSON encoder sends it.
    return json.dumps({"event": event, "customer": record}).encode()


POISON = {
    "nul in the id": (customer("55\x0060"), "55\\u000060", "customer: Id holds a NUL"),
    "surrogate in a name": (customer(7, LastName="\udc00"), "7", "LastName holds an unpaired"),
    "nul in a custom field key": (
        customer(8, CustomFields={"\x00": "x"}),
        "8",
        "a key of CustomFields, '\\u0000', holds a NUL",
    ),
    "nul in an address": (
        customer(9, Addresses=[{"City": "a\x00", "IsPrimaryBilling": True}]),
        "9",
        "Addresses[0].City holds a NUL",
    ),
}


@pytest.mark.parametrize("case", POISON)
async def test_an_event_that_can_never_be_stored_is_a_422_and_nothing_is_queued(
    post: Post, store: Store, case: str
) -> None:
    record, logged_as, says = POISON[case]

    response = await post(_body(record))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_customer"
    assert says in error["message"]
    assert queued(store) == []
    [refusal] = logged(store)
    assert (refusal.status, refusal.customer_id) == ("rejected", logged_as)
    assert says in (refusal.reason or "")

    good = await post(event_body("customer/updated", customer(55260)))
    assert good.status_code == 202, good.text
    assert [entry[0] for entry in queued(store)] == ["55260"]


async def test_an_overflowing_number_is_a_422_naming_the_field(post: Post, store: Store) -> None:
    body = b'{"event": "customer/created", "customer": {"Id": 3, "CustomFields": {"n": 1e999}}}'

    response = await post(body)

    assert response.status_code == 422, response.text
    assert "CustomFields.n is Infinity" in response.json()["error"]["message"]
    assert queued(store) == []


async def test_an_unknown_event_name_holding_a_nul_is_recorded_escaped(
    post: Post, store: Store
) -> None:
    response = await post(_body(customer(4), event="customer/\x00dropped"))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_event"
    [refusal] = logged(store)
    assert refusal.event == "customer/\\u0000dropped"
