"""Issue 13, point 1: a signed event someone captured cannot be sent again.

Within the 5-minute tolerance the same webhook-id is a duplicate (acknowledged, not queued);
later its timestamp is too old; under a new id its signature no longer matches. The ids live in
the store, so a restart or a second receiver on the same database knows them.
"""

from __future__ import annotations

import asyncio
import base64
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from klaviyo_sync.store import Store
from klaviyo_sync.web import (
    ID_HEADER,
    REMEMBER_IDS_FOR,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    WebhookSecretError,
    create_app,
    sign,
)
from klaviyo_sync.web._errors import install_error_handlers
from klaviyo_sync.web._hooks import webhook_router
from klaviyo_sync.web._signature import MAKE_SECRET, Verifier
from tests.postgres import fresh_postgres, with_postgres

from .conftest import (
    OTHER_SECRET,
    Post,
    client_for,
    customer,
    event_body,
    logged,
    queued,
    settings,
    signed,
)

CAPTURED_AT = 1_796_000_000


class Clock:
    """Unix seconds, moved by hand."""

    def __init__(self, now: float = CAPTURED_AT) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def receiver_at(clock: Clock, store: Store) -> FastAPI:
    """Just the receiver, with its clock injected."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(webhook_router(settings(), store, None, clock=clock))
    return app


async def deliver(app: FastAPI, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with client_for(app) as client:
        return await client.post(WEBHOOK_PATH, content=body, headers=headers)


def error_code(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    code: str = response.json()["error"]["code"]
    return code


# the same delivery again


async def test_a_captured_event_replayed_at_once_is_a_duplicate_and_not_queued(
    store: Store, wakes: list[int], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    body = event_body(record=customer(7, FirstName="Old"))
    captured = signed(body, webhook_id="msg_captured")

    async with make_client() as client:
        first = await client.post(WEBHOOK_PATH, content=body, headers=captured)
        transferred = store.claim("worker-1", limit=10, lease_seconds=60)
        store.ack("worker-1", transferred)  # the worker has sent it to Klaviyo
        again = await client.post(WEBHOOK_PATH, content=body, headers=captured)

    assert first.json()["status"] == "queued"
    assert again.status_code == 202
    assert again.json() == {
        "status": "duplicate",
        "event_id": 2,
        "event": "customer/updated",
        "customer_id": "7",
        "reason": "webhook-id 'msg_captured' was already received in the last 72 hours; "
        "not queued again",
    }
    assert len(transferred) == 1
    assert store.queue_depth() == 0, "the old state is not sent again"
    assert [(e.status, e.reason) for e in logged(store)] == [
        ("queued", None),
        ("duplicate", again.json()["reason"]),
    ]
    assert wakes == [1], "a duplicate does not wake the worker"


async def test_an_old_event_cannot_be_replayed_over_a_newer_one(store: Store) -> None:
    clock = Clock()
    app = receiver_at(clock, store)
    old_body = event_body(record=customer(7, FirstName="Old"))
    old = signed(old_body, webhook_id="msg_old", timestamp=int(clock.now))
    new_body = event_body(record=customer(7, FirstName="New"))

    await deliver(app, old_body, old)
    clock.now += 60
    await deliver(app, new_body, signed(new_body, webhook_id="msg_new", timestamp=int(clock.now)))
    clock.now += 60
    within = await deliver(app, old_body, old)
    clock.now += 3600
    later = await deliver(app, old_body, old)
    clock.now += 365 * 86400
    a_year_later = await deliver(app, old_body, old)

    assert within.json()["status"] == "duplicate"
    assert error_code(later) == "timestamp_too_old"
    assert "is 1 h 2 min behind this server's clock" in later.json()["error"]["message"]
    assert error_code(a_year_later) == "timestamp_too_old"
    assert "365 days" in a_year_later.json()["error"]["message"]
    assert queued(store) == [("7", customer(7, FirstName="New"), "customer/updated")]


async def test_the_same_bytes_under_a_new_id_do_not_match_the_old_signature(
    store: Store, post: Post
) -> None:
    body = event_body()
    captured = signed(body, webhook_id="msg_captured")
    assert (await post(body, captured)).status_code == 202

    renamed = {**captured, ID_HEADER: "msg_fresh"}
    restamped = {**captured, ID_HEADER: "msg_fresh", TIMESTAMP_HEADER: str(int(time.time()))}

    for headers in (renamed, restamped):
        response = await post(body, headers)
        assert error_code(response) == "signature_mismatch"
    assert len(queued(store)) == 1
    assert len(logged(store)) == 1


@pytest.mark.parametrize(
    ("offset", "code", "said"),
    [
        (-360, "timestamp_too_old", "is 6 min behind this server's clock"),
        (+360, "timestamp_too_new", "is 6 min ahead of this server's clock"),
    ],
)
async def test_a_timestamp_six_minutes_off_is_refused_saying_so(
    store: Store, offset: int, code: str, said: str
) -> None:
    clock = Clock()
    body = event_body()

    response = await deliver(
        receiver_at(clock, store), body, signed(body, timestamp=int(clock.now) + offset)
    )

    assert error_code(response) == code
    message = response.json()["error"]["message"]
    assert said in message
    assert "the tolerance is 5 minutes either way" in message
    assert queued(store) == []
    assert logged(store) == []


async def test_six_minutes_off_by_the_real_clock_is_refused_by_the_real_app(
    post: Post, store: Store
) -> None:
    body = event_body()
    now = int(time.time())

    stale = await post(body, signed(body, timestamp=now - 360))
    future = await post(body, signed(body, timestamp=now + 360))

    assert error_code(stale) == "timestamp_too_old"
    assert error_code(future) == "timestamp_too_new"
    assert queued(store) == []


def test_an_id_is_remembered_longer_than_the_tolerance() -> None:
    # Otherwise a delivery stamped 5 minutes ahead could be replayed once its id was forgotten.
    assert REMEMBER_IDS_FOR.total_seconds() >= 2 * 300


async def test_a_rotating_sender_with_two_signatures_one_valid_is_accepted(
    post: Post, store: Store
) -> None:
    body = event_body()
    headers = signed(body)
    stamp = int(headers[TIMESTAMP_HEADER])
    theirs = sign(OTHER_SECRET, headers[ID_HEADER], stamp, body)
    headers[SIGNATURE_HEADER] = f"{theirs} {headers[SIGNATURE_HEADER]}"

    response = await post(body, headers)

    assert response.status_code == 202
    assert len(queued(store)) == 1


# across restarts and receivers


@pytest.fixture(params=with_postgres("sqlite-file"))
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database two receivers can share: a SQLite file, or PostgreSQL."""
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    yield fresh_postgres()
    fresh_postgres()


