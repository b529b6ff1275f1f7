"""The app over real loopback HTTP under uvicorn, as ``klaviyo-sync serve`` will run it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from klaviyo_sync.store import Store
from klaviyo_sync.web import WEBHOOK_PATH, create_app
from klaviyo_sync.web._hooks import DRAIN_BYTES

from .conftest import customer, logged, queued, settings, signed


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` from a background thread on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="web", daemon=True
    )
    thread.start()
    started = threading.Event()
    try:
        while not server.started:
            assert thread.is_alive(), "the server stopped during start-up"
            started.wait(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_signed_event_over_loopback_is_queued_and_wakes_the_worker(store: Store) -> None:
    wakes: list[str] = []
    lifecycle: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lifecycle.append("worker started")
        yield
        lifecycle.append("worker stopped")

    app = create_app(
        settings(),
        store,
        on_enqueued=lambda: wakes.append(threading.current_thread().name),
        lifespan=lifespan,
    )
    body = json.dumps({"event": "customer/created", "customer": customer("L-1")}).encode()

    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        assert lifecycle == ["worker started"]
        assert client.get("/healthz").json() == {"status": "ok"}
        accepted = client.post(
            WEBHOOK_PATH,
            content=body,
            headers=signed(body),
        )
        refused = client.post(WEBHOOK_PATH, content=body)

    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"
    assert refused.status_code == 401
    assert queued(store) == [("L-1", customer("L-1"), "customer/created")]
    assert [e.status for e in logged(store)] == ["queued"]
    assert wakes == ["web"]  # called on the server's event loop thread, not a pool thread
    assert lifecycle == ["worker started", "worker stopped"]


def test_an_oversized_body_over_loopback_is_refused_with_413(store: Store) -> None:
    app = create_app(settings(), store)
    small = b'{"event": "customer/created"}'
    big = b" " * (2 * 1024 * 1024)

    def chunked() -> Iterator[bytes]:
        yield big

    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        declared = client.post(WEBHOOK_PATH, content=big)
        streamed = client.post(WEBHOOK_PATH, content=chunked())
        after = client.post(WEBHOOK_PATH, content=small, headers=signed(small))

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "body_too_large"
    assert after.status_code == 422  # the server is still serving
    assert queued(store) == []


SIX_MB = 6 * 1024 * 1024


def _request(url: str, data: bytes | Iterator[bytes], **headers: str) -> urllib.request.Request:
    # urllib sends an iterable without a length with Transfer-Encoding: chunked.
    return urllib.request.Request(url, data=data, headers=headers, method="POST")


def _status(request: urllib.request.Request) -> int:
    """The status a plain standard-library sender gets to read."""
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code


def _pieces(size: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(-(-size // piece)):
        yield b" " * piece


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_plain_client_sending_6_mb_reads_the_413(store: Store, framing: str) -> None:
    # Answered before its body was read, urllib met a reset connection, not the 413.
    app = create_app(settings(), store)
    data = b" " * SIX_MB if framing == "content-length" else _pieces(SIX_MB)
    small = b'{"event": "customer/created", "customer": {"Id": 1}}'

    with serving(app) as base_url:
        url = f"{base_url}{WEBHOOK_PATH}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(_request(url, data, **{"Content-Type": "application/json"}))
        with refused.value:
            answer = json.loads(refused.value.read())
        after = _status(_request(url, small, **signed(small)))

    assert refused.value.code == 413
    assert answer["error"]["code"] == "body_too_large"
    assert after == 202, "the server goes on serving"
    assert len(queued(store)) == 1


def test_a_body_declared_past_the_drain_bound_is_refused_and_the_server_goes_on(
    store: Store,
) -> None:
    app = create_app(settings(), store)
    declared = DRAIN_BYTES + 1

    with serving(app) as base_url:
        request = _request(f"{base_url}{WEBHOOK_PATH}", _pieces(declared))
        request.add_header("Content-Length", str(declared))
        try:
            status: int | None = _status(request)
        except (ConnectionError, urllib.error.URLError):
            status = None  # allowed past the bound: the server need not read all that
        health = httpx.get(f"{base_url}/healthz", timeout=5)

    assert status in (413, None)
    assert health.status_code == 200
