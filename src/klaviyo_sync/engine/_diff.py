"""Field-level diffs: what a draft would change on a profile, against what is known of it.

What a profile holds *before* comes from one of three places:

- nothing: the customer has no profile yet (a create);
- the store: the state last applied to the linked profile (``plan`` offline, and every sync);
- Klaviyo: the profile as a lookup returned it (a match, a consent check, ``plan --live``).

A diff names each field that would be *set* (empty before), *changed*, *cleared* (a
``when_empty = "clear"`` row meets an empty source) or *kept* (the row maps it, the source is
empty, so the field is left as it is: seed 000's phone number), plus consent and list changes.
A customer whose diff changes nothing costs no request.

Klaviyo is the system of record for consent: a draft that would subscribe a profile Klaviyo has
as unsubscribed is *skipped* on an existing profile unless its row says
``override_klaviyo_consent = true``. A skipped change is shown, recorded in the outcome, and
remembered as settled so the next run does not ask again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..draft import LIST_PREFIX, UCLIST_PREFIX, Draft

__all__ = [
    "Before",
    "ConsentChange",
    "ConsentState",
    "Diff",
    "FieldChange",
    "ListChange",
    "applied_state",
    "compute_diff",
    "flatten",
]

ConsentState = Literal["new", "unknown", "subscribed", "unsubscribed", "never_subscribed"]
FieldKind = Literal["set", "change", "clear", "kept"]
BeforeSource = Literal["new", "store", "klaviyo"]

_KLAVIYO_CONSENT: Final[Mapping[str, ConsentState]] = {
    "SUBSCRIBED": "subscribed",
    "UNSUBSCRIBED": "unsubscribed",
    "NEVER_SUBSCRIBED": "never_subscribed",
}
NO_SUBSCRIBE_ROW: Final = "(no SubscribeProfile row)"
NOT_ELIGIBLE: Final = "not added: SubscribeProfile is not true"


@dataclass(slots=True, frozen=True)
class Before:
    """What is known of a profile before a run writes to it.

    ``fields`` is flattened (``email``, ``location.city``, ``properties.Tier``); ``lists`` and
    ``uclists`` are the list intents last applied (only the store knows them). ``klaviyo``
    is Klaviyo's own email-marketing consent when it was read, which is what consent ownership
    is decided on; ``consent`` is what a diff compares with.
    """

    source: BeforeSource
    fields: Mapping[str, Any] = field(default_factory=dict)
    consent: ConsentState = "unknown"
    lists: Mapping[str, bool] = field(default_factory=dict)
    uclists: Mapping[str, bool] = field(default_factory=dict)
    klaviyo: ConsentState | None = None

    @classmethod
    def new(cls) -> Before:
        return cls("new", consent="new")

    @classmethod
    def from_applied(cls, state: Mapping[str, Any] | None) -> Before:
        """From the state the store kept; ``None`` (an older store): nothing is known."""
        if not state:
            return cls("store")
        subscribe = state.get("subscribe")
        consent: ConsentState = (
            "unknown" if subscribe is None else "subscribed" if subscribe else "unsubscribed"
        )
        return cls(
            "store",
            fields=flatten(state.get("attributes") or {}),
            consent=consent,
            lists=dict(state.get("lists") or {}),
            uclists=dict(state.get("uclists") or {}),
        )

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], applied: Before | None = None) -> Before:
        """From a profile resource Klaviyo returned; list intents still come from ``applied``."""
        attributes = dict(profile.get("attributes") or {})
        consent = klaviyo_consent(attributes)
        known = applied or cls("klaviyo")
        return cls(
            "klaviyo",
            fields=flatten(_profile_fields(attributes)),
            consent=consent or known.consent,
            lists=known.lists,
            uclists=known.uclists,
            klaviyo=consent,
        )

    def with_klaviyo_consent(self, consent: ConsentState | None) -> Before:
        """The same, with Klaviyo's own consent learned from a read."""
        if consent is None:
            return self
        return Before(self.source, self.fields, consent, self.lists, self.uclists, consent)