async def test_a_duplicate_id_is_known_after_a_restart(shared_url: str) -> None:
    body = event_body()
    captured = signed(body, webhook_id="msg_before_restart")
    with Store.open(shared_url) as before:
        first = await deliver(create_app(settings(), before), body, captured)
    with Store.open(shared_url) as after:
        again = await deliver(create_app(settings(), after), body, captured)
        entries = queued(after)

    assert first.json()["status"] == "queued"
    assert again.json()["status"] == "duplicate"
    assert len(entries) == 1


async def test_two_receivers_given_the_same_id_queue_it_once(shared_url: str) -> None:
    body = event_body()
    captured = signed(body, webhook_id="msg_twice")
    with Store.open(shared_url) as one, Store.open(shared_url) as two:
        apps = [create_app(settings(), one), create_app(settings(), two)]
        answers = await asyncio.gather(*(deliver(app, body, captured) for app in apps))
        entries = queued(one)
        events = logged(one)

    assert sorted(a.json()["status"] for a in answers) == ["duplicate", "queued"]
    assert len(entries) == 1
    assert sorted(e.status for e in events) == ["duplicate", "queued"]


# the secret


def test_a_secret_that_is_not_whsec_is_refused_when_the_app_is_made(store: Store) -> None:
    old_style = "a-hex-or-passphrase-secret-from-the-old-scheme"

    with pytest.raises(WebhookSecretError) as refused:
        create_app(settings(secret=old_style), store)

    assert "it does not start with whsec_" in str(refused.value)
    assert old_style not in str(refused.value)


def test_a_short_secret_is_refused(store: Store) -> None:
    short = "whsec_" + base64.b64encode(b"k" * 16).decode()

    with pytest.raises(WebhookSecretError, match="it encodes fewer than 24 bytes"):
        create_app(settings(secret=short), store)


def test_the_documented_secret_maker_makes_a_secret_the_receiver_takes() -> None:
    command = shlex.split(MAKE_SECRET)
    assert command[0] == "python"
    made = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True, check=True
    ).stdout.strip()
    body = event_body()

    assert made.startswith("whsec_")
    assert Verifier(made).verify(signed(body, made), body).startswith("msg_")
