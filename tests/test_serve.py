"""`klaviyo-sync serve` as a real process: a signed event in, a profile out, within seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from klaviyo_sync.sandbox import SandboxConfig, running_sandbox
from klaviyo_sync.store import Store
from klaviyo_sync.web import signed_headers
from tests.serving import free_port, healthy, wait_for

KEY = "pk_serve0000000000"
SECRET = "whsec_c2VydmUtdGVzdHMtd2ViaG9vay1rZXktMDEyMzQ1"


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
