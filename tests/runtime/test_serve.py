"""`klaviyo-sync serve` as a real process: a signed event in, a profile out, within seconds; and
the one line `serve` and `worker` print when they start (never a secret)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from klaviyo_sandbox import SandboxConfig, running_sandbox
from sqlalchemy.engine import make_url

from klaviyo_sync.config import Settings
from klaviyo_sync.runtime import service, shown_store
from klaviyo_sync.store import Store
from klaviyo_sync.web import signed_headers
from tests.postgres import fresh_postgres
from tests.serving import free_port, healthy, wait_for

KEY = "pk_serve0000000000"
SECRET = "whsec_c2VydmUtdGVzdHMtd2ViaG9vay1rZXktMDEyMzQ1"


@pytest.mark.slow  # a serve process
def test_serve_receives_a_signed_event_and_its_worker_transfers_it(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    port = free_port()
    with running_sandbox(SandboxConfig(api_key=KEY, rate_limits=False)) as sandbox:
        sandbox.sandbox.create_list("Sms Subscribers", "double_opt_in")
        sandbox.sandbox.create_list("Preview List", "single_opt_in")
        env = {
            **os.environ,
            "KLAVIYO_API_KEY": KEY,
            "KLAVIYO_BASE_URL": sandbox.base_url,
            "KLAVIYO_SYNC_STORE": store_url,
            "KLAVIYO_SYNC_WEBHOOK_SECRET": SECRET,
            "KLAVIYO_SYNC_TRIGGERS": "created,updated",
        }
        log = (tmp_path / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "klaviyo_sync", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: healthy(base), "serve to start")
            body = json.dumps(
                {
                    "event": "customer/created",
                    "customer": {"Id": 55260, "EmailAddress": "ada@example.com"},
                }
            ).encode()
            headers = signed_headers(SECRET, body)
            answer = httpx.post(f"{base}/hooks/customers", content=body, headers=headers)
            assert answer.status_code == 202
            assert answer.json()["status"] == "queued"
            started = time.monotonic()
            wait_for(lambda: len(sandbox.sandbox.profiles) == 1, "the profile to arrive")
            assert time.monotonic() - started < 5, "the in-process worker was woken at once"
            deleted = json.dumps({"event": "customer/deleted", "customer": {"Id": 55260}}).encode()
            answer = httpx.post(
                f"{base}/hooks/customers",
                content=deleted,
                headers=signed_headers(SECRET, deleted),
            )
            assert answer.json()["status"] == "ignored"
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
            log.close()
        [profile] = sandbox.sandbox.profiles.values()
        assert profile.external_id == "55260"
    with Store.open(store_url) as store:
        assert [e.status for e in store.list_events()] == ["ignored", "queued"]
        assert store.queue_depth() == 0
        assert [w.state for w in store.list_workers()] == ["stopped"]
    text = (tmp_path / "serve.log").read_text()
    assert SECRET.removeprefix("whsec_") not in text
    assert KEY not in text


@pytest.mark.slow  # serve processes
def test_serve_refuses_to_start_with_a_secret_that_is_not_whsec(tmp_path: Path) -> None:
    old_style = "webhook-secret-of-the-body-only-scheme"
    env = {
        **os.environ,
        "KLAVIYO_SYNC_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "KLAVIYO_SYNC_WEBHOOK_SECRET": old_style,
    }

    done = subprocess.run(
        [sys.executable, "-m", "klaviyo_sync", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, "a usage error, as a dashboard token too short"
    assert "KLAVIYO_SYNC_WEBHOOK_SECRET is not a Standard Webhooks secret" in done.stderr
    assert "base64.b64encode(secrets.token_bytes(32))" in done.stderr
    assert old_style not in done.stdout + done.stderr
    assert not (tmp_path / "store.db").exists(), "nothing started"


# the start-up line


def started(log: Path, what: str) -> list[str]:
    """The lines of ``log`` that are ``klaviyo-sync <what>``'s start-up line."""
    return [
        line for line in log.read_text().splitlines() if line.startswith(f"klaviyo-sync {what}:")
    ]


@pytest.mark.slow  # a serve process
def test_serve_says_once_where_it_listens_what_is_on_and_which_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    port = free_port()
    token = "serve-tests-dashboard-token-0123456789"
    log_path = tmp_path / "serve.log"
    with running_sandbox(SandboxConfig(api_key=KEY, rate_limits=False)) as sandbox:
        env = {
            **os.environ,
            "KLAVIYO_API_KEY": KEY,
            "KLAVIYO_BASE_URL": sandbox.base_url,
            "KLAVIYO_SYNC_STORE": store_url,
            "KLAVIYO_SYNC_WEBHOOK_SECRET": SECRET,
            "KLAVIYO_SYNC_TRIGGERS": "updated,created",
            "KLAVIYO_SYNC_DASHBOARD_TOKEN": token,
        }
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "klaviyo_sync", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), "serve to start")
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(20)
    text = log_path.read_text()

    [line] = started(log_path, "serve")
    assert line == (
        f"klaviyo-sync serve: listening on http://127.0.0.1:{port}; "
        f"dashboard http://127.0.0.1:{port}/; triggers created, updated; "
        f"in-process worker on; store {store_url}"
    )
    assert text.index(line) < text.index("Uvicorn running on"), "said before serving"
    for secret in (KEY, SECRET, SECRET.removeprefix("whsec_"), token):
        assert secret not in text


