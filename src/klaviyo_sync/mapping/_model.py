"""The value objects of a mapping: rows, collections, and the phone settings they compile with."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "COLLECTION_NAMES",
    "KINDS",
    "ON_VALUES",
    "WHEN_EMPTY",
    "Collection",
    "CollectionName",
    "Collections",
    "MappingRow",
    "On",
    "PhoneSettings",
    "RowKind",
    "WhenEmpty",
]

RowKind = Literal["static", "field", "formula"]
WhenEmpty = Literal["omit", "clear"]
CollectionName = Literal["add", "update"]
On = Literal["always", "create"]

KINDS: Final = ("static", "field", "formula")
WHEN_EMPTY: Final = ("omit", "clear")
COLLECTION_NAMES: Final = ("add", "update")
ON_VALUES: Final = ("always", "create")


@dataclass(slots=True, frozen=True)
class MappingRow:
    """One mapping: where the value comes from (``kind`` + ``source``) and where it goes.

    ``source`` is the value itself for ``static``, a dotted path into the customer record for
    ``field`` (``CustomFields.Newsletter``, ``Addresses.0.City``) and the expression text for
    ``formula``. ``when_empty`` says what an empty value does: ``omit`` leaves the Klaviyo field
    as it is, ``clear`` sends ``null`` and wipes it.

    ``on = "create"`` makes the row create-only: it belongs in the ``add`` collection (a profile
    created or first linked) and is never sent on later updates, so Klaviyo owns the value after
    that. ``override_klaviyo_consent`` (``SubscribeProfile`` and ``LIST_`` rows only) lets a true
    value subscribe a profile again that unsubscribed in Klaviyo; by default Klaviyo's consent
    wins on update.
    """

    destination: str
    kind: RowKind
    source: Any
    when_empty: WhenEmpty = "omit"
    description: str = ""
    on: On = "always"
    override_klaviyo_consent: bool = False


@dataclass(slots=True, frozen=True)
class Collection:
    """A named, ordered set of rows: ``add`` creates profiles, ``update`` patches them."""

    name: CollectionName
    rows: tuple[MappingRow, ...]

    def row(self, destination: str) -> MappingRow | None:
        """The row writing ``destination``, if there is one."""
        return next((r for r in self.rows if r.destination == destination), None)


@dataclass(slots=True, frozen=True)
class Collections:
    """The two collections of a configuration."""

    add: Collection
    update: Collection

    def __iter__(self) -> Iterator[Collection]:
        return iter((self.add, self.update))


@dataclass(slots=True, frozen=True)
class PhoneSettings:
    """How phone numbers normalize: the default region, and whether to require valid numbers."""

    region: str = "US"
    strict: bool = False
