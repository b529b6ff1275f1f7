"""Handlers for /api/profiles and /api/profile-import."""

from __future__ import annotations

from ._errors import ApiError, invalid
from ._filters import Condition
from ._lists import LIST_FIELDS
from ._render import ProfileView, document, identifier, list_resource, profile_resource
from ._routing import Context, Reply, partial_failure, slice_after
from ._store import ProfileStore
from ._validation import normalize_phone, parse_property_patch, require_resource

__all__ = [
    "create_or_update_profile",
    "create_profile",
    "get_list_ids_for_profile",
    "get_lists_for_profile",
    "get_profile",
    "get_profiles",
    "update_profile",
]

_EQ_ANY = frozenset({"equals", "any"})
_FILTERS = {name: _EQ_ANY for name in ("id", "email", "phone_number", "external_id")}
_PROFILE_BYTES = 100 * 1024


def _check_size(ctx: Context) -> None:
    if ctx.size > _PROFILE_BYTES:
        raise ApiError(413, "request_too_large", "The maximum allowed payload size is 100KB.")


def _matching(store: ProfileStore, condition: Condition) -> set[str]:
    found = set()
    for value in condition.values:
        text = str(value)
        if condition.field == "id":
            if text in store.profiles:
                found.add(text)
            continue
        if condition.field == "phone_number":
            text = normalize_phone(text) or text
        owner = store.owner(condition.field, text)
        if owner is not None:
            found.add(owner)
    return found


def _check_sort(ctx: Context) -> None:
    sort = ctx.query.get("sort")
    if sort not in (None, "", "id", "created"):
        raise invalid(f"sort={sort} is not emulated by the sandbox.", parameter="sort")


def get_profiles(ctx: Context) -> Reply:
    _check_sort(ctx)
    view = ProfileView.from_query(ctx.query)
    conditions = ctx.query.filters(_FILTERS)
    page = ctx.query.page()
    store = ctx.sandbox.store
    if conditions:
        matched = _matching(store, conditions[0])
        for condition in conditions[1:]:
            matched &= _matching(store, condition)
        ids, position = slice_after(sorted(matched), page)
    else:
        ids, position = slice_after(store.ids.items, page)
    data = [profile_resource(store.profiles[i], ctx.base, view) for i in ids]
    next_url = None if position is None else ctx.query.next_url(ctx.base, ctx.path, position)
    return Reply(200, document(data, ctx.url, next_url))


def get_profile(ctx: Context) -> Reply:
    view = ProfileView.from_query(ctx.query)
    profile = ctx.sandbox.get_profile(ctx.params["id"])
    return Reply(200, document(profile_resource(profile, ctx.base, view), ctx.url))


def create_profile(ctx: Context) -> Reply:
    _check_size(ctx)
    view = ProfileView.from_query(ctx.query)
    data = require_resource(ctx.body, "profile")
    dropped: list[str] = []
    profile = ctx.sandbox.create_profile(data["attributes"], dropped=dropped)
    body = document(profile_resource(profile, ctx.base, view), ctx.url)
    return Reply(201, body, partial_failure(dropped))


def update_profile(ctx: Context) -> Reply:
    _check_size(ctx)
    view = ProfileView.from_query(ctx.query)
    data = require_resource(ctx.body, "profile")
    if data.get("id") != ctx.params["id"]:
        raise invalid("data.id must be the id in the URL.", pointer="/data/id")
    patch = parse_property_patch(data.get("meta"), "/data/meta")
    profile = ctx.sandbox.update_profile(ctx.params["id"], data["attributes"], patch)
    return Reply(200, document(profile_resource(profile, ctx.base, view), ctx.url))


def create_or_update_profile(ctx: Context) -> Reply:
    _check_size(ctx)
    view = ProfileView.from_query(ctx.query)
    data = require_resource(ctx.body, "profile")
    profile_id = data.get("id")
    if profile_id is not None and not isinstance(profile_id, str):
        raise invalid("data.id must be a string.", pointer="/data/id")
    patch = parse_property_patch(data.get("meta"), "/data/meta")
    dropped: list[str] = []
    profile, created = ctx.sandbox.import_profile(
        data["attributes"], profile_id, patch, dropped=dropped
    )
    body = document(profile_resource(profile, ctx.base, view), ctx.url)
    return Reply(201 if created else 200, body, partial_failure(dropped))


def get_lists_for_profile(ctx: Context) -> Reply:
    ctx.sandbox.get_profile(ctx.params["id"])
    fields = ctx.query.csv("fields[list]", LIST_FIELDS)
    lists = ctx.sandbox.lists_of(ctx.params["id"])
    data = [list_resource(item, ctx.base, fields=fields) for item in lists]
    return Reply(200, document(data, ctx.url))


def get_list_ids_for_profile(ctx: Context) -> Reply:
    ctx.sandbox.get_profile(ctx.params["id"])
    lists = ctx.sandbox.lists_of(ctx.params["id"])
    return Reply(200, document([identifier("list", item.id) for item in lists], ctx.url))
