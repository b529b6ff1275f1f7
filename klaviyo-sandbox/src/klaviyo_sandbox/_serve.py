"""Running the sandbox: blocking (the CLI), in a background thread (tests, the demo),
or in-process behind an httpx transport."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from ._app import create_app
from ._config import SandboxConfig
from ._faults import DroppedConnection
from ._sandbox import Sandbox

__all__ = ["RunningSandbox", "running_sandbox", "sandbox_transport", "serve"]

_START_TIMEOUT = 10.0


class _QuietDrops(logging.Filter):
    """A dropped connection is the fault working, not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def _quiet_drops() -> None:
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in error_log.filters):
        error_log.addFilter(_QuietDrops())


def serve(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (the ``klaviyo-sandbox`` command)."""
    _quiet_drops()
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


@dataclass(slots=True)
class RunningSandbox:
    base_url: str
    """``http://127.0.0.1:PORT``"""
    sandbox: Sandbox
    app: Starlette


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    app: Starlette | None = None,
) -> Iterator[RunningSandbox]:
    """Serve on real loopback from a background thread; port 0 picks a free one.

    Pass the ``app`` of an earlier run (and its port) to bring the same Klaviyo back after an
    outage: while no server listens, connections to the port are refused.
    """
    _quiet_drops()
    app = app if app is not None else create_app(config)
    # Bind first so the port is known (and taken) before the server thread starts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])),
        name=f"klaviyo-sandbox:{bound_port}",
        daemon=True,
    )
    thread.start()
    try:
        _wait_started(server, thread)
        yield RunningSandbox(f"http://{host}:{bound_port}", app.state.sandbox, app)
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    ready = threading.Event()
    for _ in range(int(_START_TIMEOUT / 0.01)):
        if server.started:
            return
        if not thread.is_alive():
            raise RuntimeError("the sandbox server stopped during start-up")
        ready.wait(0.01)
    raise RuntimeError("the sandbox server did not start in time")


class _SandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except DroppedConnection as err:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from err

    async def aclose(self) -> None:
        await self._inner.aclose()


def sandbox_transport(app: ASGIApp) -> httpx.AsyncBaseTransport:
    """In-process transport; a dropped connection surfaces as httpx.RemoteProtocolError."""
    return _SandboxTransport(app)
