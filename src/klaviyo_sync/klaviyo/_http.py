"""Sending one Klaviyo request: headers, rate limit, retries, error mapping, key redaction.

Everything an endpoint method needs from HTTP goes through ``Session.send``; the endpoint
methods in ``_client.py`` only build bodies and read documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
from pydantic import SecretStr

from ..clock import Clock, SystemClock
from ..exceptions import (
    KlaviyoAPIError,
    KlaviyoRateLimitedError,
    KlaviyoUnexpectedError,
    KlaviyoValidationError,
)
from ._endpoints import Endpoint
from ._errors import error_from_response, error_from_transport
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy, should_retry, sleep_time

__all__ = [
    "JSON_API",
    "PARTIAL_FAILURE",
    "REVISION",
    "USER_AGENT",
    "Reply",
    "Session",
    "encode",
    "partial_failure",
]

logger = logging.getLogger("klaviyo_sync.klaviyo")

REVISION = "2026-07-15"
JSON_API = "application/vnd.api+json"
PARTIAL_FAILURE = "X-Klaviyo-Partial-Failure"
"""Klaviyo's header on a 2xx write that left fields out as invalid (an invalid phone beside a
valid email, since its phone validation change): a comma-separated list of attribute names."""
_REDACTED = "[redacted]"


def _user_agent() -> str:
    try:
        ours = version("klaviyo-sync")
    except PackageNotFoundError:  # running from a source tree that is not installed
        ours = "0"
    return f"klaviyo-sync/{ours} httpx/{httpx.__version__}"


USER_AGENT = _user_agent()

Params = Mapping[str, str | int]


@dataclass(slots=True, frozen=True)
class Reply:
    """A successful response: its status, decoded JSON body (None when it had none), and the
    attributes Klaviyo left out as invalid (``X-Klaviyo-Partial-Failure``)."""

    status: int
    body: Any
    dropped: tuple[str, ...] = ()


def partial_failure(value: str | None) -> tuple[str, ...]:
    """The attribute names in an ``X-Klaviyo-Partial-Failure`` value, each once, in order."""
    names = (name.strip() for name in (value or "").split(","))
    return tuple(dict.fromkeys(name for name in names if name))


def encode(body: Any) -> bytes:
    """The exact bytes sent for ``body``; size limits are checked against these."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class Session:
    """An httpx client plus the policies around each request."""

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock | None,
        retry: RetryPolicy | None,
        limiter: RateLimiter | None,
        timeout: float,
    ) -> None:
        self._secret = api_key.get_secret_value()
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter(clock=self.clock)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"Klaviyo-API-Key {self._secret}",
                "revision": REVISION,
                "Accept": JSON_API,
                "User-Agent": USER_AGENT,
            },
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self,
        endpoint: Endpoint,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content: bytes | None = None,
        carrying: int = 1,
    ) -> Reply:
        """Send, retrying per the policy; return the reply or raise the last error.

        ``content`` is ``body`` already encoded, for callers that had to measure it.
        ``carrying`` is how many customers ride on the request: one that carries many is
        tried longer (``RetryPolicy.patient_from``).
        """
        if content is None and body is not None:
            content = encode(body)
        attempt = 0
        while True:
            attempt += 1
            async with self.limiter.sending(endpoint.operation):
                outcome = await self._attempt(endpoint, path, params, content)
            if isinstance(outcome, Reply):
                return outcome
            await self._before_retry(endpoint, outcome, attempt, carrying)

    async def _before_retry(
        self, endpoint: Endpoint, error: KlaviyoAPIError, attempt: int, carrying: int
    ) -> None:
        """Wait before the next attempt, or raise ``error`` when there is none."""
        retry_after = error.retry_after if isinstance(error, KlaviyoRateLimitedError) else None
        if retry_after is not None and retry_after <= self.retry.max_retry_after:
            # Every caller of this operation should wait, not only the one that was told,
            # even when this one gives up. A wait too long to sit out is not imposed on anyone.
            self.limiter.pause(endpoint.operation, retry_after)
        if not should_retry(error, attempt, self.retry, carrying=carrying):
            raise error
        wait = sleep_time(attempt, self.retry, retry_after)
        logger.warning(
            "retrying %s after %s: attempt %d of %d, waiting %.2fs",
            endpoint.operation,
            error.status or type(error).__name__,
            attempt,
            self.retry.attempts(carrying),
            wait,
        )
        await self.clock.sleep(wait)

    async def _attempt(
        self, endpoint: Endpoint, path: str, params: Params | None, content: bytes | None
    ) -> Reply | KlaviyoAPIError:
        headers = None if content is None else {"Content-Type": JSON_API}
        try:
            response = await self._http.request(
                endpoint.method, path, params=params, content=content, headers=headers
            )
        except httpx.RequestError as exc:
            return self._redact(error_from_transport(exc, endpoint.method, path))
        except httpx.InvalidURL as exc:
            # The request cannot even be built (a value too long for a URL): retrying is futile.
            return KlaviyoValidationError(
                f"{endpoint.method} {path} cannot be sent: {exc}",
                code="invalid_request",
                method=endpoint.method,
                path=path,
            )
        self.limiter.observe(
            endpoint.operation,
            response.headers.get("ratelimit-remaining"),
            response.headers.get("ratelimit-reset"),
        )
        logger.debug("%s %s -> %d", endpoint.method, path, response.status_code)
        error = error_from_response(response)
        if error is not None:
            return self._redact(error)
        return self._reply(response, endpoint, path)

    def _reply(
        self, response: httpx.Response, endpoint: Endpoint, path: str
    ) -> Reply | KlaviyoAPIError:
        # Read on every answer: a 2xx no longer proves every field was stored.
        dropped = partial_failure(response.headers.get(PARTIAL_FAILURE))
        if dropped:
            logger.info("%s %s left out as invalid: %s", endpoint.method, path, ", ".join(dropped))
        if not response.content:
            return Reply(response.status_code, None, dropped)
        try:
            return Reply(response.status_code, json.loads(response.content), dropped)
        except (ValueError, UnicodeDecodeError):
            return KlaviyoUnexpectedError(
                f"{endpoint.method} {path} answered {response.status_code} with a body "
                "that is not JSON",
                status=response.status_code,
                method=endpoint.method,
                path=path,
            )

    def _redact(self, error: KlaviyoAPIError) -> KlaviyoAPIError:
        """Strip the key from anything Klaviyo (or a proxy) echoed back into the error."""
        error.args = tuple(_redacted(a, self._secret) for a in error.args)
        for name in ("code", "title", "detail", "pointer", "parameter", "body"):
            setattr(error, name, _redacted(getattr(error, name), self._secret))
        return error


def _redacted(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, _REDACTED)
    if isinstance(value, dict):
        return {_redacted(k, secret): _redacted(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secret) for v in value]
    return value
