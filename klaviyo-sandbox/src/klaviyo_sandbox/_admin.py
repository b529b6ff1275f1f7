"""The admin surface under /__sandbox__: no key, no rate limit, never logged as an API call.

Tests and people use it to see what the sandbox received and holds, to answer a double
opt-in email, to reset, and to set faults while it runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSON
from starlette.responses import Response
from starlette.routing import Route

from ._clock import isoformat
from ._consent import render_subscriptions
from ._errors import ApiError, invalid, not_found
from ._faults import FaultRule
from ._query import Query
from ._revisions import window
from ._routing import slice_after
from ._sandbox import Sandbox
from ._store import Profile
from ._validation import LOCATION_FIELDS, STRING_FIELDS, loads_strict

__all__ = ["admin_routes", "profile_view"]

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/__sandbox__"


class JSONResponse(StarletteJSON):
    """ASCII-escaped, so a lone surrogate someone sent can be echoed back in the log."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _error(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return loads_strict(raw)
    except (ValueError, RecursionError):
        raise invalid("The body must be JSON.", pointer="/") from None


def _fault_settings(body: Any) -> tuple[list[FaultRule], int | None]:
    """``{"rules": [...], "seed": n}`` or a bare list of rules."""
    usage = 'Send {"rules": [FaultRule…], "seed": int} or a list of rules.'
    if isinstance(body, list):
        body = {"rules": body}
    if not isinstance(body, dict):
        raise invalid(usage)
    raw_rules, seed = body.get("rules", []), body.get("seed")
    if not isinstance(raw_rules, list) or not (seed is None or type(seed) is int):
        raise invalid(usage)
    try:
        return [FaultRule.from_json(item) for item in raw_rules], seed
    except (ValueError, TypeError) as err:
        raise invalid(f"Bad fault rule: {err}") from None


def _guarded(sandbox: Sandbox, endpoint: Endpoint) -> Endpoint:
    """Catch the jobs up first; turn errors into the envelope, never a traceback."""

    async def wrapper(request: Request) -> Response:
        try:
            sandbox.process_jobs()
            return await endpoint(request)
        except ApiError as err:
            return _error(err)
        except Exception:
            return _error(ApiError(500, "error", "The sandbox admin endpoint failed unexpectedly."))

    return wrapper


def profile_view(
    sandbox: Sandbox, profile: Profile, pending: dict[str, list[str | None]]
) -> dict[str, Any]:
    """Everything about one profile, consent and lists included."""
    return {
        "id": profile.id,
        "created": isoformat(profile.created),
        "updated": isoformat(profile.updated),
        **{name: getattr(profile, name) for name in STRING_FIELDS},
        "location": {k: v for k, v in (profile.location or {}).items() if k in LOCATION_FIELDS},
        "properties": dict(profile.properties or {}),
        "subscriptions": render_subscriptions(profile.email_marketing, profile.sms_marketing),
        "lists": [item.id for item in sandbox.list_book.containing(profile.id)],
        "pending_lists": pending.get(profile.id, []),
    }


