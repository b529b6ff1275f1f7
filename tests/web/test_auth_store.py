"""What the dashboard's gate keeps in the store, and the attacks it holds off: a signed-out
cookie copied before sign-out stays refused after a restart and by a second ``serve`` on the
same store; wrong tokens from one address get 429 with Retry-After after a few, in every
process, while other addresses sign in; and a short token never starts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from klaviyo_sync.config import Settings
from klaviyo_sync.exceptions import ConfigError
from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app
from klaviyo_sync.web._auth import SESSION_COOKIE
from klaviyo_sync.web._throttle import FREE_FAILURES, MAX_DELAY_SECONDS, delay_after
from tests.serving import free_port

from .dashboard import BACKENDS, TOKEN, Clock, Dashboard, open_dashboard, store_url

ATTACKER = "198.51.100.7"
SOMEONE_ELSE = "203.0.113.20"
GOOD_TOKEN_MAKER = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several apps open at once: a SQLite file, or PostgreSQL."""
    return store_url(request.param, tmp_path)


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://web")


async def sign_out(dashboard: Dashboard, csrf: str) -> None:
    answer = await dashboard.client.post("/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303


async def opens_with(dashboard: Dashboard, cookie: str) -> bool:
    """Whether ``cookie`` opens the Overview and the API of this app."""
    async with client_from(dashboard.app, SOMEONE_ELSE) as browser:
        browser.cookies.set(SESSION_COOKIE, cookie)
        page = await browser.get("/")
        api = await browser.get("/api/overview")
    assert (page.status_code == 200) == (api.status_code == 200), (page, api)
    return page.status_code == 200


# signing out holds across restarts and processes


async def test_a_signed_out_cookie_stays_refused_after_a_restart(tmp_path: Path, url: str) -> None:
    async with open_dashboard(tmp_path, url) as before:
        csrf = await before.sign_in()
        copied = before.client.cookies[SESSION_COOKIE]
        async with client_from(before.app, SOMEONE_ELSE) as colleague:
            await colleague.post("/login", data={"token": TOKEN})
            kept = colleague.cookies[SESSION_COOKIE]
        await sign_out(before, csrf)

    # The restart: a new app and a new Store object on the same database.
    async with open_dashboard(tmp_path, url) as after:
        assert not await opens_with(after, copied)
        assert await opens_with(after, kept), "a session not signed out survives the restart"


async def test_signing_out_in_one_process_holds_in_another(tmp_path: Path, url: str) -> None:
    async with (
        open_dashboard(tmp_path / "one", url) as one,
        open_dashboard(tmp_path / "two", url) as two,
    ):
        csrf = await one.sign_in()
        copied = one.client.cookies[SESSION_COOKIE]
        assert await opens_with(two, copied), "one token, so one session for both processes"

        await sign_out(one, csrf)

        assert not await opens_with(two, copied)
        assert not await opens_with(one, copied)


async def test_a_new_token_signs_everyone_out_across_a_restart(tmp_path: Path, url: str) -> None:
    async with open_dashboard(tmp_path, url) as before:
        await before.sign_in()
        copied = before.client.cookies[SESSION_COOKIE]

    async with open_dashboard(tmp_path, url, token=TOKEN + "-rotated") as rotated:
        assert not await opens_with(rotated, copied)
    async with open_dashboard(tmp_path, url) as restored:
        assert await opens_with(restored, copied), "the restart alone signs no one out"


# wrong tokens slow their address down


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, 0),
        (FREE_FAILURES - 1, 0),
        (FREE_FAILURES, 1),
        (FREE_FAILURES + 1, 2),
        (FREE_FAILURES + 2, 4),
        (FREE_FAILURES + 8, 256),
        (FREE_FAILURES + 9, MAX_DELAY_SECONDS),
        (10**9, MAX_DELAY_SECONDS),
    ],
)
def test_the_wait_doubles_after_the_free_failures_up_to_five_minutes(
    failures: int, seconds: int
) -> None:
    assert delay_after(failures) == seconds
    assert MAX_DELAY_SECONDS == 300


async def wrong_tokens(client: httpx.AsyncClient, count: int) -> list[int]:
    return [
        (await client.post("/login", data={"token": f"guess-{n}-" + "x" * 40})).status_code
        for n in range(count)
    ]


async def test_wrong_tokens_from_one_address_get_429_while_another_address_signs_in(
    tmp_path: Path, url: str
) -> None:
    clock = Clock()
    async with (
        open_dashboard(tmp_path, url, clock=clock) as dashboard,
        client_from(dashboard.app, ATTACKER) as attacker,
        client_from(dashboard.app, SOMEONE_ELSE) as someone_else,
    ):
        assert await wrong_tokens(attacker, FREE_FAILURES) == [401] * FREE_FAILURES

        refused = await attacker.post("/login", data={"token": TOKEN})
        assert refused.status_code == 429, "not even the right token is looked at now"
        assert refused.headers["retry-after"] == "1"
        assert "Too many wrong tokens from your address: try again in 1 s." in refused.text
        assert "set-cookie" not in refused.headers
        assert (await someone_else.post("/login", data={"token": TOKEN})).status_code == 303

        clock.advance(1)
        assert await wrong_tokens(attacker, 1) == [401]
        clock.advance(1.5)
        again = await attacker.post("/login", data={"token": TOKEN})
        assert (again.status_code, again.headers["retry-after"]) == (429, "1")  # 2 s, 1.5 gone

        clock.advance(0.5)
        assert (await attacker.post("/login", data={"token": TOKEN})).status_code == 303
        attacker.cookies.clear()
        assert await wrong_tokens(attacker, FREE_FAILURES) == [401] * FREE_FAILURES, (
            "a right token clears the count"
        )


