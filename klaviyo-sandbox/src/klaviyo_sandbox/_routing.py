"""The operation table's building blocks: request context, reply, router, paging helpers."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import ApiError, invalid, not_found
from ._lists import LIST_FIELDS
from ._query import Page, Query
from ._sandbox import Sandbox

__all__ = [
    "PARTIAL_FAILURE",
    "Context",
    "Handler",
    "Operation",
    "Reply",
    "Router",
    "check_sparse",
    "partial_failure",
    "refuse",
    "slice_after",
]

PARTIAL_FAILURE = "X-Klaviyo-Partial-Failure"


@dataclass(slots=True)
class Context:
    """What a handler needs from the request."""

    sandbox: Sandbox
    params: dict[str, str]
    query: Query
    body: Any
    base: str
    """scheme://host[:port] the request came to, for absolute links"""
    url: str
    path: str
    size: int = 0
    """body size in bytes"""


@dataclass(slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context], Reply]


def partial_failure(dropped: Sequence[str]) -> dict[str, str]:
    """The header naming fields Klaviyo ignored on a write it otherwise accepted."""
    return {PARTIAL_FAILURE: ",".join(dropped)} if dropped else {}


@dataclass(slots=True, frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    handler: Handler | None
    """``None``: in Klaviyo's API, not emulated here"""
    takes_body: bool = False
    include: tuple[str, ...] = ()
    """the spec's ``include`` values for this operation (the sandbox emulates none of them)"""


class Router:
    """Finds the operation for a method and path; 404 and 405 in Klaviyo's envelope."""

    __slots__ = ("_routes",)

    def __init__(self, operations: Sequence[Operation]) -> None:
        by_template: dict[str, list[Operation]] = {}
        for operation in operations:
            by_template.setdefault(operation.template, []).append(operation)
        routes = []
        for template, ops in by_template.items():
            pattern = re.sub(r"\{([a-z_]+)\}", r"(?P<\1>[^/]+)", template)
            routes.append((re.compile(pattern), template, ops))
        # Literal segments win over parameters, as in the spec's own routing.
        routes.sort(key=lambda route: route[1].count("{"))
        self._routes = routes

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]  # Klaviyo's own links end in "/"; both spellings reach it
        for pattern, _template, ops in self._routes:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            for operation in ops:
                if operation.method == method:
                    return operation, found.groupdict()
            allowed = ", ".join(sorted(op.method for op in ops))
            raise ApiError(
                405,
                "method_not_allowed",
                f'Method "{method}" not allowed.',
                headers={"Allow": allowed},
            )
        raise not_found(f"No API endpoint matches {path!r}.")


_TAG_FIELDS = ("id", "name")


def check_sparse(query: Query, operation: Operation) -> None:
    """Unknown ``fields[list]``, ``fields[tag]`` and ``include`` values are a 400 on every
    route, rather than answered with emptied attributes."""
    extra = ("profile_count",) if operation.operation_id == "get_list" else ()
    query.csv("fields[list]", (*LIST_FIELDS, *extra))
    query.csv("fields[tag]", _TAG_FIELDS)
    included = query.csv("include", operation.include)
    if included:
        raise invalid("include is not emulated by the sandbox.", parameter="include")


def refuse(query: Query, *keys: str) -> None:
    """Klaviyo parameters the sandbox does not emulate: say so rather than ignore them."""
    for key in keys:
        if query.get(key):
            raise invalid(f"{key} is not emulated by the sandbox.", parameter=key)


def slice_after(ordered: Sequence[str], page: Page) -> tuple[list[str], str | None]:
    """One page of sorted ids after the cursor, and the next cursor position if more remain."""
    start = 0 if page.after is None else bisect_right(ordered, page.after)
    chosen = list(ordered[start : start + page.size + 1])
    if len(chosen) > page.size:
        chosen = chosen[: page.size]
        return chosen, chosen[-1]
    return chosen, None


def offset_page(total: int, page: Page) -> tuple[range, str | None]:
    """One page of positions 0..total-1 by offset (for sequences that never reorder)."""
    try:
        start = 0 if page.after is None else int(page.after) + 1
    except ValueError:
        raise invalid("The page cursor is not valid.", parameter="page[cursor]") from None
    start = max(start, 0)
    stop = min(start + page.size, total)
    more = stop < total
    return range(start, stop), (str(stop - 1) if more else None)
