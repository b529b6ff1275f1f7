"""Who may use the dashboard: one shared token, a signed session cookie, and CSRF tokens.

The token (KLAVIYO_SYNC_DASHBOARD_TOKEN, at least 32 characters) is asked for once, on the login
form; the browser then holds a session cookie that carries a random session id, a CSRF token and
an expiry, signed with a key derived from the token. The cookie never holds the token, and
changing the token signs everyone out. API clients may send ``Authorization: Bearer <token>``
instead.

Signing out is written to the store, so the cookie stays refused after a restart and by every
``serve`` process sharing the store; that costs one primary-key read per request made with a
session. Wrong tokens, on the form or as a bearer, are counted per client address in the store
and slow that address down (see ``_throttle``).

A session-authenticated request that changes something must also carry the session's CSRF
token (a form field, or the ``X-CSRF-Token`` header for ``fetch``): a page on another site can
make the browser send the cookie, but cannot read the token. Bearer requests are exempt, since a
browser never adds that header on its own. Without a token configured nothing is open: every
dashboard route answers 503.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.responses import Response

from ..config import dashboard_token_problem
from ..exceptions import ConfigError
from ._errors import WebError
from ._throttle import LoginStore, Throttle, store_call

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "TOKEN_NOT_SET",
    "Gate",
    "GateStore",
    "Principal",
    "Session",
    "client_address",
]

SESSION_COOKIE = "klaviyo_sync_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 60 * 60
TOKEN_NOT_SET = (
    "KLAVIYO_SYNC_DASHBOARD_TOKEN is not set: the dashboard and its API stay closed until it "
    "is. Set it in the environment of `klaviyo-sync serve` to a long random value."
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEY_LABEL = b"klaviyo-sync dashboard session v1"


class GateStore(LoginStore, Protocol):
    """What the gate needs of the store (``klaviyo_sync.store.Store`` has it)."""

    def revoke_session(self, sid: str, *, expires_at: datetime) -> None: ...

    def session_revoked(self, sid: str) -> bool: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, frozen=True)
class Session:
    """A signed-in browser: ``csrf`` goes into its forms, ``expires`` is a Unix time."""

    sid: str
    csrf: str
    expires: int


@dataclass(slots=True, frozen=True)
class Principal:
    """Who made an API request, and how."""

    method: Literal["bearer", "session"]
    session: Session | None = None


class Gate:
    """Checks tokens, issues and reads session cookies, and checks CSRF tokens.

    ``clock`` gives aware datetimes, like the store's, so a test can give both the same one.
    """

    def __init__(
        self,
        token: SecretStr | None,
        store: GateStore,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        problem = dashboard_token_problem(token)
        if problem is not None:
            # `serve` refuses such a token before it gets here; this stops any other way in.
            raise ConfigError(problem)
        value = token.get_secret_value() if token is not None else ""
        self._digest = hashlib.sha256(value.encode("utf-8")).digest() if value else None
        # Derived, so the token itself never has to sit in a cookie or a signature input.
        self._key = hmac.new(value.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
        self._store = store
        self._clock = clock
        self._throttle = Throttle(store, clock=clock)

    @property
    def configured(self) -> bool:
        return self._digest is not None

    def require_configured(self) -> None:
        if not self.configured:
            raise WebError(503, "dashboard_token_not_set", TOKEN_NOT_SET)

    def token_matches(self, given: str) -> bool:
        """Constant-time: digests of equal length, so neither length nor prefix leaks."""
        if self._digest is None:
            return False
        given_digest = hashlib.sha256(given.encode("utf-8")).digest()
        return hmac.compare_digest(self._digest, given_digest)

    async def sign_in(self, client: str, given: str) -> Session | None:
        """A new session when ``given`` is the token, else None (counted against ``client``);
        ``Throttled`` (429) while ``client`` must wait after too many wrong tokens."""
        if await self._throttle.attempt(client, lambda: self.token_matches(given)):
            return self.new_session()
        return None

    # sessions

    def new_session(self) -> Session:
        return Session(
            sid=secrets.token_urlsafe(18),
            csrf=secrets.token_urlsafe(24),
            expires=self._unix_now() + SESSION_SECONDS,
        )

    def encode(self, session: Session) -> str:
        body = json.dumps(
            {"sid": session.sid, "csrf": session.csrf, "exp": session.expires},
            separators=(",", ":"),
        ).encode("utf-8")
        payload = _b64(body)
        return f"{payload}.{_b64(self._sign(payload))}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None when it is missing, forged or expired; whether it
        was signed out is the store's to say (``session_of``)."""
        if not cookie or not self.configured or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        try:
            given = _unb64(signature)
            data = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(self._sign(payload), given) or not isinstance(data, dict):
            return None
        session = _session(data)
        if session is None or session.expires <= self._unix_now():
            return None
        return session

    async def revoke(self, session: Session) -> None:
        """Sign this session out, in the store: for every process, and after a restart, until
        the cookie would have expired anyway."""
        expires_at = datetime.fromtimestamp(session.expires, UTC)
        await store_call(self._store.revoke_session, session.sid, expires_at=expires_at)

    async def session_of(self, conn: HTTPConnection) -> Session | None:
        """The request's live session: signed, unexpired and not signed out."""
        session = self.decode(conn.cookies.get(SESSION_COOKIE))
        # Only a cookie with a valid signature costs a store read (one primary-key lookup).
        if session is None or await store_call(self._store.session_revoked, session.sid):
            return None
        return session

    def set_cookie(self, response: Response, session: Session, *, secure: bool) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.encode(session),
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    @staticmethod
    def clear_cookie(response: Response, *, secure: bool) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
        )

    # requests

    async def api_principal(self, conn: HTTPConnection, method: str) -> Principal:
        """Bearer token or session cookie, with the CSRF header for a session's writes;
        otherwise a 401 or 403 WebError (503 when no token is configured, 429 while the
        client must wait after too many wrong tokens)."""
        self.require_configured()
        authorization = conn.headers.get("authorization")
        if authorization is not None:
            scheme, _, credentials = authorization.partition(" ")
            # A bearer is a guess like a sign-in: the same count, or the API would be the way
            # around the slow-down. One indexed read per bearer request.
            given = credentials.strip() if scheme.lower() == "bearer" else ""
            matched = await self._throttle.attempt(
                client_address(conn), lambda: bool(given) and self.token_matches(given)
            )
            if not matched:
                raise _unauthorized("the bearer token is not the dashboard token")
            return Principal("bearer")
        session = await self.session_of(conn)
        if session is None:
            raise _unauthorized(
                "sign in on /login, or send Authorization: Bearer <KLAVIYO_SYNC_DASHBOARD_TOKEN>"
            )
        if method.upper() not in _SAFE_METHODS:
            self.require_csrf(session, conn.headers.get(CSRF_HEADER))
        return Principal("session", session)

    @staticmethod
    def csrf_matches(session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(
            session.csrf.encode("utf-8"), given.encode("utf-8")
        )

    def require_csrf(self, session: Session, given: str | None) -> None:
        if not self.csrf_matches(session, given):
            raise WebError(
                403,
                "csrf_token_invalid",
                f"this change needs the page's CSRF token (the {CSRF_HEADER} header or the "
                f"{CSRF_FIELD} form field): reload the page and try again",
            )

    def _sign(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()

    def _unix_now(self) -> int:
        return int(self._clock().timestamp())


def client_address(conn: HTTPConnection) -> str:
    """Whom wrong tokens are counted against. Behind a proxy on the same machine, uvicorn puts
    the address from X-Forwarded-For here (it trusts 127.0.0.1 and ::1, or the addresses in
    FORWARDED_ALLOW_IPS); otherwise every client would share the proxy's address."""
    return conn.client.host if conn.client is not None else "unknown"


def _session(data: dict[str, object]) -> Session | None:
    sid, csrf, expires = data.get("sid"), data.get("csrf"), data.get("exp")
    if isinstance(sid, str) and isinstance(csrf, str) and isinstance(expires, int):
        return Session(sid, csrf, expires)
    return None


def _unauthorized(message: str) -> WebError:
    error = WebError(401, "unauthorized", message)
    error.headers = {"WWW-Authenticate": 'Bearer realm="klaviyo-sync"'}
    return error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
