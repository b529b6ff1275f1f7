"""Who may use the dashboard: one shared token, a signed session cookie, and CSRF tokens.

The token (KLAVIYO_SYNC_DASHBOARD_TOKEN) is asked for once, on the login form; the browser then
holds a session cookie that carries a random session id, a CSRF token and an expiry, signed
with a key derived from the token. The cookie never holds the token, and changing the token
signs everyone out. API clients may send ``Authorization: Bearer <token>`` instead.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.responses import Response

from ._errors import WebError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "TOKEN_NOT_SET",
    "Gate",
    "Principal",
    "Session",
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
    """Checks tokens, issues and reads session cookies, and checks CSRF tokens."""

    def __init__(self, token: SecretStr | None, *, clock: Callable[[], float] = time.time) -> None:
        value = token.get_secret_value() if token is not None else ""
        self._digest = hashlib.sha256(value.encode("utf-8")).digest() if value else None
        # Derived, so the token itself never has to sit in a cookie or a signature input.
        self._key = hmac.new(value.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
        self._clock = clock
        self._revoked: dict[str, int] = {}

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

    # sessions

    def new_session(self) -> Session:
        return Session(
            sid=secrets.token_urlsafe(18),
            csrf=secrets.token_urlsafe(24),
            expires=int(self._clock()) + SESSION_SECONDS,
        )

    def encode(self, session: Session) -> str:
        body = json.dumps(
            {"sid": session.sid, "csrf": session.csrf, "exp": session.expires},
            separators=(",", ":"),
        ).encode("utf-8")
        payload = _b64(body)
        return f"{payload}.{_b64(self._sign(payload))}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None when it is missing, forged, expired or revoked."""
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
        if session is None or session.expires <= self._clock() or session.sid in self._revoked:
            return None
        return session

    def revoke(self, session: Session) -> None:
        """Sign this session out for good (until the process restarts; it expires anyway)."""
        now = self._clock()
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
        self._revoked[session.sid] = session.expires

    def session_of(self, conn: HTTPConnection) -> Session | None:
        return self.decode(conn.cookies.get(SESSION_COOKIE))

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

    def api_principal(self, conn: HTTPConnection, method: str) -> Principal:
        """Bearer token or session cookie, with the CSRF header for a session's writes;
        otherwise a 401 or 403 WebError (503 when no token is configured)."""
        self.require_configured()
        authorization = conn.headers.get("authorization")
        if authorization is not None:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() != "bearer" or not self.token_matches(credentials.strip()):
                raise _unauthorized("the bearer token is not the dashboard token")
            return Principal("bearer")
        session = self.session_of(conn)
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