async def test_the_wait_is_shared_by_every_process_on_the_store(tmp_path: Path, url: str) -> None:
    clock = Clock()
    async with (
        open_dashboard(tmp_path / "one", url, clock=clock) as one,
        open_dashboard(tmp_path / "two", url, clock=clock) as two,
        client_from(one.app, ATTACKER) as at_one,
        client_from(two.app, ATTACKER) as at_two,
    ):
        assert await wrong_tokens(at_one, FREE_FAILURES) == [401] * FREE_FAILURES

        answer = await at_two.post("/login", data={"token": TOKEN})

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"


async def test_a_burst_of_parallel_guesses_gets_only_the_free_ones_checked(
    tmp_path: Path, url: str
) -> None:
    clock = Clock()
    async with (
        open_dashboard(tmp_path, url, clock=clock) as dashboard,
        client_from(dashboard.app, ATTACKER) as attacker,
    ):
        guesses = [
            attacker.post("/login", data={"token": f"parallel-{n}-" + "x" * 40})
            for n in range(4 * FREE_FAILURES)
        ]
        answers = await asyncio.gather(*guesses)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * FREE_FAILURES + [429] * (3 * FREE_FAILURES)


async def test_wrong_bearer_tokens_count_too_and_get_429_in_the_envelope(
    tmp_path: Path, url: str
) -> None:
    clock = Clock()
    async with (
        open_dashboard(tmp_path, url, clock=clock) as dashboard,
        client_from(dashboard.app, ATTACKER) as attacker,
        client_from(dashboard.app, SOMEONE_ELSE) as someone_else,
    ):
        for n in range(FREE_FAILURES):
            wrong = {"Authorization": f"Bearer guess-{n}"}
            assert (await attacker.get("/api/overview", headers=wrong)).status_code == 401

        refused = await attacker.get("/api/overview", headers=dashboard.bearer)
        page = await attacker.post("/login", data={"token": TOKEN})
        other = await someone_else.get("/api/overview", headers=dashboard.bearer)

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == {
        "code": "too_many_attempts",
        "message": "too many wrong tokens from your address: try again in 1 s",
    }
    assert page.status_code == 429, "the form and the API share one count"
    assert other.status_code == 200


class ThreadSpy:
    """A store that notes the thread each sign-in and session call runs in."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.threads: list[int] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in {"session_revoked", "revoke_session", "login_failures", "login_failed"}:
            return found

        def noted(*args: Any, **kwargs: Any) -> Any:
            self.threads.append(threading.get_ident())
            return found(*args, **kwargs)

        return noted


async def test_the_gate_asks_the_store_off_the_event_loop(store: Store) -> None:
    spy = ThreadSpy(store)
    settings = Settings.model_validate({"KLAVIYO_SYNC_DASHBOARD_TOKEN": TOKEN})
    app = create_app(settings, cast(Store, spy))
    async with client_from(app, ATTACKER) as browser:
        await browser.post("/login", data={"token": "wrong-" + "x" * 40})
        await browser.post("/login", data={"token": TOKEN})
        await browser.get("/api/overview")

    assert len(spy.threads) >= 4
    assert threading.get_ident() not in spy.threads


# the token's length


@pytest.mark.parametrize(("length", "refused"), [(8, True), (31, True), (32, False), (64, False)])
def test_a_dashboard_token_shorter_than_32_characters_is_refused(
    store: Store, length: int, refused: bool
) -> None:
    token = ("zq9-" * 16)[:length]
    settings = Settings.model_validate({"KLAVIYO_SYNC_DASHBOARD_TOKEN": token})

    problem = settings.dashboard_token_problem()

    assert (problem is not None) == refused
    if problem is not None:
        assert GOOD_TOKEN_MAKER in problem
        assert token not in problem
        with pytest.raises(ConfigError) as raised:
            create_app(settings, store)
        assert token not in str(raised.value)


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_is_no_problem_the_dashboard_stays_closed(token: str | None) -> None:
    settings = Settings.model_validate({"KLAVIYO_SYNC_DASHBOARD_TOKEN": token})

    assert settings.dashboard_token_problem() is None


def test_serve_refuses_a_short_token_with_status_2_and_says_how_to_make_one(
    tmp_path: Path,
) -> None:
    token = "short-but-secret-0123456789"  # 27 characters
    store = tmp_path / "store.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")},
        "KLAVIYO_SYNC_DASHBOARD_TOKEN": token,
        "KLAVIYO_SYNC_STORE": f"sqlite:///{store}",
    }

    done = subprocess.run(
        [sys.executable, "-m", "klaviyo_sync", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "KLAVIYO_SYNC_DASHBOARD_TOKEN is shorter than 32 characters" in done.stderr
    assert GOOD_TOKEN_MAKER in done.stderr
    assert token not in done.stdout + done.stderr
    assert not store.exists(), "nothing started"
