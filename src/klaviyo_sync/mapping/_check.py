"""``check``: everything wrong or surprising about a configuration, before any customer is sent.

Errors stop a run (a formula that does not compile, a list that does not exist, nothing to
identify a profile by, a helper named but not called). Warnings are legal but probably not what
was meant (no SubscribeProfile row unsubscribes everyone; a clear row wipes Klaviyo data when
the source is empty; a row that overrides Klaviyo's consent re-subscribes people who
unsubscribed there; a formula or field row reads a name that is no known customer field, which
is empty unless the records carry that key). Info says what will happen (these destinations
become custom properties; this row is sent on creates only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ..draft import (
    LIST_PREFIX,
    PROFILE_ATTRIBUTES,
    PROFILE_LOCATION,
    UCLIST_PREFIX,
    parse_destination,
)
from ._compile import compile_rows, consent_override_problem, region_problem
from ._formula import CUSTOMER_FIELDS, name_findings, unknown_field
from ._model import Collection, Collections, PhoneSettings

__all__ = ["CheckMessage", "check_collections"]

Severity = Literal["error", "warning", "info"]

_DOUBLE: Final = "double_opt_in"
_SINGLE: Final = "single_opt_in"
_KNOWN: Final = (
    "Type",
    "Id",
    "SubscribeProfile",
    *PROFILE_ATTRIBUTES,
    *PROFILE_LOCATION,
)


@dataclass(slots=True, frozen=True)
class CheckMessage:
    """One finding of ``check``; ``collection`` and ``row`` say where, when it is about one."""

    severity: Severity
    collection: str | None
    row: str | None
    message: str

    def __str__(self) -> str:
        where = " ".join(
            p
            for p in (self.collection and f"[{self.collection}]", self.row and repr(self.row))
            if p
        )
        return f"{self.severity}: {where + ': ' if where else ''}{self.message}"


def check_collections(
    collections: Collections,
    *,
    phone: PhoneSettings,
    lists: Mapping[str, str] | None = None,
    account_opt_in: str | None = None,
) -> list[CheckMessage]:
    """Every finding about ``collections``, errors first within each collection.

    ``lists`` maps each Klaviyo list name to its ``opt_in_process`` (``double_opt_in`` or
    ``single_opt_in``) when Klaviyo was consulted; ``None`` skips the list checks.
    ``account_opt_in`` is the account's opt-in process as configured (Klaviyo's API does not
    show it), which a ``SubscribeProfile`` subscription follows since it names no list.
    """
    messages: list[CheckMessage] = []
    problem = region_problem(phone)
    if problem:
        messages.append(CheckMessage("error", None, None, problem))
    for collection in collections:
        found = [
            *_compile_errors(collection),
            *_names(collection),
            *_identifier(collection),
            *_lists(collection, lists),
            *_subscribe(collection, account_opt_in),
            *_routing(collection),
            *_clears(collection),
            *_ownership(collection),
            *_properties(collection),
        ]
        order = {"error": 0, "warning": 1, "info": 2}
        messages.extend(sorted(found, key=lambda m: order[m.severity]))
    return messages


def _compile_errors(collection: Collection) -> Iterator[CheckMessage]:
    _, errors = compile_rows(collection)
    for error in errors:
        # The message names collection and row itself: say them once.
        yield CheckMessage("error", collection.name, error.row, error.reason)


def _names(collection: Collection) -> Iterator[CheckMessage]:
    """Names formulas and field rows read that no customer may have (see ``name_findings``)."""
    compiled, _ = compile_rows(collection)
    for row in (c.row for c in compiled):
        if row.kind == "formula":
            for severity, message in name_findings(row.source):
                yield CheckMessage(severity, collection.name, row.destination, message)
        elif row.kind == "field" and isinstance(row.source, str):
            head = row.source.split(".")[0].strip()
            if head not in CUSTOMER_FIELDS:
                message = unknown_field(head)
                yield CheckMessage("warning", collection.name, row.destination, message)


def _identifier(collection: Collection) -> Iterator[CheckMessage]:
    if collection.row("Email") is None and collection.row("PhoneNumber") is None:
        yield CheckMessage(
            "error",
            collection.name,
            None,
            "no Email and no PhoneNumber mapping: Klaviyo has nothing to identify a profile by, "
            "so every customer would fail",
        )


def _subscribe(collection: Collection, account_opt_in: str | None) -> Iterator[CheckMessage]:
    if collection.row("SubscribeProfile") is None:
        yield CheckMessage(
            "warning",
            collection.name,
            None,
            "no SubscribeProfile mapping: profiles will be unsubscribed "
            "(map SubscribeProfile deliberately to honour each customer's consent)",
        )
    elif account_opt_in == _DOUBLE:
        yield CheckMessage(
            "info",
            collection.name,
            "SubscribeProfile",
            "the account is double opt-in (account_opt_in, Klaviyo's default; its API does "
            "not show it): a subscription names no list, so Klaviyo sends a consent email and "
            "the profile is subscribed only once it confirms; set account_opt_in = "
            '"single_opt_in" if the account subscribes at once',
        )


def _routing(collection: Collection) -> Iterator[CheckMessage]:
    if collection.row("Id") is None:
        yield CheckMessage(
            "warning",
            collection.name,
            None,
            "no Id mapping (usually the formula link()): drafts carry no Klaviyo profile id",
        )
    if collection.row("Type") is None:
        yield CheckMessage(
            "info",
            collection.name,
            None,
            'no Type mapping: the seed requires Type = "profile"; profiles are sent as such anyway',
        )


def _clears(collection: Collection) -> Iterator[CheckMessage]:
    for row in collection.rows:
        if row.when_empty == "clear":
            yield CheckMessage(
                "warning",
                collection.name,
                row.destination,
                'when_empty = "clear": this row will clear the Klaviyo field when the source '
                "value is empty",
            )


def _ownership(collection: Collection) -> Iterator[CheckMessage]:
    for row in collection.rows:
        # In update a create-only row is already a compile error; no need to explain it too.
        if row.on == "create" and collection.name == "add":
            yield CheckMessage(
                "info",
                collection.name,
                row.destination,
                f'{row.destination!r} is create-only (on = "create"): sent when a profile is '
                "created or first linked, never on later updates, so an edit made in Klaviyo "
                "stays",
            )
        # A misplaced override is a compile error already; warning about it would add noise.
        if row.override_klaviyo_consent is True and not consent_override_problem(row.destination):
            yield CheckMessage(
                "warning",
                collection.name,
                row.destination,
                "override_klaviyo_consent = true: a profile that unsubscribed in Klaviyo is "
                "subscribed again when this value is true",
            )


def _properties(collection: Collection) -> Iterator[CheckMessage]:
    properties: list[str] = []
    for row in collection.rows:
        if (
            not isinstance(row.destination, str)
            or parse_destination(row.destination).kind != "property"
        ):
            continue
        near = _near_miss(row.destination)
        if near:
            yield CheckMessage(
                "warning",
                collection.name,
                row.destination,
                f"{row.destination!r} is not a Klaviyo profile field and will become a custom "
                f"property; did you mean {near!r}? (names are case-sensitive)",
            )
        else:
            properties.append(row.destination)
    if properties:
        what = (
            "not a Klaviyo profile field, written to the profile's custom properties: "
            if len(properties) == 1
            else "not Klaviyo profile fields, written to the profile's custom properties: "
        )
        yield CheckMessage(
            "info", collection.name, None, what + ", ".join(repr(p) for p in properties)
        )


def _near_miss(destination: str) -> str | None:
    folded = destination.casefold()
    for known in _KNOWN:
        if known.casefold() == folded:
            return known
    for prefix in (UCLIST_PREFIX, LIST_PREFIX):
        if folded.startswith(prefix.casefold()) and len(destination) > len(prefix):
            return prefix + destination[len(prefix) :]
    return None


def _lists(collection: Collection, lists: Mapping[str, str] | None) -> Iterator[CheckMessage]:
    if lists is None:
        return
    for row in collection.rows:
        if not isinstance(row.destination, str):
            continue
        target = parse_destination(row.destination)
        if target.kind not in ("list", "uclist"):
            continue
        if target.key not in lists:
            yield CheckMessage(
                "error", collection.name, row.destination, _missing_list(target.key, lists)
            )
            continue
        opt_in = lists[target.key]
        if target.kind == "list" and opt_in == _DOUBLE:
            yield CheckMessage(
                "info",
                collection.name,
                row.destination,
                f"list {target.key!r} is double opt-in: LIST_ sends a consent email and the "
                "profile joins the list only once it confirms",
            )
        elif target.kind == "list" and opt_in == _SINGLE:
            yield CheckMessage(
                "warning",
                collection.name,
                row.destination,
                f"list {target.key!r} is single opt-in: LIST_ asks for consent, but Klaviyo "
                "subscribes the profile at once and sends no consent email; use UCLIST_ if that "
                "is intended, or make the list double opt-in",
            )
        elif target.kind == "uclist" and opt_in == _DOUBLE:
            yield CheckMessage(
                "warning",
                collection.name,
                row.destination,
                f"list {target.key!r} is double opt-in: UCLIST_ adds the profile without "
                "consent, so no consent email is sent and the profile never confirms; use LIST_ "
                "to ask for consent",
            )


def _missing_list(name: str, lists: Mapping[str, str]) -> str:
    near = [known for known in lists if known.casefold() == name.casefold()]
    hint = f" (did you mean {near[0]!r}? list names are case-sensitive)" if near else ""
    return f"there is no Klaviyo list named {name!r}{hint}"
