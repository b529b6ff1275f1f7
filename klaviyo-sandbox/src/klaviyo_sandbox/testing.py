"""A sandbox serving over HTTP, with its admin surface as methods: the value of the pytest
fixture ``klaviyo_sandbox``, and usable on its own against any running sandbox.

```python
live = LiveSandbox("http://127.0.0.1:8765", "pk_test123")   # e.g. a `klaviyo-sandbox` process
httpx.post(f"{live.base_url}/api/profiles", headers=live.headers(), json=...)
live.requests(operation_id="create_profile")    # the API requests it received, as JSON
live.confirm(list_id, email="ada@example.com")  # answer a double opt-in email
live.reset()
```

Every admin method is one call to the admin surface (``/__sandbox__/…``) and returns its JSON,
so what a test sees is what any HTTP client of the sandbox sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ._faults import FaultRule
    from ._sandbox import Sandbox

__all__ = ["LiveSandbox", "SandboxAdminError"]

JSON_API = "application/vnd.api+json"


class SandboxAdminError(Exception):
    """The admin surface refused a call (a confirmation with nothing pending, a bad rule)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class LiveSandbox:
    """A sandbox at ``base_url`` that accepts ``api_key``.

    ``sandbox`` is its state (a ``Sandbox``) when it serves from this process, as the fixture's
    does: Python tests may seed and inspect it directly. ``None`` for a sandbox elsewhere.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sandbox: Sandbox | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.sandbox = sandbox
        # trust_env=False: a proxy set in the environment must not see loopback traffic.
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def __repr__(self) -> str:
        return f"LiveSandbox({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    # -- calling the API -------------------------------------------------------------------

    def headers(self, revision: str | None = None) -> dict[str, str]:
        """Headers of a Klaviyo API call: the key, a revision (default: the newest the
        sandbox serves today), JSON:API accept."""
        return {
            "Authorization": f"Klaviyo-API-Key {self.api_key}",
            "revision": revision or str(self.summary()["revision"]),
            "Accept": JSON_API,
        }

    # -- the admin surface -----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """``GET /__sandbox__``: counts, revisions served, behaviour, faults."""
        found: dict[str, Any] = self._call("GET", "")
        return found

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        operation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every API request received, oldest first: ``method, path, query, status, body,
        operation_id, at, dropped`` (never headers); the filters must match exactly."""
        wanted = {"method": method, "path": path, "operation_id": operation_id}
        params = {k: v for k, v in wanted.items() if v is not None}
        found: list[dict[str, Any]] = self._call("GET", "/requests", params=params)
        return found

    def clear_requests(self) -> None:
        """Forget the requests received so far (nothing else)."""
        self._call("DELETE", "/requests")

    def emails(self) -> list[dict[str, Any]]:
        """Double opt-in confirmation emails "sent": ``to, list_id, profile_id, channel,
        sent_at``; ``list_id`` is None for a subscription that named no list."""
        found: list[dict[str, Any]] = self._call("GET", "/emails")
        return found

    def confirm(
        self,
        list_id: str | None = None,
        *,
        email: str | None = None,
        profile_id: str | None = None,
    ) -> dict[str, Any]:
        """Confirm a pending double opt-in as its recipient would: the profile is subscribed,
        then joins the list. ``SandboxAdminError`` (404) when none is pending."""
        if (email is None) == (profile_id is None):
            raise ValueError("give email or profile_id")
        body = {"list_id": list_id, "email": email, "profile_id": profile_id}
        found: dict[str, Any] = self._call("POST", "/confirm", json=body)
        return found

    def set_faults(
        self, rules: Iterable[FaultRule | Mapping[str, Any]], seed: int | None = None
    ) -> dict[str, Any]:
        """Replace the faults in force; each rule a ``FaultRule`` or its JSON, e.g.
        ``{"operation": "create_profile", "status": 503, "times": 2}``. ``[]`` clears them."""
        sent = [rule if isinstance(rule, Mapping) else rule.to_json() for rule in rules]
        body: dict[str, Any] = {"rules": sent}
        if seed is not None:
            body["seed"] = seed
        found: dict[str, Any] = self._call("POST", "/faults", json=body)
        return found

    def set_behaviour(self, **changes: str | None) -> dict[str, Any]:
        """Change which of Klaviyo's behaviours it plays, e.g. ``invalid_phone="refuse"``;
        returns them all."""
        found: dict[str, Any] = self._call("POST", "/behaviour", json=changes)
        return found

    def profiles(self) -> list[dict[str, Any]]:
        """Every profile with its consent, lists and pending double opt-ins."""
        page = self._call("GET", "/profiles")
        found: list[dict[str, Any]] = list(page["data"])
        while page["links"]["next"] is not None:
            page = self._send("GET", page["links"]["next"])  # an absolute URL
            found.extend(page["data"])
        return found

    def lists(self) -> list[dict[str, Any]]:
        """Every list: ``id, name, opt_in_process, profile_count``."""
        found: list[dict[str, Any]] = self._call("GET", "/lists")
        return found

    def reset(self) -> None:
        """Forget every profile, list, job, request and email; faults and behaviour go back to
        the configured ones (ids keep counting, and a manual clock keeps its time)."""
        self._call("POST", "/reset")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, f"/__sandbox__{path}", **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._http.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise SandboxAdminError(response.status_code, _detail(response))
        return response.json() if response.content else None


def _detail(response: httpx.Response) -> str:
    try:
        return "; ".join(str(e["detail"]) for e in response.json()["errors"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