@pytest.mark.slow  # a serve process
@pytest.mark.postgres
def test_serve_masks_the_store_password_and_says_what_is_off(tmp_path: Path) -> None:
    password = "hunter2-never-printed"
    # The test server trusts local connections: a password in the URL is sent, not checked.
    store_url = make_url(fresh_postgres()).set(password=password)
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_",))},
        "KLAVIYO_SYNC_STORE": store_url.render_as_string(hide_password=False),
    }
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "klaviyo_sync", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), "serve to start")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)

    [line] = started(log_path, "serve")
    masked = store_url.render_as_string(hide_password=True)
    assert ":***@" in masked
    assert line.endswith(f"; store {masked}")
    assert "dashboard closed (KLAVIYO_SYNC_DASHBOARD_TOKEN is not set)" in line
    assert "triggers none; webhooks refused (KLAVIYO_SYNC_WEBHOOK_SECRET is not set)" in line
    assert "in-process worker off (--no-worker: separate workers send)" in line
    assert password not in log_path.read_text()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////var/lib/klaviyo-sync/store.db", "sqlite:////var/lib/klaviyo-sync/store.db"),
        (
            "postgresql+psycopg://klaviyo_sync:s3cr3t@db.internal/klaviyo_sync",
            "postgresql+psycopg://klaviyo_sync:***@db.internal/klaviyo_sync",
        ),
        (
            "postgresql+psycopg://klaviyo_sync@db.internal/k?password=s3cr3t&sslmode=require",
            "postgresql+psycopg://klaviyo_sync@db.internal/k?password=***&sslmode=require",
        ),
        ("s3cr3t not a URL", "(a URL that could not be read)"),
    ],
)
def test_the_store_is_shown_without_its_password(url: str, shown: str) -> None:
    assert shown_store(url) == shown


def test_serve_announces_itself_in_process_before_uvicorn_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, int]] = []

    def run(app: FastAPI, *, host: str, port: int, **_: object) -> None:
        calls.append((host, port))
        assert "klaviyo-sync serve: listening on http://[::]:8080 (every address)" in (
            capsys.readouterr().err
        ), "the line is out before serving starts"

        async def start_and_stop() -> None:  # as uvicorn would: the lifespan closes the store
            async with app.router.lifespan_context(app):
                pass

        asyncio.run(start_and_stop())

    monkeypatch.setattr(service.uvicorn, "run", run)
    settings = Settings.model_validate(
        {
            "KLAVIYO_SYNC_STORE": f"sqlite:///{tmp_path / 'store.db'}",
            "KLAVIYO_SYNC_WEBHOOK_SECRET": SECRET,
            "KLAVIYO_SYNC_DASHBOARD_TOKEN": "serve-tests-dashboard-token-0123456789",
        }
    )

    service.serve(settings, host="::", port=8080, worker=True)

    assert calls == [("::", 8080)]
    line = service.serve_banner(settings, host="::", port=8080, worker=True)
    assert "dashboard http://[::1]:8080/" in line
    assert "triggers none: events are recorded and ignored" in line
    assert "in-process worker off (KLAVIYO_API_KEY is not set: events wait in the queue)" in line


@pytest.mark.slow  # worker processes
def test_worker_says_once_how_many_processes_and_which_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    log_path = tmp_path / "worker.log"
    with running_sandbox(SandboxConfig(api_key=KEY, rate_limits=False)) as sandbox:
        env = {
            **os.environ,
            "KLAVIYO_API_KEY": KEY,
            "KLAVIYO_BASE_URL": sandbox.base_url,
            "KLAVIYO_SYNC_STORE": store_url,
        }
        with log_path.open("wb") as log:
            workers = subprocess.Popen(
                [sys.executable, "-m", "klaviyo_sync", "worker", "--processes", "2"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:

                def both_running() -> bool:
                    if not (tmp_path / "store.db").exists():
                        return False
                    with Store.open(store_url) as store:
                        return [w.state for w in store.list_workers()] == ["running"] * 2

                wait_for(both_running, "two worker processes to report", timeout=60)
            finally:
                workers.send_signal(signal.SIGTERM)
                workers.wait(30)

    [line] = started(log_path, "worker")
    assert line == (
        "klaviyo-sync worker: 2 worker processes draining the queue (polling every 0.5 s); "
        f"store {store_url}"
    )
    assert KEY not in log_path.read_text()
