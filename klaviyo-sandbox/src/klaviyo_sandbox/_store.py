"""Profiles in memory, with the identifier indexes that keep every lookup O(1).

Emails are indexed case-insensitively, as Klaviyo matches them; phone numbers in E.164 form;
ids in a sorted index so a page is a binary search plus a slice, whatever the store's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._consent import ChannelConsent
from ._ids import SortedIds
from ._validation import IDENTIFIERS, PropertyPatch

__all__ = ["Profile", "ProfileStore"]


@dataclass(slots=True)
class Profile:
    """One Klaviyo profile. Optional parts stay ``None`` until used, to keep a million small."""

    id: str
    created: float
    updated: float
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    locale: str | None = None
    title: str | None = None
    image: str | None = None
    location: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    email_marketing: ChannelConsent | None = None
    sms_marketing: ChannelConsent | None = None

    def consent(self, channel: str) -> ChannelConsent:
        """The channel's consent record, created on first use."""
        if channel == "email":
            if self.email_marketing is None:
                self.email_marketing = ChannelConsent()
            return self.email_marketing
        if self.sms_marketing is None:
            self.sms_marketing = ChannelConsent()
        return self.sms_marketing

    def identifiers(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in IDENTIFIERS}


def _key(field: str, value: str) -> str:
    return value.lower() if field == "email" else value


class ProfileStore:
    """Profiles by id, plus one index per identifier."""

    __slots__ = ("_index", "ids", "profiles")

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.ids = SortedIds()
        self._index: dict[str, dict[str, str]] = {name: {} for name in IDENTIFIERS}

    def __len__(self) -> int:
        return len(self.profiles)

    def get(self, profile_id: str) -> Profile | None:
        return self.profiles.get(profile_id)

    def owner(self, field: str, value: str) -> str | None:
        return self._index[field].get(_key(field, value))

    def owners(self, attributes: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(field, profile id) for each identifier in ``attributes`` that a profile holds."""
        found = []
        for field in IDENTIFIERS:
            value = attributes.get(field)
            if value:
                owner = self.owner(field, value)
                if owner is not None:
                    found.append((field, owner))
        return found

    def insert(self, profile: Profile) -> None:
        self.profiles[profile.id] = profile
        self.ids.add(profile.id)
        for field in IDENTIFIERS:
            value = getattr(profile, field)
            if value:
                self._index[field][_key(field, value)] = profile.id

    def write(
        self,
        profile: Profile,
        attributes: Mapping[str, Any],
        patch: PropertyPatch | None,
        now: float,
    ) -> None:
        """Apply checked attributes: absent leaves a field, ``None`` clears it."""
        for field, value in attributes.items():
            if field in IDENTIFIERS:
                self._reindex(profile, field, value)
            elif field == "location":
                profile.location = _merge(profile.location, value)
            elif field == "properties":
                profile.properties = _merge(profile.properties, value)
            else:
                setattr(profile, field, value)
        if patch is not None:
            profile.properties = _patch_properties(profile.properties, patch)
        profile.updated = now

    def remove(self, profile: Profile) -> None:
        del self.profiles[profile.id]
        self.ids.discard(profile.id)
        for field in IDENTIFIERS:
            value = getattr(profile, field)
            if value and self._index[field].get(_key(field, value)) == profile.id:
                del self._index[field][_key(field, value)]

    def _reindex(self, profile: Profile, field: str, value: str | None) -> None:
        index = self._index[field]
        old = getattr(profile, field)
        if old:
            index.pop(_key(field, old), None)
        setattr(profile, field, value)
        if value:
            index[_key(field, value)] = profile.id

    def page(self, after: str | None, count: int) -> list[Profile]:
        return [self.profiles[i] for i in self.ids.after(after, count)]

    def many(self, ids: Iterable[str]) -> list[Profile]:
        return [p for p in (self.profiles.get(i) for i in ids) if p is not None]

    def clear(self) -> None:
        self.profiles.clear()
        self.ids.clear()
        for index in self._index.values():
            index.clear()


def _merge(current: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any] | None:
    # A null object clears the whole object; a null key inside it clears that key only.
    if update is None:
        return None
    merged = dict(current or {})
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None


def _patch_properties(
    current: dict[str, Any] | None, patch: PropertyPatch
) -> dict[str, Any] | None:
    props = dict(current or {})
    for key, value in patch.append.items():
        values = value if isinstance(value, list) else [value]
        existing = props.get(key)
        if existing is None:
            props[key] = list(values)
        elif isinstance(existing, list):
            props[key] = [*existing, *values]
        else:
            props[key] = [existing, *values]
    for key, value in patch.unappend.items():
        existing = props.get(key)
        if isinstance(existing, list):
            drop = value if isinstance(value, list) else [value]
            props[key] = [item for item in existing if item not in drop]
    for key in patch.unset:
        props.pop(key, None)
    return props or None
