"""POST /hooks/customers: size, signature, JSON and customer checks in that order; what is
queued, ignored and recorded; nothing queued on any refusal. Replays are in test_replay."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from klaviyo_sync.store import Store
from klaviyo_sync.web import (
    LEGACY_SIGNATURE_HEADER,
    MAX_WEBHOOK_BYTES,
    SIGNATURE_HEADER,
    WEBHOOK_PATH,
    create_app,
)
from klaviyo_sync.web._hooks import DRAIN_BYTES

from .conftest import (
    OTHER_SECRET,
    SECRET,
    Event,
    Post,
    client_for,
    customer,
    event_body,
    logged,
    queued,
    settings,
    signed,
)
from .fakes import SpyStore

TRIGGER_OFF = "trigger 'updated' is not enabled (KLAVIYO_SYNC_TRIGGERS)"
DELETE = "outbound delete is not supported; remove the profile in Klaviyo"


def error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    detail: dict[str, str] = body["error"]
    return detail


# accepted


async def test_a_signed_update_is_queued_and_recorded(
    post: Post, store: Store, wakes: list[int]
) -> None:
    body = event_body("customer/updated", customer(55260, Phone="555 010 4477"))

    response = await post(body)

    assert response.status_code == 202
    assert response.json() == {
        "status": "queued",
        "event_id": logged(store)[0].id,
        "event": "customer/updated",
        "customer_id": "55260",
        "reason": None,
    }
    assert queued(store) == [("55260", customer(55260, Phone="555 010 4477"), "customer/updated")]
    assert logged(store) == [Event(1, "customer/updated", "55260", "queued", None)]
    assert wakes == [1]


async def test_a_signed_create_is_queued(post: Post, store: Store) -> None:
    response = await post(event_body("customer/created", customer("C-7")))

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert [item[0] for item in queued(store)] == ["C-7"]
    assert logged(store)[0].event == "customer/created"


async def test_the_customer_id_is_read_as_the_engine_reads_it(post: Post, store: Store) -> None:
    response = await post(event_body(record=customer("  A-1  ")))

    assert response.json()["customer_id"] == "A-1"
    assert queued(store)[0][0] == "A-1"
    assert queued(store)[0][1]["Id"] == "  A-1  "  # the record itself travels as received


async def test_extra_top_level_keys_are_ignored(post: Post, store: Store) -> None:
    body = json.dumps(
        {"event": "customer/created", "customer": customer(), "occurred_at": "2026-07-15"}
    ).encode()

    assert (await post(body)).status_code == 202
    assert len(queued(store)) == 1


async def test_signatures_of_other_versions_beside_v1_are_skipped(post: Post, store: Store) -> None:
    body = event_body()
    headers = signed(body)
    headers[SIGNATURE_HEADER] = f"v1a,c29tZXRoaW5nIGVsc2U= {headers[SIGNATURE_HEADER]}  v2,x"

    response = await post(body, headers)

    assert response.status_code == 202
    assert len(queued(store)) == 1


async def test_a_burst_of_updates_to_one_customer_is_each_accepted_and_coalesced(
    post: Post, store: Store, wakes: list[int]
) -> None:
    names = [f"Ada {n}" for n in range(20)]
    for name in names:
        response = await post(event_body(record=customer(42, FirstName=name)))
        assert response.status_code == 202
        assert response.json()["status"] == "queued"

    # Every event is logged and wakes the worker; the queue keeps one row, the latest state.
    assert [(e.customer_id, e.status) for e in logged(store)] == [("42", "queued")] * 20
    assert queued(store) == [("42", customer(42, FirstName="Ada 19"), "customer/updated")]
    assert len(wakes) == 20


async def test_store_calls_run_off_the_event_loop_thread(
    make_client: Callable[..., httpx.AsyncClient], spy: SpyStore
) -> None:
    body = event_body()
    async with make_client(store=spy) as client:
        await client.post(WEBHOOK_PATH, content=body, headers=signed(body))

    assert len(spy.threads) == 2  # accept_webhook, record_event
    assert threading.get_ident() not in spy.threads


# ignored


async def test_a_disabled_trigger_is_acknowledged_recorded_and_not_queued(
    make_client: Callable[..., httpx.AsyncClient], store: Store, wakes: list[int]
) -> None:
    async with make_client(triggers="created") as client:
        body = event_body("customer/updated")
        response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))

    assert response.status_code == 202
    assert response.json() == {
        "status": "ignored",
        "event_id": 1,
        "event": "customer/updated",
        "customer_id": "55260",
        "reason": TRIGGER_OFF,
    }
    assert queued(store) == []
    assert logged(store) == [Event(1, "customer/updated", "55260", "ignored", TRIGGER_OFF)]
    assert wakes == []


async def test_no_trigger_is_enabled_by_default(
    make_client: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    async with make_client(triggers="") as client:
        for event in ("customer/created", "customer/updated"):
            body = event_body(event)
            response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
            assert response.json()["status"] == "ignored"

    assert queued(store) == []
    assert [e.reason for e in logged(store)] == [
        "trigger 'created' is not enabled (KLAVIYO_SYNC_TRIGGERS)",
        TRIGGER_OFF,
    ]


async def test_a_delete_is_acknowledged_and_ignored_whatever_the_triggers(
    post: Post, store: Store, wakes: list[int]
) -> None:
    response = await post(event_body("customer/deleted", {"Id": 55260}))

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert response.json()["reason"] == DELETE
    assert queued(store) == []
    assert logged(store) == [Event(1, "customer/deleted", "55260", "ignored", DELETE)]
    assert wakes == []


# refused before the signature: nothing queued, nothing recorded


@pytest.mark.parametrize("secret", [None, ""])
async def test_without_a_secret_every_webhook_is_refused(
    make_client: Callable[..., httpx.AsyncClient], store: Store, secret: str | None
) -> None:
    async with make_client(secret=secret) as client:
        body = event_body()
        signed_response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
        unsigned_response = await client.post(WEBHOOK_PATH, content=body)

    for response in (signed_response, unsigned_response):
        assert response.status_code == 503
        assert error(response)["code"] == "webhook_secret_not_set"
        assert "KLAVIYO_SYNC_WEBHOOK_SECRET is not set" in error(response)["message"]
    assert queued(store) == []
    assert logged(store) == []


def _headers(**changes: str | None) -> dict[str, str]:
    """Good headers for ``event_body()``, with some replaced (or, given None, left out)."""
    headers = signed(event_body())
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            del headers[header]
        else:
            headers[header] = value
    return headers


V1_ZEROS = "v1," + "A" * 43 + "="  # well formed: 32 zero bytes


@pytest.mark.parametrize(
    ("headers", "code", "fragment"),
    [
        ({}, "signature_missing", "webhook-id, webhook-timestamp and webhook-signature headers"),
        (_headers(webhook_id=None), "signature_missing", "the webhook-id header is missing"),
        (_headers(webhook_id="  "), "signature_missing", "the webhook-id header is missing"),
        (_headers(webhook_timestamp=None), "signature_missing", "webhook-timestamp header is"),
        (_headers(webhook_signature=None), "signature_missing", "webhook-signature header is"),
        (_headers(webhook_signature=""), "signature_missing", "webhook-signature header is"),
        (_headers(webhook_id="msg 1"), "webhook_id_malformed", "visible ASCII"),
        (_headers(webhook_id="msg_\x7f"), "webhook_id_malformed", "visible ASCII"),
        (_headers(webhook_id="m" * 256), "webhook_id_malformed", "1 to 255"),
        (_headers(webhook_timestamp="12.5"), "timestamp_malformed", "whole Unix seconds"),
        (_headers(webhook_timestamp="-1"), "timestamp_malformed", "whole Unix seconds"),
        (_headers(webhook_timestamp="2026-12-03T17:00:00Z"), "timestamp_malformed", "Unix"),
        (_headers(webhook_timestamp="9" * 16), "timestamp_malformed", "Unix"),
        (_headers(webhook_signature="sha256=" + "0" * 64), "signature_malformed", "v1,"),
        (_headers(webhook_signature="v1,"), "signature_malformed", "32-byte"),
        (_headers(webhook_signature="v1,not base64!"), "signature_malformed", "32-byte"),
        (_headers(webhook_signature="v1,AAAA"), "signature_malformed", "32-byte"),
        (_headers(webhook_signature="v1a," + "A" * 86 + "=="), "signature_malformed", "v1,"),
        (_headers(webhook_signature=V1_ZEROS), "signature_mismatch", "no signature"),
        (_headers(webhook_signature=f"{V1_ZEROS} {V1_ZEROS}"), "signature_mismatch", "matches"),
    ],
)
async def test_a_missing_malformed_or_wrong_signature_is_refused(
    post: Post, store: Store, wakes: list[int], headers: dict[str, str], code: str, fragment: str
) -> None:
    response = await post(event_body(), headers)

    assert response.status_code == 401
    assert error(response)["code"] == code
    assert fragment in error(response)["message"]
    assert queued(store) == []
    assert logged(store) == []
    assert wakes == []


async def test_the_old_body_only_signature_is_refused_saying_the_scheme_changed(
    post: Post, store: Store
) -> None:
    old = {LEGACY_SIGNATURE_HEADER: "sha256=" + "0" * 64, "Content-Type": "application/json"}

    response = await post(event_body(), old)

    assert response.status_code == 401
    assert error(response)["code"] == "signature_scheme_changed"
    message = error(response)["message"]
    assert "X-Klaviyo-Sync-Signature (a signature of the body alone) is no longer accepted" in (
        message
    )
    assert "webhook-id, webhook-timestamp, webhook-signature" in message
    assert "README" in message
    assert queued(store) == []


async def test_the_old_header_beside_the_new_ones_is_ignored(post: Post, store: Store) -> None:
    # A sender moving over may send both for a while; only the new scheme counts.
    body = event_body()
    headers = {**signed(body), LEGACY_SIGNATURE_HEADER: "sha256=" + "0" * 64}

    assert (await post(body, headers)).status_code == 202
    assert len(queued(store)) == 1


async def test_a_signature_made_with_another_secret_is_refused(post: Post, store: Store) -> None:
    body = event_body()

    response = await post(body, signed(body, secret=OTHER_SECRET))

    assert response.status_code == 401
    assert error(response)["code"] == "signature_mismatch"
    assert logged(store) == []


async def test_a_body_changed_after_signing_is_refused(post: Post, store: Store) -> None:
    body = event_body(record=customer(1))
    tampered = event_body(record=customer(2))

    response = await post(tampered, signed(body))

    assert response.status_code == 401
    assert error(response)["code"] == "signature_mismatch"
    assert queued(store) == []


async def test_the_signature_covers_the_raw_bytes_not_the_parsed_json(
    post: Post, store: Store
) -> None:
    body = event_body()
    reformatted = json.dumps(json.loads(body), indent=2).encode()

    assert (await post(reformatted, signed(body))).status_code == 401
    assert (await post(reformatted)).status_code == 202


async def test_refusals_before_the_signature_are_logged_without_the_values(
    post: Post, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="klaviyo_sync.web")
    headers = signed(event_body(), OTHER_SECRET)

    await post(event_body(), headers)

    (record,) = caplog.records
    assert record.getMessage().startswith("webhook from 127.0.0.1 refused (signature_mismatch)")
    assert headers[SIGNATURE_HEADER].removeprefix("v1,") not in caplog.text


async def test_a_bad_signature_is_reported_before_bad_json(post: Post, store: Store) -> None:
    response = await post(b"{not json", {**signed(b"{not json"), SIGNATURE_HEADER: V1_ZEROS})

    assert response.status_code == 401
    assert logged(store) == []


# size


async def test_a_body_declared_over_the_limit_is_refused(post: Post, store: Store) -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)

    response = await post(body)

    assert response.status_code == 413
    assert error(response)["code"] == "body_too_large"
    assert str(MAX_WEBHOOK_BYTES) in error(response)["message"]
    assert logged(store) == []


async def test_a_body_exactly_at_the_limit_is_read(post: Post, store: Store) -> None:
    event = event_body()
    body = event + b" " * (MAX_WEBHOOK_BYTES - len(event))

    response = await post(body)

    assert response.status_code == 202
    assert len(queued(store)) == 1


async def test_the_size_is_checked_before_the_signature(post: Post, store: Store) -> None:
    response = await post(b"x" * (MAX_WEBHOOK_BYTES + 1), {})

    assert response.status_code == 413
    assert logged(store) == []


async def test_a_lying_content_length_does_not_get_a_big_body_in(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    headers = {**signed(body), "Content-Length": "100"}

    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)

    assert response.status_code == 413
    assert logged(store) == []


@pytest.mark.parametrize("declared", [None, "not-a-number", "1" * 5000])
async def test_an_oversized_body_is_read_to_its_end_before_the_413(
    client: httpx.AsyncClient, store: Store, declared: str | None
) -> None:
    # A client that sends all of its body before reading gets to read the answer.
    chunk = b" " * 65536
    sent = 0

    async def oversized() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(4 * MAX_WEBHOOK_BYTES // len(chunk)):
            sent += len(chunk)
            yield chunk

    headers = {} if declared is None else {"Content-Length": declared}

    response = await client.post(WEBHOOK_PATH, content=oversized(), headers=headers)

    assert response.status_code == 413
    assert sent == 4 * MAX_WEBHOOK_BYTES
    assert logged(store) == []


async def test_a_streamed_body_is_cut_off_past_the_drain_bound(
    client: httpx.AsyncClient, store: Store
) -> None:
    chunk = b" " * (1024 * 1024)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 4 * DRAIN_BYTES:
            sent += len(chunk)
            yield chunk

    response = await client.post(WEBHOOK_PATH, content=endless())

    assert response.status_code == 413
    assert sent <= DRAIN_BYTES + len(chunk)
    assert logged(store) == []


async def test_a_body_declared_past_the_drain_bound_is_refused_unread(
    client: httpx.AsyncClient, store: Store
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        sent += 1
        yield b" "

    headers = {"Content-Length": str(DRAIN_BYTES + 1)}
    response = await client.post(WEBHOOK_PATH, content=body(), headers=headers)

    assert response.status_code == 413
    assert sent == 0


# refused after the signature: nothing queued, the refusal recorded


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"event": "customer/updated", "customer": {"Id": 1}', "not valid JSON"),
        (b'{"event": "customer/updated", "customer": {"Id": NaN}}', "NaN is not a JSON value"),
        (b'{"event": "customer/updated", "customer": {"Id": Infinity}}', "Infinity"),
        (b'{"event": "customer/updated", "customer": {"Id": "\xff"}}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
async def test_malformed_json_is_refused_and_recorded(
    post: Post, store: Store, wakes: list[int], body: bytes, fragment: str
) -> None:
    response = await post(body)

    assert response.status_code == 400
    assert error(response)["code"] == "invalid_json"
    assert fragment in error(response)["message"]
    assert queued(store) == []
    assert logged(store) == [Event(1, "unknown", None, "rejected", error(response)["message"])]
    assert wakes == []


@pytest.mark.parametrize(
    ("data", "code", "message", "recorded_event", "recorded_id"),
    [
        (
            [1, 2],
            "invalid_event",
            "the body must be a JSON object with event and customer, got a list",
            "unknown",
            None,
        ),
        (
            {"customer": {"Id": 1}},
            "invalid_event",
            "missing event: expected one of customer/created, customer/updated, customer/deleted",
            "unknown",
            None,
        ),
        (
            {"event": "customer/merged", "customer": {"Id": 1}},
            "invalid_event",
            "unknown event 'customer/merged': expected one of customer/created, "
            "customer/updated, customer/deleted",
            "customer/merged",
            None,
        ),
        (
            {"event": 7, "customer": {"Id": 1}},
            "invalid_event",
            "unknown event 7: expected one of customer/created, customer/updated, customer/deleted",
            "unknown",
            None,
        ),
        (
            {"event": "customer/updated"},
            "invalid_customer",
            "missing customer: send it as a JSON object",
            "customer/updated",
            None,
        ),
        (
            {"event": "customer/updated", "customer": [{"Id": 1}]},
            "invalid_customer",
            "customer: a customer must be an object, got a list",
            "customer/updated",
            None,
        ),
        (
            {"event": "customer/updated", "customer": "55260"},
            "invalid_customer",
            "customer: a customer must be an object, got a string",
            "customer/updated",
            None,
        ),
        (
            {"event": "customer/created", "customer": {"EmailAddress": "a@example.com"}},
            "invalid_customer",
            "customer: missing Id",
            "customer/created",
            None,
        ),
        (
            {"event": "customer/created", "customer": {"Id": "  "}},
            "invalid_customer",
            "customer: Id is empty",
            "customer/created",
            None,
        ),
        (
            {"event": "customer/created", "customer": {"Id": [1]}},
            "invalid_customer",
            "customer: Id must be a string or a whole number, got a list",
            "customer/created",
            None,
        ),
        (
            {"event": "customer/created", "customer": {"Id": True}},
            "invalid_customer",
            "customer: Id must be a string or a whole number, got a boolean",
            "customer/created",
            None,
        ),
        (
            {"event": "customer/updated", "customer": {"Id": 9, "Addresses": {"City": "Oslo"}}},
            "invalid_customer",
            "customer: Addresses must be a list, got an object",
            "customer/updated",
            "9",
        ),
        (
            {"event": "customer/updated", "customer": {"Id": 9, "Addresses": ["Oslo"]}},
            "invalid_customer",
            "customer: Addresses[0] must be an object, got a string",
            "customer/updated",
            "9",
        ),
        (
            {
                "event": "customer/updated",
                "customer": {"Id": 9, "Addresses": [{"IsPrimaryBilling": "maybe"}]},
            },
            "invalid_customer",
            "customer: Addresses[0].IsPrimaryBilling must be true or false, got 'maybe'",
            "customer/updated",
            "9",
        ),
        (
            {"event": "customer/updated", "customer": {"Id": 9, "EmailAddress": ["a@b.c"]}},
            "invalid_customer",
            "customer: EmailAddress must be text, got a list",
            "customer/updated",
            "9",
        ),
        (
            {"event": "customer/deleted", "customer": {"CustomFields": []}},
            "invalid_customer",
            "customer: missing Id",
            "customer/deleted",
            None,
        ),
    ],
)
async def test_a_wrong_shape_is_refused_with_the_reason_and_recorded(
    post: Post,
    store: Store,
    wakes: list[int],
    data: Any,
    code: str,
    message: str,
    recorded_event: str,
    recorded_id: str | None,
) -> None:
    response = await post(json.dumps(data).encode())

    assert response.status_code == 422
    assert error(response) == {"code": code, "message": message}
    assert queued(store) == []
    assert logged(store) == [Event(1, recorded_event, recorded_id, "rejected", message)]
    assert wakes == []


async def test_a_customer_is_refused_for_the_reason_the_engine_would_give(post: Post) -> None:
    from klaviyo_sync.customer import Customer
    from klaviyo_sync.exceptions import InvalidRecordError

    record = {"Id": 3, "CustomFields": ["SubscribeProfile"]}
    with pytest.raises(InvalidRecordError) as engine:
        Customer.from_record(record, where="customer")

    response = await post(event_body(record=record))

    assert error(response)["message"] == str(engine.value)


async def test_a_very_long_unknown_event_name_is_cut_short(post: Post, store: Store) -> None:
    name = "customer/" + "x" * 10_000

    response = await post(json.dumps({"event": name, "customer": {"Id": 1}}).encode())

    assert response.status_code == 422
    assert len(error(response)["message"]) < 300
    assert logged(store)[0].event == name[:100]


# the store


async def send(make_client: Callable[..., httpx.AsyncClient], spy: SpyStore, body: bytes) -> Any:
    async with make_client(store=spy) as client:
        return await client.post(WEBHOOK_PATH, content=body, headers=signed(body))


async def test_a_store_that_cannot_queue_answers_503_so_the_sender_retries(
    make_client: Callable[..., httpx.AsyncClient],
    spy: SpyStore,
    store: Store,
    wakes: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    spy.fail_enqueue = True

    response = await send(make_client, spy, event_body())

    assert response.status_code == 503
    assert error(response) == {
        "code": "store_unavailable",
        "message": "the event could not be stored; send it again later",
    }
    assert "spy.db" not in response.text
    assert "cannot write the queue" in caplog.text
    assert queued(store) == []
    assert logged(store) == []
    assert wakes == []


async def test_a_store_that_cannot_record_answers_503(
    make_client: Callable[..., httpx.AsyncClient], spy: SpyStore, store: Store, wakes: list[int]
) -> None:
    spy.fail_record = True
    body = event_body()
    headers = signed(body)

    async with make_client(store=spy) as client:
        response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
        spy.fail_record = False
        retried = await client.post(WEBHOOK_PATH, content=body, headers=headers)

    assert response.status_code == 503
    assert error(response)["code"] == "store_unavailable"
    # Queued with its id before the failure: the sender's retry is that event's duplicate.
    assert retried.status_code == 202
    assert retried.json()["status"] == "duplicate"
    assert len(queued(store)) == 1
    assert [e.status for e in logged(store)] == ["duplicate"]
    assert wakes == []


async def test_a_refusal_stands_when_the_store_cannot_record_it(
    make_client: Callable[..., httpx.AsyncClient],
    spy: SpyStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spy.fail_record = True

    response = await send(make_client, spy, b"{not json")

    assert response.status_code == 400
    assert error(response)["code"] == "invalid_json"
    assert "could not be recorded" in caplog.text


# waking the worker


async def test_a_failing_wake_up_does_not_undo_the_queued_event(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the worker is not listening")

    app = create_app(settings(), store, on_enqueued=broken)
    body = event_body()
    async with client_for(app) as client:
        response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert len(queued(store)) == 1
    assert "waking the worker" in caplog.text


async def test_without_a_wake_up_callback_events_still_queue(store: Store) -> None:
    body = event_body()
    async with client_for(create_app(settings(), store)) as client:
        response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))

    assert response.status_code == 202
    assert len(queued(store)) == 1


# secrets


async def test_the_secret_and_signatures_never_reach_responses_or_logs(
    make_client: Callable[..., httpx.AsyncClient],
    spy: SpyStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good = event_body()
    bad_json = b"{oops"
    stale = signed(good, timestamp=1_700_000_000)
    replay = signed(good)
    requests = [
        (good, signed(good)),
        (bad_json, signed(bad_json)),
        (event_body("customer/merged"), signed(event_body("customer/merged"))),
        (good, signed(good, OTHER_SECRET)),
        (good, stale),
        (good, replay),
        (good, replay),
        (good, {**signed(good), SIGNATURE_HEADER: "v1,zz"}),
        (good, {LEGACY_SIGNATURE_HEADER: "sha256=" + "0" * 64}),
        (good, {}),
    ]
    signatures = [h[SIGNATURE_HEADER] for _, h in requests if SIGNATURE_HEADER in h]
    signatures = [s.removeprefix("v1,") for s in signatures if len(s) > 40]
    texts: list[str] = []
    async with make_client(store=spy) as client:
        for body, headers in requests:
            texts.append((await client.post(WEBHOOK_PATH, content=body, headers=headers)).text)
        spy.fail_record = True
        texts.append((await client.post(WEBHOOK_PATH, content=good, headers=signed(good))).text)
    async with make_client(triggers="") as client:
        texts.append((await client.post(WEBHOOK_PATH, content=good, headers=signed(good))).text)

    assert caplog.records, "the receiver logs what it does"
    assert "duplicate" in caplog.text
    assert "timestamp_too_old" in caplog.text
    everything = "\n".join([*texts, caplog.text, *(repr(r.__dict__) for r in caplog.records)])
    assert SECRET not in everything
    assert SECRET.removeprefix("whsec_") not in everything
    for signature in signatures:
        assert signature not in everything
