"""Who may use the dashboard: the token, the session cookie, CSRF, and no token at all."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request

from klaviyo_sync.store import Store
from klaviyo_sync.web import create_app
from klaviyo_sync.web._auth import SESSION_COOKIE, SESSION_SECONDS, Gate

from .conftest import client_for, event_body, settings, signed
from .dashboard import TOKEN, Clock, Dashboard, csrf_of

# the Gate


def test_only_the_token_matches(store: Store) -> None:
    gate = Gate(SecretStr(TOKEN), store)

    assert gate.token_matches(TOKEN)
    assert not gate.token_matches(TOKEN[:-1])
    assert not gate.token_matches(TOKEN + " ")
    assert not gate.token_matches("")


@pytest.mark.parametrize("token", [None, SecretStr("")])
def test_without_a_token_nothing_matches_and_no_session_is_read(
    store: Store, token: SecretStr | None
) -> None:
    gate = Gate(token, store)
    other = Gate(SecretStr(""), store)

    assert not gate.configured
    assert not gate.token_matches("")
    assert gate.decode(other.encode(other.new_session())) is None


def test_a_session_survives_encoding_and_holds_no_token(store: Store) -> None:
    gate = Gate(SecretStr(TOKEN), store)
    session = gate.new_session()

    cookie = gate.encode(session)

    assert gate.decode(cookie) == session
    assert TOKEN not in cookie
    assert session.csrf not in gate.new_session().csrf


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: c.split(".")[0],  # signature dropped
        lambda c: "e30." + c.split(".")[1],  # payload swapped for {}
        lambda c: c + ".x",
        lambda c: "not base64!.also not",
    ],
)
def test_a_forged_session_is_refused(store: Store, tamper: object) -> None:
    gate = Gate(SecretStr(TOKEN), store)
    cookie = gate.encode(gate.new_session())

    assert callable(tamper)
    assert gate.decode(tamper(cookie)) is None


async def test_a_session_expires_and_a_revoked_one_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}", clock=clock) as store:
        gate = Gate(SecretStr(TOKEN), store, clock=clock)
        first, second = gate.new_session(), gate.new_session()

        await gate.revoke(first)
        clock.advance(SESSION_SECONDS - 1)
        assert await gate.session_of(request_with(gate.encode(first))) is None
        assert await gate.session_of(request_with(gate.encode(second))) == second
        clock.advance(1)
        assert gate.decode(gate.encode(second)) is None


def test_a_new_token_signs_everyone_out(store: Store) -> None:
    old, new = Gate(SecretStr(TOKEN), store), Gate(SecretStr(TOKEN + "-rotated"), store)

    assert new.decode(old.encode(old.new_session())) is None


def request_with(cookie: str, client: str = "203.0.113.9") -> Request:
    """A bare request carrying ``cookie``, from ``client``."""
    header = f"{SESSION_COOKIE}={cookie}".encode()
    return Request({"type": "http", "headers": [(b"cookie", header)], "client": (client, 4711)})


# no token configured: closed, never open


async def test_without_a_token_the_dashboard_and_api_answer_503_and_say_why(store: Store) -> None:
    app = create_app(settings(token=None), store)
    async with client_for(app) as client:
        page = await client.get("/")
        login = await client.post("/login", data={"token": ""})
        api = await client.get("/api/overview", headers={"Authorization": "Bearer "})
        health = await client.get("/healthz")
        body = event_body()
        hook = await client.post("/hooks/customers", content=body, headers=signed(body))

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "KLAVIYO_SYNC_DASHBOARD_TOKEN is not set" in page.text
    assert login.status_code == 503
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "dashboard_token_not_set"
    assert health.status_code == 200
    assert hook.status_code == 202, "the webhook keeps its own check"


async def test_the_webhook_keeps_its_signature_check_beside_the_dashboard(store: Store) -> None:
    app = create_app(settings(token=TOKEN), store)
    body = event_body()
    async with client_for(app) as client:
        with_token = await client.post(
            "/hooks/customers", content=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        signed_in = await client.post("/login", data={"token": TOKEN})
        with_session = await client.post("/hooks/customers", content=body)
        with_signature = await client.post("/hooks/customers", content=body, headers=signed(body))

    assert signed_in.status_code == 303
    assert with_token.status_code == with_session.status_code == 401
    assert with_token.json()["error"]["code"] == "signature_missing"
    assert with_signature.status_code == 202


# signing in


async def test_an_anonymous_browser_is_sent_to_sign_in_and_then_back(dashboard: Dashboard) -> None:
    client = dashboard.client

    first = await client.get("/failures?kind=auth")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Ffailures%3Fkind%3Dauth"
    form = await client.get(first.headers["location"])
    assert 'value="/failures?kind=auth"' in form.text
    signed_in = await client.post("/login", data={"token": TOKEN, "next": "/failures?kind=auth"})

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/failures?kind=auth"
    assert (await client.get("/failures?kind=auth")).status_code == 200
    assert (await client.get("/login")).headers["location"] == "/", "already signed in"


async def test_a_wrong_token_is_refused_without_a_session_and_logged_without_values(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    answer = await dashboard.client.post("/login", data={"token": "guess-" + TOKEN[:8]})

    assert answer.status_code == 401
    assert "That is not the dashboard token." in answer.text
    assert "set-cookie" not in answer.headers
    assert "guess-" not in answer.text
    assert "refused: wrong token" in caplog.text
    assert "guess-" not in caplog.text


async def test_the_session_cookie_is_signed_http_only_strict_and_holds_no_token(
    dashboard: Dashboard,
) -> None:
    answer = await dashboard.client.post("/login", data={"token": TOKEN})

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie, "plain http on loopback: a Secure cookie would never return"
    assert TOKEN not in cookie
    page = await dashboard.client.get("/")
    assert TOKEN not in page.text


async def test_over_https_the_cookie_is_secure(dashboard: Dashboard) -> None:
    transport = httpx.ASGITransport(app=dashboard.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://web") as client:
        answer = await client.post("/login", data={"token": TOKEN})

    assert "Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil", ""]
)
async def test_after_sign_in_the_browser_never_leaves_the_site(
    dashboard: Dashboard, target: str
) -> None:
    answer = await dashboard.client.post("/login", data={"token": TOKEN, "next": target})

    assert answer.headers["location"] == "/"


async def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    dashboard: Dashboard,
) -> None:
    csrf = await dashboard.sign_in()
    copied = dashboard.client.cookies[SESSION_COOKIE]

    answer = await dashboard.client.post("/logout", data={"csrf_token": csrf})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    dashboard.client.cookies.set(SESSION_COOKIE, copied)
    again = await dashboard.client.get("/")
    assert again.status_code == 303


# the API: bearer or session


async def test_the_api_takes_the_token_as_a_bearer(dashboard: Dashboard) -> None:
    client = dashboard.client

    right = await client.get("/api/overview", headers=dashboard.bearer)
    wrong = await client.get("/api/overview", headers={"Authorization": "Bearer nope"})
    basic = await client.get("/api/overview", headers={"Authorization": f"Basic {TOKEN}"})
    none = await client.get("/api/overview")

    assert right.status_code == 200
    for refused in (wrong, basic, none):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in wrong.text + basic.text


async def test_a_session_change_needs_the_csrf_token_a_bearer_change_does_not(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")
    csrf = await dashboard.sign_in()
    client = dashboard.client
    note = {"note": "checked by hand"}

    forged = await client.post(f"/api/failures/{failure_id}/resolve", json=note)
    wrong = await client.post(
        f"/api/failures/{failure_id}/resolve", json=note, headers={"X-CSRF-Token": "x" + csrf}
    )
    form = await client.post(f"/failures/{failure_id}/resolve", data=note)

    assert forged.status_code == wrong.status_code == 403
    assert forged.json()["error"]["code"] == "csrf_token_invalid"
    assert form.status_code == 403
    assert form.headers["content-type"].startswith("text/html")
    assert dashboard.store.get_failure(failure_id).is_open  # type: ignore[union-attr]

    read = await client.get(f"/api/failures/{failure_id}")  # reading needs no CSRF token
    done = await client.post(
        f"/api/failures/{failure_id}/resolve", json=note, headers={"X-CSRF-Token": csrf}
    )
    assert read.status_code == 200
    assert done.status_code == 200
    assert done.json()["resolution"] == "checked by hand"

    other = await dashboard.fail("c2")
    client.cookies.clear()
    bearer = await client.post(f"/api/failures/{other}/resolve", headers=dashboard.bearer)
    assert bearer.status_code == 200
    assert bearer.json()["state"] == "resolved"


async def test_a_cross_site_form_post_changes_nothing(dashboard: Dashboard) -> None:
    # What a page elsewhere could make a signed-in browser send: the cookie, no CSRF token.
    failure_id = await dashboard.fail("c1")
    await dashboard.sign_in()

    answer = await dashboard.client.post(
        "/failures/retry", data={"id": str(failure_id)}, headers={"Origin": "https://evil.example"}
    )

    assert answer.status_code == 403
    [failure] = dashboard.store.list_failures()
    assert failure.attempts == 1


async def test_the_csrf_token_is_per_session(dashboard: Dashboard) -> None:
    first = await dashboard.sign_in()
    dashboard.client.cookies.clear()
    second = await dashboard.sign_in()

    assert first != second
    assert csrf_of((await dashboard.client.get("/")).text) == second
    assert json.dumps(first) not in (await dashboard.client.get("/")).text
