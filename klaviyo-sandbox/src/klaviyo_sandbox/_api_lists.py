"""Handlers for /api/lists and list membership."""

from __future__ import annotations

from typing import Any

from ._errors import invalid
from ._filters import Condition
from ._lists import LIST_FIELDS, OPT_IN_PROCESSES, ProfileList
from ._query import Query
from ._render import ProfileView, document, identifier, list_resource, profile_resource
from ._routing import Context, Reply, refuse, slice_after
from ._validation import child, normalize_phone, require_array, require_object, require_resource

__all__ = [
    "add_profiles_to_list",
    "create_list",
    "delete_list",
    "get_list",
    "get_lists",
    "get_profile_ids_for_list",
    "get_profiles_for_list",
    "remove_profiles_from_list",
    "update_list",
]

_EQ_ANY = frozenset({"equals", "any"})
_LIST_FILTERS = {"name": _EQ_ANY, "id": _EQ_ANY}
_MEMBER_FILTERS = {"email": _EQ_ANY, "phone_number": _EQ_ANY}
_MAX_MEMBERSHIP = 1000


def _list_fields(query: Query, *extra: str) -> list[str] | None:
    return query.csv("fields[list]", (*LIST_FIELDS, *extra))


def _matches(item: ProfileList, conditions: list[Condition]) -> bool:
    return all(
        (item.name if condition.field == "name" else item.id) in condition.values
        for condition in conditions
    )


def get_lists(ctx: Context) -> Reply:
    refuse(ctx.query, "sort")
    conditions = ctx.query.filters(_LIST_FILTERS)
    fields = _list_fields(ctx.query)
    page = ctx.query.page(default=10, maximum=10)
    after = -1 if page.after is None else _sequence(page.after)
    chosen = [
        item
        for item in ctx.sandbox.lists.values()
        if item.sequence > after and _matches(item, conditions)
    ][: page.size + 1]
    next_url = None
    if len(chosen) > page.size:
        chosen = chosen[: page.size]
        next_url = ctx.query.next_url(ctx.base, ctx.path, str(chosen[-1].sequence))
    data = [list_resource(item, ctx.base, fields=fields) for item in chosen]
    return Reply(200, document(data, ctx.url, next_url))


def _sequence(position: str) -> int:
    try:
        return int(position)
    except ValueError:
        raise invalid("The page cursor is not valid.", parameter="page[cursor]") from None


def _list_attributes(ctx: Context, *, creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    data = require_resource(ctx.body, "list")
    attributes = data["attributes"]
    for key, value in attributes.items():
        pointer = child("/data/attributes", key)
        if key == "name":
            if not isinstance(value, str) or not value.strip():
                raise invalid("A list name must be a non-empty string.", pointer=pointer)
        elif key == "opt_in_process":
            if value is not None and value not in OPT_IN_PROCESSES:
                raise invalid(
                    "opt_in_process must be 'double_opt_in' or 'single_opt_in'.", pointer=pointer
                )
        else:
            raise invalid(f"'{key}' is not a valid field for the resource 'list'.", pointer=pointer)
    if creating and "name" not in attributes:
        raise invalid("'name' is a required property.", pointer="/data/attributes/name")
    return data, attributes


def create_list(ctx: Context) -> Reply:
    fields = _list_fields(ctx.query)
    _, attributes = _list_attributes(ctx, creating=True)
    created = ctx.sandbox.create_list(attributes["name"], attributes.get("opt_in_process"))
    return Reply(201, document(list_resource(created, ctx.base, fields=fields), ctx.url))


def get_list(ctx: Context) -> Reply:
    fields = _list_fields(ctx.query, "profile_count")
    extra = ctx.query.csv("additional-fields[list]", ("profile_count",)) or []
    item = ctx.sandbox.get_list(ctx.params["id"])
    resource = list_resource(item, ctx.base, fields=fields, profile_count="profile_count" in extra)
    return Reply(200, document(resource, ctx.url))


def update_list(ctx: Context) -> Reply:
    fields = _list_fields(ctx.query)
    data, attributes = _list_attributes(ctx, creating=False)
    if data.get("id") != ctx.params["id"]:
        raise invalid("data.id must be the id in the URL.", pointer="/data/id")
    item = ctx.sandbox.get_list(ctx.params["id"])
    if "name" in attributes:
        item.name = attributes["name"]
    if attributes.get("opt_in_process") is not None:
        item.opt_in_process = attributes["opt_in_process"]
    item.updated = ctx.sandbox.clock.now()
    return Reply(200, document(list_resource(item, ctx.base, fields=fields), ctx.url))


def delete_list(ctx: Context) -> Reply:
    ctx.sandbox.delete_list(ctx.params["id"])
    return Reply(204)


def _member_page(ctx: Context) -> tuple[ProfileList, list[str], str | None]:
    refuse(ctx.query, "sort")
    item = ctx.sandbox.get_list(ctx.params["id"])
    conditions = ctx.query.filters(_MEMBER_FILTERS)
    page = ctx.query.page()
    if not conditions:
        ids, position = slice_after(item.order.items, page)
    else:
        store = ctx.sandbox.store
        matched = set(item.members)
        for condition in conditions:
            owners = set()
            for value in condition.values:
                text = str(value)
                if condition.field == "phone_number":
                    text = normalize_phone(text) or text
                owner = store.owner(condition.field, text)
                if owner is not None:
                    owners.add(owner)
            matched &= owners
        ids, position = slice_after(sorted(matched), page)
    next_url = None if position is None else ctx.query.next_url(ctx.base, ctx.path, position)
    return item, ids, next_url


def get_profiles_for_list(ctx: Context) -> Reply:
    view = ProfileView.from_query(ctx.query)
    item, ids, next_url = _member_page(ctx)
    profiles = ctx.sandbox.store.profiles
    data = [profile_resource(profiles[i], ctx.base, view, joined_at=item.members[i]) for i in ids]
    return Reply(200, document(data, ctx.url, next_url))


def get_profile_ids_for_list(ctx: Context) -> Reply:
    _, ids, next_url = _member_page(ctx)
    return Reply(200, document([identifier("profile", i) for i in ids], ctx.url, next_url))


def _profile_ids(body: Any) -> list[str]:
    document_ = require_object(body, "", "request body")
    if "data" not in document_:
        raise invalid("'data' is a required property.", pointer="/data")
    items = require_array(document_["data"], "/data", "data")
    if len(items) > _MAX_MEMBERSHIP:
        raise invalid(
            f"At most {_MAX_MEMBERSHIP} profiles may be added or removed per request.",
            pointer="/data",
        )
    ids = []
    for index, raw in enumerate(items):
        data = require_resource(raw, "profile", pointer=f"/data/{index}", attributes=False)
        if not isinstance(data.get("id"), str):
            raise invalid("Each profile needs a string id.", pointer=f"/data/{index}/id")
        ids.append(data["id"])
    return ids


def add_profiles_to_list(ctx: Context) -> Reply:
    ids = _profile_ids(ctx.body)
    ctx.sandbox.add_to_list(ctx.params["id"], ids)
    return Reply(204)


def remove_profiles_from_list(ctx: Context) -> Reply:
    ids = _profile_ids(ctx.body)
    ctx.sandbox.remove_from_list(ctx.params["id"], ids)
    return Reply(204)
