"""``KlaviyoClient``: the endpoints klaviyo-sync uses, as plain async methods.

Resources go in and come out as JSON:API dicts (``{"type", "id", "attributes", ...}``). Limits
Klaviyo publishes per call (values per filter, profiles per job) are handled here by splitting
into several calls, so callers can pass any number; limits that cannot be split (a bulk job's
size) are refused with a ValueError before anything is sent. A caller that wants each call's
failure to stay with that call's customers passes one call's worth at a time (``lookup_chunks``,
``MAX_SUBSCRIBE_PER_CALL``, ...).

Each request tells the retry policy how many customers it carries (the values of a lookup, the
profiles of a job), so one carrying many is tried longer (``RetryPolicy.patient_from``).

Every write reads ``X-Klaviyo-Partial-Failure``: since its phone validation change Klaviyo
answers a create, a profile-import or a subscription with an invalid phone beside a valid email
with a 2xx, leaving the phone out. Profile writes return a ``Saved`` naming the attributes left
out; subscription calls return them. Bulk import jobs are not documented to send it (their bad
rows fail at submit or in ``import-errors``); the session logs it on any answer that has it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..config import DEFAULT_BASE_URL, Settings
from ..exceptions import ConfigError, KlaviyoUnexpectedError
from ._endpoints import ENDPOINTS, Endpoint
from ._filters import any_of, equals, value_chunks
from ._http import Params, Reply, Session, encode
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy
from .limits import LIMITS, scaled

__all__ = [
    "MAX_BULK_IMPORT_BYTES",
    "MAX_BULK_IMPORT_PROFILES",
    "MAX_FILTER_VALUES",
    "MAX_LIST_MEMBERS_PER_CALL",
    "MAX_PAGE_SIZE",
    "MAX_SUBSCRIBE_PER_CALL",
    "MAX_UNSUBSCRIBE_PER_CALL",
    "KlaviyoClient",
    "Saved",
    "SubscriptionTarget",
]

Resource = dict[str, Any]
_T = TypeVar("_T")

MAX_PAGE_SIZE = 100
MAX_FILTER_VALUES = 100
MAX_BULK_IMPORT_PROFILES = 10_000
MAX_BULK_IMPORT_BYTES = 5_000_000
"""Klaviyo says "5 MB"; the decimal reading is the safe one."""
MAX_SUBSCRIBE_PER_CALL = 1_000
MAX_UNSUBSCRIBE_PER_CALL = 100
MAX_LIST_MEMBERS_PER_CALL = 1_000


@dataclass(slots=True, frozen=True)
class SubscriptionTarget:
    """One profile to (un)subscribe, and on which channels.

    Email marketing needs ``email``, SMS marketing needs ``phone_number``. ``consented_at`` is
    only for ``historical_import`` subscriptions, which require it (Klaviyo's rule). Klaviyo's
    unsubscribe job identifies profiles by email and phone only, so ``profile_id`` is used when
    subscribing and ignored when unsubscribing.
    """

    email: str | None = None
    phone_number: str | None = None
    profile_id: str | None = None
    email_marketing: bool = True
    sms_marketing: bool = False
    consented_at: datetime | None = None

    def channels(self) -> list[tuple[str, str]]:
        """``(channel, identifier attribute)`` for each channel asked for, checked."""
        wanted = [
            ("email", "email", self.email_marketing, self.email),
            ("sms", "phone_number", self.sms_marketing, self.phone_number),
        ]
        chosen = []
        for channel, identifier, asked, value in wanted:
            if asked and not value:
                raise ValueError(f"{channel} marketing needs {identifier}: {self!r}")
            if asked:
                chosen.append((channel, identifier))
        if not chosen:
            raise ValueError(f"no channel chosen: {self!r}")
        return chosen

    def identifiers(self) -> dict[str, str]:
        return {k: v for k, v in (("email", self.email), ("phone_number", self.phone_number)) if v}


@dataclass(slots=True, frozen=True)
class Saved:
    """A profile write Klaviyo accepted: the profile it answered with, whether the write made
    it (a create, or a profile-import that found none), and the attributes Klaviyo left out as
    invalid (``X-Klaviyo-Partial-Failure``), which the profile does not hold as sent."""

    profile: Resource
    created: bool = False
    dropped: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return str(self.profile["id"])


class KlaviyoClient:
    """Async client for the Klaviyo endpoints klaviyo-sync uses.

    Use it as ``async with KlaviyoClient(key) as client: ...`` or call ``aclose()``. Every call
    waits for the rate limiter, retries what may succeed later (see ``RetryPolicy``) and raises
    an exception from ``klaviyo_sync.exceptions`` otherwise.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
    ) -> None:
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        # A key read from a file often carries a newline, which httpx would refuse as a header.
        secret = secret.strip()
        if not secret:
            raise ConfigError("the Klaviyo API key is empty")
        self._session = Session(
            SecretStr(secret),
            base_url=base_url,
            transport=transport,
            clock=clock,
            retry=retry,
            limiter=limiter,
            timeout=timeout,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> KlaviyoClient:
        """A client for the key and base URL in ``settings`` (ConfigError when the key is unset).

        ``rate_limit_scale`` in the settings shares the published limits out: with N processes
        on one Klaviyo account, 1/N each keeps the account under its quota.
        """
        if settings.rate_limit_scale != 1.0 and "limiter" not in kw:
            kw["limiter"] = RateLimiter(
                scaled(LIMITS, settings.rate_limit_scale), clock=kw.get("clock")
            )
        return cls(settings.require_api_key(), base_url=settings.klaviyo_base_url, **kw)

    @property
    def clock(self) -> Clock:
        return self._session.clock

    @property
    def limiter(self) -> RateLimiter:
        return self._session.limiter

    @property
    def retry(self) -> RetryPolicy:
        return self._session.retry

    async def __aenter__(self) -> KlaviyoClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    def __repr__(self) -> str:
        return f"KlaviyoClient(base_url={self._session.base_url!r})"

    # -- profiles ----------------------------------------------------------------------------

    async def create_profile(
        self, attributes: Mapping[str, Any], *, properties: Mapping[str, Any] | None = None
    ) -> Saved:
        """Create a profile (201). A taken identifier raises KlaviyoDuplicateProfileError; an
        invalid phone beside another identifier is left out (``Saved.dropped``)."""
        attrs = dict(attributes)
        if properties:
            attrs["properties"] = {**(attrs.get("properties") or {}), **properties}
        body = {"data": {"type": "profile", "attributes": attrs}}
        return await self._saved("create_profile", body=body)

    async def get_profile(
        self, profile_id: str, *, additional_fields: Sequence[str] = ()
    ) -> Resource:
        params = _additional_fields(additional_fields)
        return await self._one("get_profile", id=profile_id, params=params)

    async def update_profile(
        self,
        profile_id: str,
        attributes: Mapping[str, Any],
        *,
        patch_properties: Mapping[str, Any] | None = None,
    ) -> Saved:
        """PATCH a profile: a key set to None clears that field, an absent key is left alone.
        Klaviyo answers an invalid phone here with a 400, but ``Saved.dropped`` is read too."""
        data: Resource = {"type": "profile", "id": profile_id, "attributes": dict(attributes)}
        if patch_properties:
            data["meta"] = {"patch_properties": dict(patch_properties)}
        return await self._saved("update_profile", id=profile_id, body={"data": data})

    async def import_profile(
        self,
        attributes: Mapping[str, Any],
        *,
        profile_id: str | None = None,
        patch_properties: Mapping[str, Any] | None = None,
    ) -> Saved:
        """Create or update a profile matched by its identifiers (``Saved.created`` says
        which); an invalid phone beside another identifier is left out (``Saved.dropped``)."""
        data: Resource = {"type": "profile", "attributes": dict(attributes)}
        if profile_id is not None:
            data["id"] = profile_id
        if patch_properties:
            data["meta"] = {"patch_properties": dict(patch_properties)}
        return await self._saved("create_or_update_profile", body={"data": data})

    async def iter_profiles(
        self,
        *,
        filter: str | None = None,  # Klaviyo's own parameter name
        page_size: int = MAX_PAGE_SIZE,
        additional_fields: Sequence[str] = (),
    ) -> AsyncIterator[Resource]:
        """Every profile matching ``filter`` (see ``equals``/``any_of``), following links.next."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        params: dict[str, str | int] = {"page[size]": page_size}
        params.update(_additional_fields(additional_fields))
        if filter is not None:
            params["filter"] = filter
        async for profile in self._pages("get_profiles", params=params):
            yield profile

    async def find_profiles(
        self, field: str, values: Sequence[str], *, additional_fields: Sequence[str] = ()
    ) -> list[Resource]:
        """Profiles whose ``field`` is any of ``values``, asking ≤100 values per call (fewer
        when long values would make the URL too long); see ``lookup_chunks``."""
        found: list[Resource] = []
        for chunk in self.lookup_chunks(field, values):
            params: dict[str, str | int] = {
                "page[size]": MAX_PAGE_SIZE,
                **_additional_fields(additional_fields),
                "filter": any_of(field, chunk),
            }
            pages = self._pages("get_profiles", params=params, carrying=len(chunk))
            found.extend([profile async for profile in pages])
        return found

    @staticmethod
    def lookup_chunks(field: str, values: Sequence[str]) -> list[list[str]]:
        """``values`` without repeats, cut as ``find_profiles`` cuts them: one lookup each.
        A chunk passed back to ``find_profiles`` is one request (and its pages)."""
        unique = list(dict.fromkeys(values))
        return value_chunks(field, unique, max_values=MAX_FILTER_VALUES)

    # -- bulk import jobs --------------------------------------------------------------------

    async def create_bulk_import_job(
        self, profiles: Sequence[Mapping[str, Any]], *, list_ids: Sequence[str] = ()
    ) -> Resource:
        """Start a bulk import job (202) and return it.

        Each item is a profile's attributes, or a whole ``{"type": "profile", ...}`` resource
        when it needs an ``id`` or ``meta``. More than 10,000 profiles or 5 MB is a ValueError:
        split the batch (see ``MAX_BULK_IMPORT_PROFILES``/``MAX_BULK_IMPORT_BYTES``).
        """
        if not profiles:
            raise ValueError("a bulk import job needs at least one profile")
        if len(profiles) > MAX_BULK_IMPORT_PROFILES:
            raise ValueError(
                f"{len(profiles)} profiles in one bulk import job; "
                f"Klaviyo takes at most {MAX_BULK_IMPORT_PROFILES}"
            )
        data: Resource = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [_profile_resource(p) for p in profiles]}},
        }
        if list_ids:
            data["relationships"] = {
                "lists": {"data": [{"type": "list", "id": i} for i in list_ids]}
            }
        content = encode({"data": data})
        if len(content) > MAX_BULK_IMPORT_BYTES:
            raise ValueError(
                f"bulk import job body is {len(content):,} bytes; "
                f"Klaviyo takes at most {MAX_BULK_IMPORT_BYTES:,}"
            )
        reply = await self._send("bulk_import_profiles", content=content, carrying=len(profiles))
        return _data(reply, "bulk_import_profiles")

    async def get_bulk_import_job(self, job_id: str, *, carrying: int = 1) -> Resource:
        """The job; ``carrying`` (its profile count) makes a poll as patient as the job."""
        return await self._one("get_bulk_import_profiles_job", id=job_id, carrying=carrying)

    async def iter_bulk_import_errors(
        self, job_id: str, *, carrying: int = 1
    ) -> AsyncIterator[Resource]:
        """The job's ``import-error`` resources (each with ``original_payload``)."""
        operation = "get_errors_for_bulk_import_profiles_job"
        params = {"page[size]": MAX_PAGE_SIZE}
        async for error in self._pages(operation, id=job_id, params=params, carrying=carrying):
            yield error

    async def iter_bulk_import_profiles(self, job_id: str) -> AsyncIterator[Resource]:
        operation = "get_profiles_for_bulk_import_profiles_job"
        params = {"page[size]": MAX_PAGE_SIZE}
        async for profile in self._pages(operation, id=job_id, params=params):
            yield profile

    # -- consent -----------------------------------------------------------------------------

    async def subscribe_profiles(
        self,
        profiles: Sequence[SubscriptionTarget],
        *,
        list_id: str | None = None,
        historical_import: bool = False,
        custom_source: str | None = None,
    ) -> tuple[str, ...]:
        """Subscribe profiles (202 jobs of ≤1,000). With a double opt-in ``list_id`` Klaviyo
        sends a confirmation email and the profile joins once it is confirmed.

        Returns the attributes Klaviyo left out as invalid in any of the jobs (an invalid phone
        beside an email: that profile's SMS consent is dropped with it). The header names no
        profile: pass one target to know whose."""
        resources = [_subscribe_resource(t, historical_import) for t in profiles]
        dropped: dict[str, None] = {}
        for chunk in _chunks(resources, MAX_SUBSCRIBE_PER_CALL):
            attributes: Resource = {"profiles": {"data": chunk}}
            if custom_source is not None:
                attributes["custom_source"] = custom_source
            if historical_import:
                attributes["historical_import"] = True
            data = {"type": "profile-subscription-bulk-create-job", "attributes": attributes}
            body = {"data": _with_list(data, list_id)}
            reply = await self._send("bulk_subscribe_profiles", body=body, carrying=len(chunk))
            dropped.update(dict.fromkeys(reply.dropped))
        return tuple(dropped)

    async def unsubscribe_profiles(
        self, profiles: Sequence[SubscriptionTarget], *, list_id: str | None = None
    ) -> tuple[str, ...]:
        """Unsubscribe profiles from the channels each target names (202 jobs of ≤100).

        Klaviyo unsubscribes globally a profile that is not in ``list_id``; to only take a
        profile off a list, use ``remove_profiles_from_list``. Returns the attributes Klaviyo
        left out as invalid, as ``subscribe_profiles`` does.
        """
        resources = [_unsubscribe_resource(t) for t in profiles]
        dropped: dict[str, None] = {}
        for chunk in _chunks(resources, MAX_UNSUBSCRIBE_PER_CALL):
            data = {
                "type": "profile-subscription-bulk-delete-job",
                "attributes": {"profiles": {"data": chunk}},
            }
            body = {"data": _with_list(data, list_id)}
            reply = await self._send("bulk_unsubscribe_profiles", body=body, carrying=len(chunk))
            dropped.update(dict.fromkeys(reply.dropped))
        return tuple(dropped)

    # -- lists -------------------------------------------------------------------------------

    async def iter_lists(
        self, *, name: str | None = None, carrying: int = 1
    ) -> AsyncIterator[Resource]:
        """Every list, or those named exactly ``name``; ``carrying``: the customers waiting
        on the answer, as in ``get_bulk_import_job``."""
        params = {} if name is None else {"filter": equals("name", name)}
        async for item in self._pages("get_lists", params=params, carrying=carrying):
            yield item

    async def create_list(self, name: str, *, opt_in_process: str = "single_opt_in") -> Resource:
        """Create a list; ``opt_in_process`` is ``single_opt_in`` or ``double_opt_in``."""
        if opt_in_process not in ("single_opt_in", "double_opt_in"):
            raise ValueError(
                f"opt_in_process must be single_opt_in or double_opt_in, not {opt_in_process!r}"
            )
        body = {
            "data": {"type": "list", "attributes": {"name": name, "opt_in_process": opt_in_process}}
        }
        return await self._one("create_list", body=body)

    async def get_list(self, list_id: str) -> Resource:
        return await self._one("get_list", id=list_id)

    async def iter_list_profile_ids(
        self,
        list_id: str,
        *,
        where: tuple[str, Sequence[str]] | None = None,
        carrying: int = 1,
    ) -> AsyncIterator[str]:
        """Ids of the list's members (pending double opt-ins are not members); with ``where``
        (``("email", [...])`` or ``("phone_number", [...])``, at most a lookup chunk of
        values), only those members; ``carrying`` as in ``get_bulk_import_job``."""
        params: dict[str, str | int] = {"page[size]": MAX_PAGE_SIZE}
        if where is not None:
            params["filter"] = any_of(*where)
        async for item in self._pages(
            "get_profile_ids_for_list", id=list_id, params=params, carrying=carrying
        ):
            yield str(item["id"])

    async def add_profiles_to_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Add members without touching consent (204, ≤1,000 per call)."""
        await self._membership("add_profiles_to_list", list_id, profile_ids)

    async def remove_profiles_from_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Remove members without touching consent (204, ≤1,000 per call)."""
        await self._membership("remove_profiles_from_list", list_id, profile_ids)

    # -- plumbing ----------------------------------------------------------------------------

    async def _membership(self, operation: str, list_id: str, profile_ids: Sequence[str]) -> None:
        for chunk in _chunks(list(profile_ids), MAX_LIST_MEMBERS_PER_CALL):
            body = {"data": [{"type": "profile", "id": i} for i in chunk]}
            await self._send(operation, id=list_id, body=body, carrying=len(chunk))

    async def _send(
        self,
        operation: str,
        *,
        id: str | None = None,
        params: Params | None = None,
        body: Any = None,
        content: bytes | None = None,
        carrying: int = 1,
    ) -> Reply:
        endpoint = ENDPOINTS[operation]
        path = _path(endpoint, id)
        return await self._session.send(
            endpoint, path, params=params, body=body, content=content, carrying=carrying
        )

    async def _saved(self, operation: str, *, id: str | None = None, body: Any = None) -> Saved:
        reply = await self._send(operation, id=id, body=body)
        return Saved(_data(reply, operation), created=reply.status == 201, dropped=reply.dropped)

    async def _one(
        self,
        operation: str,
        *,
        id: str | None = None,
        params: Params | None = None,
        body: Any = None,
        carrying: int = 1,
    ) -> Resource:
        reply = await self._send(operation, id=id, params=params, body=body, carrying=carrying)
        return _data(reply, operation)

    async def _pages(
        self,
        operation: str,
        *,
        id: str | None = None,
        params: Params | None = None,
        carrying: int = 1,
    ) -> AsyncIterator[Resource]:
        """Each resource of each page, following ``links.next`` by its cursor.

        Only the cursor is taken from ``links.next``: the request stays on our base URL with
        our own parameters, so a link pointing elsewhere can never receive the API key.
        """
        query: dict[str, str | int] = dict(params or {})
        seen: set[str] = set()
        while True:
            reply = await self._send(operation, id=id, params=query, carrying=carrying)
            for item in _page_items(reply, operation):
                yield item
            cursor = _next_cursor(reply, operation)
            if cursor is None:
                return
            if cursor in seen:
                raise _unexpected(operation, f"links.next repeats cursor {cursor!r}")
            seen.add(cursor)
            query["page[cursor]"] = cursor


def _path(endpoint: Endpoint, id: str | None) -> str:
    return endpoint.template if id is None else endpoint.path(id=id)


def _additional_fields(fields: Sequence[str]) -> dict[str, str]:
    return {"additional-fields[profile]": ",".join(fields)} if fields else {}


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _profile_resource(item: Mapping[str, Any]) -> Resource:
    if item.get("type") == "profile" and "attributes" in item:
        return dict(item)
    return {"type": "profile", "attributes": dict(item)}


def _with_list(data: Resource, list_id: str | None) -> Resource:
    if list_id is not None:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return data


def _subscribe_resource(target: SubscriptionTarget, historical_import: bool) -> Resource:
    consent: Resource = {"consent": "SUBSCRIBED"}
    if historical_import:
        if target.consented_at is None:
            raise ValueError(f"historical_import needs consented_at on every target: {target!r}")
        consent["consented_at"] = _iso(target.consented_at)
    elif target.consented_at is not None:
        raise ValueError("consented_at is only allowed with historical_import=True")
    subscriptions = {channel: {"marketing": dict(consent)} for channel, _ in target.channels()}
    resource: Resource = {
        "type": "profile",
        "attributes": {**target.identifiers(), "subscriptions": subscriptions},
    }
    if target.profile_id is not None:
        resource["id"] = target.profile_id
    return resource


def _unsubscribe_resource(target: SubscriptionTarget) -> Resource:
    unsubscribed = {"marketing": {"consent": "UNSUBSCRIBED"}}
    subscriptions = {channel: dict(unsubscribed) for channel, _ in target.channels()}
    return {
        "type": "profile",
        "attributes": {**target.identifiers(), "subscriptions": subscriptions},
    }


def _iso(moment: datetime) -> str:
    # The spec's date-time needs an offset; a naive time is taken to be UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _data(reply: Reply, operation: str) -> Resource:
    body = reply.body
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise _unexpected(operation, f"answered {reply.status} without a data object")
    data: Resource = body["data"]
    return data


def _page_items(reply: Reply, operation: str) -> list[Resource]:
    body = reply.body
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise _unexpected(operation, f"answered {reply.status} without a data list")
    items: list[Resource] = body["data"]
    return items


def _next_cursor(reply: Reply, operation: str) -> str | None:
    links = reply.body.get("links") or {}
    next_url = links.get("next") if isinstance(links, dict) else None
    if not next_url:
        return None
    cursor: str | None = httpx.URL(str(next_url)).params.get("page[cursor]")
    if not cursor:
        raise _unexpected(operation, "links.next carries no page[cursor]")
    return cursor


def _unexpected(operation: str, what: str) -> KlaviyoUnexpectedError:
    endpoint = ENDPOINTS[operation]
    return KlaviyoUnexpectedError(
        f"{endpoint.method} {endpoint.template} {what}",
        method=endpoint.method,
        path=endpoint.template,
    )