@dataclass(slots=True, frozen=True)
class FieldChange:
    """One profile field a run would touch, or leave (``kept``) because the source is empty."""

    field: str
    kind: FieldKind
    before: Any = None
    after: Any = None


@dataclass(slots=True, frozen=True)
class ConsentChange:
    """A change of email-marketing consent; ``skipped`` says why it will not be made."""

    before: ConsentState
    after: Literal["subscribed", "unsubscribed"]
    row: str
    skipped: str | None = None


@dataclass(slots=True, frozen=True)
class ListChange:
    """A list membership change: ``consent`` lists (``LIST_``) go through Klaviyo's consent
    endpoint, the others (``UCLIST_``) through membership; ``skipped`` says why not."""

    name: str
    action: Literal["add", "remove"]
    consent: bool
    before: bool | None = None
    skipped: str | None = None

    @property
    def row(self) -> str:
        return (LIST_PREFIX if self.consent else UCLIST_PREFIX) + self.name


@dataclass(slots=True)
class Diff:
    """Everything a draft would change on one profile."""

    before: Before
    fields: list[FieldChange] = field(default_factory=list)
    consent: ConsentChange | None = None
    lists: list[ListChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to send: no field set, changed or cleared, no consent or list change."""
        if any(change.kind != "kept" for change in self.fields):
            return False
        if self.consent is not None and self.consent.skipped is None:
            return False
        return all(change.skipped is not None for change in self.lists)

    def of_kind(self, kind: FieldKind) -> list[FieldChange]:
        return [change for change in self.fields if change.kind == kind]

    @property
    def unsubscribes(self) -> bool:
        """Whether this would unsubscribe a profile that is, or may be, subscribed."""
        consent = self.consent
        return (
            consent is not None
            and consent.skipped is None
            and consent.after == "unsubscribed"
            and consent.before in ("subscribed", "unknown")
        )

    @property
    def list_removals(self) -> list[ListChange]:
        return [c for c in self.lists if c.action == "remove" and c.skipped is None]


def compute_diff(
    draft: Draft,
    before: Before,
    mapped: frozenset[str],
    *,
    subscribe_row: bool,
    existing: bool,
    resend: bool = False,
) -> Diff:
    """The diff of ``draft`` against ``before``.

    ``mapped`` is the collection's flattened fields (what "kept" is judged on), ``subscribe_row``
    whether it maps ``SubscribeProfile``, ``existing`` whether the profile exists already (an
    update or a match: consent ownership applies), and ``resend`` (``--full``) sends consent
    and lists again even where they equal what was last applied.
    """
    diff = Diff(before)
    after = flatten(draft.profile_attributes())
    diff.fields.extend(_field_changes(after, before.fields))
    diff.fields.extend(
        FieldChange(key, "kept", before.fields[key])
        for key in sorted(mapped - after.keys())
        if _present(before.fields.get(key))
    )
    diff.consent = _consent_change(draft, before, subscribe_row, existing, resend)
    diff.lists = list(_list_changes(draft, before, existing, resend))
    return diff


def applied_state(
    before: Mapping[str, Any] | None, draft: Draft, unsettled: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """What the store keeps once ``draft`` is applied over the state ``before``: a partial
    patch leaves what it did not send as it was. ``unsettled`` names intents that were not
    carried out for a reason the next run may not have (``subscribe``, ``list:Name``,
    ``uclist:Name``); they are left out so the next run tries them again."""
    state = draft.state()
    old = dict(before or {})
    attributes = dict(old.get("attributes") or {})
    for key, value in state["attributes"].items():
        if isinstance(value, dict) and isinstance(attributes.get(key), dict):
            attributes[key] = {**attributes[key], **value}
        else:
            attributes[key] = value
    subscribe = state["subscribe"]
    if subscribe is None or "subscribe" in unsettled:
        subscribe = old.get("subscribe")
    return {
        "attributes": attributes,
        "subscribe": subscribe,
        "lists": _merged(old.get("lists"), state["lists"], "list", unsettled),
        "uclists": _merged(old.get("uclists"), state["uclists"], "uclist", unsettled),
    }


def flatten(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``{"location": {"city": x}}`` → ``{"location.city": x}``; the same for properties."""
    flat: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in ("location", "properties") and isinstance(value, Mapping):
            for inner, item in value.items():
                flat[f"{key}.{inner}"] = item
        else:
            flat[key] = value
    return flat


def klaviyo_consent(attributes: Mapping[str, Any]) -> ConsentState | None:
    """Email-marketing consent from a profile's ``subscriptions``, when it was asked for."""
    subscriptions = attributes.get("subscriptions")
    if not isinstance(subscriptions, Mapping):
        return None
    marketing = (subscriptions.get("email") or {}).get("marketing") or {}
    return _KLAVIYO_CONSENT.get(str(marketing.get("consent")))


def _field_changes(after: Mapping[str, Any], before: Mapping[str, Any]) -> Iterator[FieldChange]:
    for key, value in after.items():
        old = before.get(key)
        if value is None:
            if _present(old):
                yield FieldChange(key, "clear", old, None)
        elif not _present(old):
            yield FieldChange(key, "set", None, value)
        elif not _same(key, old, value):
            yield FieldChange(key, "change", old, value)


def _consent_change(
    draft: Draft, before: Before, subscribe_row: bool, existing: bool, resend: bool
) -> ConsentChange | None:
    if draft.subscribe is None:
        return None
    want: Literal["subscribed", "unsubscribed"] = (
        "subscribed" if draft.subscribe else "unsubscribed"
    )
    if before.consent == want and not resend:
        return None
    row = "SubscribeProfile" if subscribe_row else NO_SUBSCRIBE_ROW
    skipped = None
    if want == "subscribed" and _owned_by_klaviyo(draft, before, existing, "SubscribeProfile"):
        skipped = _OWNED
    return ConsentChange(before.consent, want, row, skipped)


def _list_changes(
    draft: Draft, before: Before, existing: bool, resend: bool
) -> Iterator[ListChange]:
    for consent, wanted, known in (
        (True, draft.lists, before.lists),
        (False, draft.uclists, before.uclists),
    ):
        for name, want in wanted.items():
            was = known.get(name)
            if was == want and not resend:
                continue
            skipped = None
            if want and draft.subscribe is not True:
                skipped = NOT_ELIGIBLE
            elif (
                want and consent and _owned_by_klaviyo(draft, before, existing, LIST_PREFIX + name)
            ):
                skipped = _OWNED
            yield ListChange(name, "add" if want else "remove", consent, was, skipped)


_OWNED: Final = (
    "kept: Klaviyo has this profile as unsubscribed, and Klaviyo owns consent "
    "(override_klaviyo_consent = true on the row lets the source subscribe it again)"
)


def _owned_by_klaviyo(draft: Draft, before: Before, existing: bool, row: str) -> bool:
    return existing and before.klaviyo == "unsubscribed" and row not in draft.overrides


def _merged(
    old: Any, new: Mapping[str, bool], prefix: str, unsettled: frozenset[str]
) -> dict[str, bool]:
    merged = dict(old or {})
    for name, want in new.items():
        if f"{prefix}:{name}" not in unsettled:
            merged[name] = want
    return merged


def _profile_fields(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Klaviyo's read-only and derived attributes are not fields a mapping can write.
    skip = ("subscriptions", "predictive_analytics", "created", "updated", "last_event_date")
    return {key: value for key, value in attributes.items() if key not in skip}


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def _same(key: str, old: Any, new: Any) -> bool:
    if key == "email" and isinstance(old, str) and isinstance(new, str):
        return old.casefold() == new.casefold()
    return bool(old == new)