def admin_routes(sandbox: Sandbox) -> list[Route]:
    async def summary(request: Request) -> Response:
        served = [day.isoformat() for day in window(sandbox.clock.now()).served]
        with sandbox.lock:
            return JSONResponse(
                {
                    "revision": served[-1] if served else None,
                    "revisions": served,
                    "behaviour": sandbox.behaviour.to_json(),
                    "profiles": len(sandbox.store),
                    "lists": len(sandbox.lists),
                    "jobs": len(sandbox.jobs),
                    "requests": len(sandbox.requests),
                    "emails": len(sandbox.emails),
                    "rate_limits": sandbox.limiter.enabled,
                    "faults": sandbox.faults.rules(),
                }
            )

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            with sandbox.lock:
                sandbox.requests.clear()
            return Response(status_code=204)
        wanted = {
            k: v for k, v in request.query_params.items() if k in ("method", "path", "operation_id")
        }
        with sandbox.lock:
            entries = [entry.to_json() for entry in sandbox.requests]
        entries = [e for e in entries if all(str(e[k]) == v for k, v in wanted.items())]
        return JSONResponse(entries)

    async def emails(request: Request) -> Response:
        with sandbox.lock:
            return JSONResponse([email.to_json() for email in sandbox.emails])

    async def confirm(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or "list_id" not in body:
            raise invalid('Send {"list_id": …, "profile_id": …} or {"list_id": …, "email": …}.')
        values = {k: body.get(k) for k in ("list_id", "profile_id", "email")}
        if any(v is not None and not isinstance(v, str) for v in values.values()):
            raise invalid("list_id, profile_id and email must be strings.")
        if values["profile_id"] is None and values["email"] is None:
            raise invalid("Give profile_id or email.")
        pending = sandbox.confirm(
            values["list_id"], profile_id=values["profile_id"], email=values["email"]
        )
        return JSONResponse(
            {
                "profile_id": pending.profile_id,
                "list_id": pending.list_id,
                "channels": sorted(pending.channels),
            }
        )

    async def reset(request: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"reset": True})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            rules, seed = _fault_settings(await _json_body(request))
            sandbox.set_faults(rules, seed)
        with sandbox.lock:
            return JSONResponse({"seed": sandbox.faults.seed, "rules": sandbox.faults.rules()})

    async def behaviour(request: Request) -> Response:
        if request.method == "POST":
            changes = await _json_body(request)
            if not isinstance(changes, dict):
                raise invalid('Send {"invalid_phone": "drop", …}: the settings to change.')
            with sandbox.lock:
                try:
                    sandbox.behaviour = sandbox.behaviour.updated(changes)
                except (ValueError, TypeError) as err:
                    raise invalid(f"Bad behaviour setting: {err}") from None
        with sandbox.lock:
            return JSONResponse(sandbox.behaviour.to_json())

    async def profiles(request: Request) -> Response:
        query = Query.from_string(request.url.query)
        page = query.page(default=100, maximum=1000)
        with sandbox.lock:
            email = query.get("email")
            if email is not None:
                owner = sandbox.store.owner("email", email)
                ids, position = ([owner] if owner else []), None
            else:
                ids, position = slice_after(sandbox.store.ids.items, page)
            pending: dict[str, list[str | None]] = {}
            for profile_id, list_id in sandbox.pending:
                pending.setdefault(profile_id, []).append(list_id)
            data = [profile_view(sandbox, sandbox.profiles[i], pending) for i in ids]
            total = len(sandbox.store)
        base = str(request.base_url).rstrip("/")
        next_url = None if position is None else query.next_url(base, request.url.path, position)
        return JSONResponse({"data": data, "links": {"next": next_url}, "meta": {"total": total}})

    async def one_profile(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.delete_profile(request.path_params["id"])
            return Response(status_code=204)
        with sandbox.lock:
            profile = sandbox.store.get(request.path_params["id"])
            if profile is None:
                raise not_found("No such profile.")
            pending: dict[str, list[str | None]] = {}
            for profile_id, list_id in sandbox.pending:
                if profile_id == profile.id:
                    pending.setdefault(profile_id, []).append(list_id)
            return JSONResponse(profile_view(sandbox, profile, pending))

    async def lists(request: Request) -> Response:
        with sandbox.lock:
            return JSONResponse(
                [
                    {
                        "id": item.id,
                        "name": item.name,
                        "opt_in_process": item.opt_in_process,
                        "profile_count": len(item.members),
                    }
                    for item in sandbox.lists.values()
                ]
            )

    table: list[tuple[str, Endpoint, list[str]]] = [
        ("", summary, ["GET"]),
        ("/requests", requests, ["GET", "DELETE"]),
        ("/emails", emails, ["GET"]),
        ("/confirm", confirm, ["POST"]),
        ("/reset", reset, ["POST"]),
        ("/faults", faults, ["GET", "POST"]),
        ("/behaviour", behaviour, ["GET", "POST"]),
        ("/profiles", profiles, ["GET"]),
        ("/profiles/{id}", one_profile, ["GET", "DELETE"]),
        ("/lists", lists, ["GET"]),
    ]
    return [
        Route(PREFIX + path, _guarded(sandbox, endpoint), methods=methods)
        for path, endpoint, methods in table
    ]
