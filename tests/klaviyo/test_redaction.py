"""The API key never shows up in a log line, an exception or a repr.

These tests talk HTTP to a throwaway server on 127.0.0.1 so that httpx's and httpcore's own
debug logging runs for real. The server plays a badly behaved proxy that echoes the
Authorization header back in its error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from klaviyo_sync.config import Settings
from klaviyo_sync.exceptions import (
    KlaviyoAPIError,
    KlaviyoAuthError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
)
from klaviyo_sync.klaviyo import KlaviyoClient, RateLimiter, RetryPolicy, no_jitter

from .fakes import FakeClock, profile

KEY = "pk_REDACTME7f3a9c1e5b2d8f4a6c0e"
POLICY = RetryPolicy(max_attempts=3, jitter=no_jitter)

Responder = Callable[[str], tuple[int, bytes]]


@dataclass
class Loopback:
    port: int
    authorizations: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def http_response(status: int, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/vnd.api+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@contextlib.asynccontextmanager
async def serve(respond: Responder) -> AsyncIterator[Loopback]:
    state = Loopback(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        headers = {k.lower(): v for k, v in headers.items()}
        if length := int(headers.get("content-length", "0")):
            await reader.readexactly(length)
        state.authorizations.append(headers.get("authorization", ""))
        status, body = respond(headers.get("authorization", ""))
        writer.write(http_response(status, body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


def echoing_error(status: int) -> Responder:
    def respond(authorization: str) -> tuple[int, bytes]:
        item = {
            "id": "e1",
            "code": "not_authenticated" if status == 401 else "error",
            "title": f"Rejected {authorization}",
            "detail": f"Header was {authorization!r}",
            "source": {"pointer": authorization},
            "meta": {"echo": [authorization]},
        }
        return status, json.dumps({"errors": [item]}).encode()

    return respond


def found(_authorization: str) -> tuple[int, bytes]:
    return 200, json.dumps({"data": profile("01A"), "links": {"self": "x"}}).encode()


@pytest.fixture(autouse=True)
def debug_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def assert_no_key(caplog: pytest.LogCaptureFixture, *things: object) -> None:
    assert caplog.records, "expected httpx/httpcore debug logging to be captured"
    for record in caplog.records:
        assert KEY not in record.getMessage(), record.name
        assert KEY not in repr(record.args), record.name
    assert KEY not in caplog.text
    for thing in things:
        assert KEY not in str(thing)
        assert KEY not in repr(thing)


def assert_error_clean(err: KlaviyoAPIError) -> None:
    fields = (err.args, err.code, err.title, err.detail, err.pointer, err.parameter, err.body)
    assert KEY not in repr(fields)
    assert err.__cause__ is None
    assert err.__context__ is None


def client_for(url: str, clock: FakeClock, **kw: object) -> KlaviyoClient:
    return KlaviyoClient(KEY, base_url=url, clock=clock, retry=POLICY, **kw)  # type: ignore[arg-type]


async def test_success_path(caplog: pytest.LogCaptureFixture) -> None:
    async with serve(found) as server:
        async with client_for(server.url, FakeClock()) as client:
            result = await client.get_profile("01A")
            assert_no_key(caplog, client, result)
        assert server.authorizations == [f"Klaviyo-API-Key {KEY}"]
    assert any(r.name.startswith("httpcore") for r in caplog.records)


async def test_error_path(caplog: pytest.LogCaptureFixture) -> None:
    async with serve(echoing_error(401)) as server:
        async with client_for(server.url, FakeClock()) as client:
            with pytest.raises(KlaviyoAuthError) as caught:
                await client.create_profile({"email": "a@x.com"})
        assert "[redacted]" in str(caught.value)
        assert caught.value.body["errors"][0]["meta"]["echo"] == ["Klaviyo-API-Key [redacted]"]
        assert_error_clean(caught.value)
        assert_no_key(caplog, caught.value)


async def test_retry_exhausted_path(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    async with serve(echoing_error(503)) as server:
        async with client_for(server.url, clock) as client:
            with pytest.raises(KlaviyoUnavailableError) as caught:
                await client.get_list("L1")
        assert len(server.authorizations) == 3
    assert len(clock.sleeps) == 2
    assert any(r.getMessage().startswith("retrying get_list") for r in caplog.records)
    assert_error_clean(caught.value)
    assert_no_key(caplog, caught.value)


async def test_transport_error_path(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with client_for(f"http://127.0.0.1:{port}", FakeClock()) as client:
        with pytest.raises(KlaviyoUnavailableError) as caught:
            await client.get_profile("01A")
    assert "ConnectError" in str(caught.value)
    assert_error_clean(caught.value)
    assert_no_key(caplog, caught.value)


async def test_timeout_path(caplog: pytest.LogCaptureFixture) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the connection open, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with server, client_for(url, FakeClock(), timeout=0.05) as client:
        with pytest.raises(KlaviyoTimeoutError) as caught:
            await client.get_profile("01A")
    assert_error_clean(caught.value)
    assert_no_key(caplog, caught.value)


async def test_reprs_hide_the_key() -> None:
    settings = Settings(KLAVIYO_API_KEY=SecretStr(KEY))
    async with KlaviyoClient.from_settings(settings) as client:
        for thing in (client, settings, settings.klaviyo_api_key, RateLimiter(), POLICY):
            assert KEY not in repr(thing)
            assert KEY not in str(thing)
        assert repr(client) == "KlaviyoClient(base_url='https://a.klaviyo.com')"
