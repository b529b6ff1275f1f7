"""Browser tests: the real `klaviyo-sync serve` process, a loopback sandbox, headless Chromium.

Playwright for Python drives Debian's ``chromium`` (never a browser Playwright downloads). When
the browser or Playwright is missing the tests skip with the reason on a developer's machine and
FAIL in CI (``CI`` set), as the PostgreSQL tests do, so a green CI run means they ran.
Screenshots go under each test's ``tmp_path`` and are copied to ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from klaviyo_sandbox import Behaviour, RunningSandbox, SandboxConfig, running_sandbox

from klaviyo_sync.web import signed_headers
from tests.serving import free_port, healthy, wait_for

REQUIRED = bool(os.environ.get("CI"))
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
KEY = "pk_browser000000000000"
SECRET = "whsec_YnJvd3Nlci10ZXN0cy13ZWJob29rLWtleS0wMTIz"
TOKEN = "browser-dashboard-token-0123456789-do-not-show"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def playwright_api() -> Any:
    """``playwright.sync_api``; at import time of a test module, skip it (or fail, in CI) when
    Playwright is not installed."""
    try:
        from playwright import sync_api
    except ImportError:
        message = "Playwright for Python is not installed (pip install playwright)"
        if REQUIRED:
            pytest.fail(f"{message}; CI must run the browser tests", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return sync_api


def chromium_problem() -> tuple[str | None, str | None]:
    """(the browser's path, None), or (None, why the browser tests cannot run)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "Playwright for Python is not installed (pip install playwright)"
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        return None, "Debian's chromium is not installed (apt-get install chromium)"
    return path, None


def require_chromium() -> str:
    path, problem = chromium_problem()
    if path is not None:
        return path
    if REQUIRED:
        pytest.fail(f"{problem}; CI must run the browser tests")
    pytest.skip(str(problem))


@dataclass
class Served:
    """`klaviyo-sync serve` running against a sandbox, with a customer file as its source."""

    base_url: str
    sandbox: RunningSandbox
    source: Path
    store_url: str
    log: Path
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set_customer(self, customer: dict[str, Any]) -> None:
        """Add or change a customer in the source file serve re-reads for syncs and retries."""
        self.customers[str(customer["Id"])] = customer
        text = "".join(json.dumps(c) + "\n" for c in self.customers.values())
        self.source.write_text(text)

    def post_event(self, event: str, customer: dict[str, Any]) -> httpx.Response:
        body = json.dumps({"event": event, "customer": customer}).encode()
        headers = signed_headers(SECRET, body)
        return httpx.post(f"{self.base_url}/hooks/customers", content=body, headers=headers)

    def api(self, path: str) -> Any:
        answer = httpx.get(
            f"{self.base_url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("served")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    source = tmp / "customers.jsonl"
    source.write_text("")
    port = free_port()
    # The failed transfer shown is the seed's: Klaviyo refusing the whole write for a phone, as
    # it did before its phone validation change (today it leaves the phone out: tests/engine).
    refusing = Behaviour(invalid_phone="refuse")
    config = SandboxConfig(api_key=KEY, rate_limits=False, behaviour=refusing)
    with running_sandbox(config) as sandbox:
        sandbox.sandbox.create_list("Sms Subscribers", "double_opt_in")
        sandbox.sandbox.create_list("Preview List", "single_opt_in")
        env = {
            **os.environ,
            "KLAVIYO_API_KEY": KEY,
            "KLAVIYO_BASE_URL": sandbox.base_url,
            "KLAVIYO_SYNC_STORE": store_url,
            "KLAVIYO_SYNC_WEBHOOK_SECRET": SECRET,
            "KLAVIYO_SYNC_TRIGGERS": "created,updated",
            "KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN,
            "KLAVIYO_SYNC_SOURCE": str(source),
        }
        log_path = tmp / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "klaviyo_sync", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for(lambda: healthy(base), "serve to start")
                yield Served(base, sandbox, source, store_url, log_path)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(20)
    text = log_path.read_text()
    assert TOKEN not in text, "the dashboard token reached the server's log"
    assert SECRET not in text
    assert KEY not in text


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Chromium context with a fresh profile, at desktop width."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot under the test's output directory and test-output/."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, SCREENSHOTS / path.name)
        return path

    return take
