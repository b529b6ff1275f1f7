"""Drafts: what a collection produces for one customer, and the one place ``null`` is made.

Every field of a draft is *set* (a value), *absent* (no key at all) or *clear* (the ``CLEAR``
marker, only ever put there by a mapping row that says ``when_empty = "clear"``). The payload
builders below turn ``CLEAR`` into JSON ``null`` and leave absent fields out, so a missing source
value can never reach Klaviyo as ``null`` (seed 000: Klaviyo honours ``null`` as "clear this
field" and wiped good phone numbers).

Destinations are the seed's names: ``Email``, ``PhoneNumber``, ``ExternalId``, ``FirstName``,
``LastName``, ``Organization``, address parts, ``SubscribeProfile``, ``LIST_{name}``,
``UCLIST_{name}``; ``Type`` and ``Id`` drive routing; any other name is a custom property.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

__all__ = [
    "CLEAR",
    "LIST_PREFIX",
    "PROFILE_ATTRIBUTES",
    "PROFILE_LOCATION",
    "UCLIST_PREFIX",
    "Clear",
    "Destination",
    "Draft",
    "parse_destination",
]


class Clear(Enum):
    """The marker for "send null": a distinct type so no plain None is ever mistaken for it."""

    CLEAR = "clear"

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR: Final = Clear.CLEAR

LIST_PREFIX = "LIST_"
UCLIST_PREFIX = "UCLIST_"

# Seed destination name → Klaviyo profile attribute.
PROFILE_ATTRIBUTES: Final[Mapping[str, str]] = {
    "Email": "email",
    "PhoneNumber": "phone_number",
    "ExternalId": "external_id",
    "FirstName": "first_name",
    "LastName": "last_name",
    "Organization": "organization",
    "Title": "title",
    "Locale": "locale",
    "Image": "image",
}
# Seed destination name → key of the profile's ``location``.
PROFILE_LOCATION: Final[Mapping[str, str]] = {
    "Address1": "address1",
    "Address2": "address2",
    "City": "city",
    "Region": "region",
    "Zip": "zip",
    "Country": "country",
    "Timezone": "timezone",
}

DestinationKind = Literal[
    "type", "id", "attribute", "location", "subscribe", "list", "uclist", "property"
]


@dataclass(slots=True, frozen=True)
class Destination:
    """Where a mapping row's value goes. ``key`` is the attribute, location key, list name or
    property name; empty for ``type``, ``id`` and ``subscribe``."""

    kind: DestinationKind
    key: str = ""


def parse_destination(name: str) -> Destination:
    """Classify a destination name the way the seed does."""
    if name == "Type":
        return Destination("type")
    if name == "Id":
        return Destination("id")
    if name == "SubscribeProfile":
        return Destination("subscribe")
    if name in PROFILE_ATTRIBUTES:
        return Destination("attribute", PROFILE_ATTRIBUTES[name])
    if name in PROFILE_LOCATION:
        return Destination("location", PROFILE_LOCATION[name])
    if name.startswith(UCLIST_PREFIX) and len(name) > len(UCLIST_PREFIX):
        return Destination("uclist", name[len(UCLIST_PREFIX) :])
    if name.startswith(LIST_PREFIX) and len(name) > len(LIST_PREFIX):
        return Destination("list", name[len(LIST_PREFIX) :])
    return Destination("property", name)


@dataclass(slots=True)
class Draft:
    """One customer's intended profile state, as one collection computed it.

    ``subscribe`` is True (subscribe), False (unsubscribe: the value was false, or the
    collection has no ``SubscribeProfile`` row, as the seed says) or None (the row exists but
    its value was empty: consent is left as it is). ``lists`` and ``uclists`` map a list name
    to True (add) or False (remove).
    """

    customer_id: str
    collection: str
    profile_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    subscribe: bool | None = None
    lists: dict[str, bool] = field(default_factory=dict)
    uclists: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    overrides: frozenset[str] = frozenset()
    """destinations (``SubscribeProfile``, ``LIST_{name}``) whose row says
    ``override_klaviyo_consent = true``: the source may re-subscribe a profile Klaviyo has as
    unsubscribed"""

    @property
    def email(self) -> str | None:
        value = self.attributes.get("email")
        return value if isinstance(value, str) else None

    @property
    def phone_number(self) -> str | None:
        value = self.attributes.get("phone_number")
        return value if isinstance(value, str) else None

    @property
    def has_identifier(self) -> bool:
        """Klaviyo can create or match a profile only with an email or a phone number."""
        return self.email is not None or self.phone_number is not None

    def profile_attributes(self) -> dict[str, Any]:
        """JSON:API ``attributes`` for a create or a partial patch: absent stays absent."""
        attributes = {key: _json(value) for key, value in self.attributes.items()}
        if self.location:
            attributes["location"] = {key: _json(v) for key, v in self.location.items()}
        if self.properties:
            attributes["properties"] = {key: _json(v) for key, v in self.properties.items()}
        return attributes

    def profile_document(self, profile_id: str | None = None) -> dict[str, Any]:
        """The request body for ``POST /api/profiles`` (no id) or ``PATCH`` (with the id)."""
        data: dict[str, Any] = {"type": "profile", "attributes": self.profile_attributes()}
        if profile_id is not None:
            data["id"] = profile_id
        return {"data": data}

    def state(self) -> dict[str, Any]:
        """Everything this draft would apply, as JSON: what the store keeps once it is applied."""
        return {
            "attributes": self.profile_attributes(),
            "subscribe": self.subscribe,
            "lists": dict(self.lists),
            "uclists": dict(self.uclists),
        }

    def fingerprint(self) -> str:
        """A digest of everything this draft would apply; equal digests mean nothing to send."""
        state = self.state()
        if self.overrides:
            # Turning an override on must bring back the intents it held back last time.
            state["overrides"] = sorted(self.overrides)
        canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _json(value: Any) -> Any:
    """The JSON value to send: ``CLEAR`` is the only thing that becomes ``null``."""
    if value is CLEAR:
        return None
    if value is None:
        raise ValueError("a draft holds None; an empty value must be absent or CLEAR")
    return value
