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
``override_klaviyo_consent = true``. A change nothing can be sent for (consent for a customer
with no email address, nor a phone number when SMS consent is on) is skipped too, so a plan
shows what the sync will do. A skipped change is shown, recorded in the outcome, and left
unsettled, so a later run (an override turned on, an email added) looks again.

A double opt-in subscription is *pending* until the profile confirms the consent email: the
applied state keeps ``"pending"`` for it (not true), a diff's before says ``pending``, and the
planner records the confirmation when it reads Klaviyo's consent and finds it given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from ..draft import LIST_PREFIX, UCLIST_PREFIX, Draft

__all__ = [
    "PENDING",
    "Before",
    "ConsentChange",
    "ConsentState",
    "Diff",
    "FieldChange",
    "ListChange",
    "applied_state",
    "compute_diff",
    "flatten",
    "interned",
    "list_key",
]

ConsentState = Literal[
    "new", "unknown", "subscribed", "unsubscribed", "never_subscribed", "pending"
]
FieldKind = Literal["set", "change", "clear", "kept"]
BeforeSource = Literal["new", "store", "klaviyo"]

_KLAVIYO_CONSENT: Final[Mapping[str, ConsentState]] = {
    "SUBSCRIBED": "subscribed",
    "UNSUBSCRIBED": "unsubscribed",
    "NEVER_SUBSCRIBED": "never_subscribed",
}
NO_SUBSCRIBE_ROW: Final = "(no SubscribeProfile row)"
NOT_ELIGIBLE: Final = "not added: SubscribeProfile is not true"
SUBSCRIBE_KEY: Final = "$subscribe"
PENDING: Final = "pending"
"""A double opt-in subscription sent and not yet confirmed: its value in the applied state, and
its name as a state (a diff's before, the audit's before)."""
PENDING_SUBSCRIBE: Final = "consent email sent (subscribed when confirmed)"
"""A subscription without a list on a double opt-in account, as the outcome and audit show it."""
PENDING_LIST: Final = "consent email sent (joins when confirmed)"
"""A ``LIST_`` subscription to a double opt-in list, as the outcome and audit show it."""
PENDING_REMOVED: Final = "removed (the consent email sent before can still be confirmed)"
"""A pending ``LIST_`` subscription taken off its list: it was never a member, and Klaviyo keeps
the confirmation it sent open."""
_NOTHING: Final[Mapping[str, Any]] = MappingProxyType({})


def list_key(name: str, *, consent: bool) -> str:
    """The applied state's key for a list intent: ``$list:{name}`` or ``$uclist:{name}``."""
    return sys.intern(f"{'$list' if consent else '$uclist'}:{name}")


@dataclass(slots=True, frozen=True)
class Before:
    """What is known of a profile before a run writes to it.

    ``fields`` is flattened (``email``, ``location.city``, ``properties.Tier``). ``applied`` is
    the state the store kept (flat too, with ``$subscribe`` and ``$list:{name}`` /
    ``$uclist:{name}`` intents; only the store knows list intents). ``klaviyo`` is Klaviyo's own
    email-marketing consent when it was read, which is what consent ownership is decided on;
    ``consent`` is what a diff compares with.
    """

    source: BeforeSource
    fields: Mapping[str, Any] = field(default_factory=lambda: _NOTHING)
    consent: ConsentState = "unknown"
    applied: Mapping[str, Any] = field(default_factory=lambda: _NOTHING)
    klaviyo: ConsentState | None = None

    @classmethod
    def new(cls) -> Before:
        return _NEW

    @classmethod
    def from_applied(cls, state: Mapping[str, Any] | None) -> Before:
        """From the flat state the store kept (``applied_state``); ``None``: nothing known."""
        if not state:
            return _UNKNOWN
        return cls("store", fields=state, consent=_applied_consent(state), applied=state)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], applied: Before | None = None) -> Before:
        """From a profile resource Klaviyo returned; list intents still come from ``applied``."""
        attributes = profile.get("attributes") or {}
        consent = klaviyo_consent(attributes)
        known = applied or _UNKNOWN
        return cls(
            "klaviyo",
            fields=flatten(_profile_fields(attributes)),
            consent=_merged_consent(known.consent, consent),
            applied=known.applied,
            klaviyo=consent,
        )

    def with_klaviyo_consent(self, consent: ConsentState | None) -> Before:
        """The same, with Klaviyo's own consent learned from a read. A subscription still
        pending stays pending while Klaviyo has the profile as never subscribed: that is what
        a pending double opt-in looks like in Klaviyo."""
        if consent is None:
            return self
        merged = _merged_consent(self.consent, consent)
        return Before(self.source, self.fields, merged, self.applied, consent)

    def with_applied(self, applied: Mapping[str, Any]) -> Before:
        """The same, with another applied state (a pending subscription found confirmed)."""
        fields = applied if self.source == "store" else self.fields
        consent = self.consent
        if self.klaviyo is None and self.source == "store":
            consent = _applied_consent(applied)
        return Before(self.source, fields, consent, applied, self.klaviyo)

    def list_intent(self, name: str, *, consent: bool) -> bool | None:
        """The list intent last applied; a pending subscription counts as asked (True)."""
        value = self.applied.get(list_key(name, consent=consent))
        if value == PENDING:
            return True
        return value if isinstance(value, bool) else None

    def list_pending(self, name: str) -> bool:
        """Whether the ``LIST_`` subscription to ``name`` waits for its consent email."""
        return self.applied.get(list_key(name, consent=True)) == PENDING


_NEW: Final = Before("new", consent="new")
_UNKNOWN: Final = Before("store")


@dataclass(slots=True, frozen=True)
class FieldChange:
    """One profile field a run would touch, or leave (``kept``) because the source is empty."""

    field: str
    kind: FieldKind
    before: Any = None
    after: Any = None


@dataclass(slots=True, frozen=True)
class ConsentChange:
    """A change of email-marketing consent; ``skipped`` says why it will not be made.

    ``confirm``: a subscription that sends a consent email (the account is double opt-in and
    the profile is not subscribed already), so it leaves the profile pending, not subscribed.
    """

    before: ConsentState
    after: Literal["subscribed", "unsubscribed"]
    row: str
    skipped: str | None = None
    confirm: bool = False

    @property
    def kept_by_klaviyo(self) -> bool:
        """Skipped because Klaviyo has the profile as unsubscribed (it owns consent)."""
        return self.skipped == OWNED

    @property
    def shown_before(self) -> str:
        return self.before

    @property
    def shown_after(self) -> str:
        """What the profile's consent is once the change is made, as the audit says it."""
        if self.after == "subscribed" and self.confirm:
            return PENDING_SUBSCRIBE
        return self.after

    @property
    def state_after(self) -> ConsentState:
        """The state the change leaves (``pending`` for a consent email sent)."""
        return PENDING if self.after == "subscribed" and self.confirm else self.after


@dataclass(slots=True, frozen=True)
class ListChange:
    """A list membership change: ``consent`` lists (``LIST_``) go through Klaviyo's consent
    endpoint, the others (``UCLIST_``) through membership; ``skipped`` says why not.

    ``before`` is the intent last applied (None: not known); ``pending`` says that a ``LIST_``
    subscription asked for before still waits for its consent email (``before`` is then True:
    it was asked). ``confirm`` says an add sends a consent email (the list is double opt-in and
    the profile is not a member): it leaves the profile pending. It is known where Klaviyo's
    lists were read (a plan; a sync decides it when it writes).
    """

    name: str
    action: Literal["add", "remove"]
    consent: bool
    before: bool | None = None
    skipped: str | None = None
    pending: bool = False
    confirm: bool = False

    @property
    def row(self) -> str:
        return (LIST_PREFIX if self.consent else UCLIST_PREFIX) + self.name

    @property
    def member(self) -> bool:
        """Whether the profile is a member already, as last applied (not merely pending)."""
        return self.before is True and not self.pending

    @property
    def shown_before(self) -> str:
        if self.pending:
            return PENDING
        return membership(self.before)

    @property
    def shown_after(self) -> str:
        """What the membership is once the change is made, as a plan shows it."""
        if self.action == "remove":
            return PENDING_REMOVED if self.pending else "removed"
        if self.consent and self.confirm:
            return PENDING_LIST
        return "member"


def membership(before: bool | None) -> str:
    """A list intent last applied, as the audit and plans name it."""
    return "unknown" if before is None else "member" if before else "not a member"


@dataclass(slots=True)
class Diff:
    """Everything a draft would change on one profile.

    The field changes are worked out when asked for, from the draft and what was known before:
    a batch holds ten thousand diffs, and most are only asked whether they change anything.
    """

    before: Before
    draft: Draft
    mapped: frozenset[str]
    """the collection's flattened fields: what "kept" is judged on"""
    consent: ConsentChange | None = None
    lists: tuple[ListChange, ...] = ()

    @property
    def fields(self) -> list[FieldChange]:
        """Fields set, changed or cleared, then fields kept, in that order."""
        after = flatten(self.draft.profile_attributes())
        known = self.before.fields
        changes = list(_field_changes(after, known))
        changes.extend(
            FieldChange(key, "kept", known[key])
            for key in sorted(self.mapped - after.keys())
            if _present(known.get(key))
        )
        return changes

    @property
    def empty(self) -> bool:
        """Nothing to send: no field set, changed or cleared, no consent or list change."""
        if self.consent is not None and self.consent.skipped is None:
            return False
        if any(change.skipped is None for change in self.lists):
            return False
        return all(change.kind == "kept" for change in self.fields)

    @property
    def held_back(self) -> frozenset[str]:
        """The applied-state keys of the consent and list changes skipped: unsettled, for
        ``applied_state``, so a later run (an override turned on, an email added) sees them."""
        keys = {list_key(c.name, consent=c.consent) for c in self.lists if c.skipped}
        if self.consent is not None and self.consent.skipped:
            keys.add(SUBSCRIBE_KEY)
        return frozenset(keys)

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
            and consent.before in ("subscribed", "unknown", PENDING)
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
    sms: bool = False,
    double: bool = False,
) -> Diff:
    """The diff of ``draft`` against ``before``.

    ``mapped`` is the collection's flattened fields (what "kept" is judged on), ``subscribe_row``
    whether it maps ``SubscribeProfile``, ``existing`` whether the profile exists already (an
    update or a match: consent ownership applies), and ``resend`` (``--full``) sends consent
    and lists again even where they equal what was last applied. ``sms``: SMS consent is asked
    too (``subscribe_sms``), so a phone number is a channel to ask consent on; ``double``: the
    account is double opt-in, so a subscription without a list sends a consent email.
    """
    channel = _channel(draft, sms)
    return Diff(
        before,
        draft,
        mapped,
        _consent_change(draft, before, subscribe_row, existing, resend, channel, double),
        tuple(_list_changes(draft, before, existing, resend, channel)),
    )


def no_channel(sms: bool) -> str:
    """What a customer lacks when no consent can be asked of it."""
    return "email address or phone number" if sms else "email address"


def _channel(draft: Draft, sms: bool) -> str | None:
    """None when consent can be asked (an email, or a phone with SMS on); else what is lacking."""
    if draft.email is not None or (sms and draft.phone_number is not None):
        return None
    return no_channel(sms)


def applied_state(
    before: Mapping[str, Any] | None,
    draft: Draft,
    unsettled: frozenset[str] = frozenset(),
    *,
    done: Mapping[str, Any] | None = None,
    failed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The flat state the store keeps once ``draft`` is applied over the state ``before``: a
    partial patch leaves what it did not send as it was.

    An intent the draft repeats keeps what it was: a subscription still pending stays pending.
    ``done`` holds what the consent stage carried out now, by key (``True``, ``False``, or
    ``PENDING`` for a consent email sent). ``unsettled`` names intents that were not carried
    out for a reason a later run may not have (``$subscribe``, ``$list:{name}``,
    ``$uclist:{name}``): no email yet, or Klaviyo had the profile as unsubscribed. They are
    dropped, not kept at their old value: what was applied before may no longer hold in Klaviyo
    (that is why it was held back), and the next run whose draft changes must look again.
    ``failed`` names intents whose call failed: they keep the value ``before`` had (Klaviyo
    still holds it), so the next run sends them again."""
    old = before or {}
    state = dict(old)
    state.update(flatten(draft.profile_attributes()))
    intents: list[tuple[str, bool]] = []
    if draft.subscribe is not None:
        intents.append((SUBSCRIBE_KEY, draft.subscribe))
    for consent, wanted in ((True, draft.lists), (False, draft.uclists)):
        intents.extend((list_key(name, consent=consent), want) for name, want in wanted.items())
    for key, want in intents:
        if not (want and state.get(key) == PENDING):
            state[key] = want
    state.update(done or {})
    for key in unsettled:
        state.pop(key, None)
    for key in failed:
        if key in old:
            state[key] = old[key]
        else:
            state.pop(key, None)
    return state


def flatten(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``{"location": {"city": x}}`` → ``{"location.city": x}``; the same for properties.
    Keys are interned: a batch holds thousands of states with the same few keys."""
    flat: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in ("location", "properties") and isinstance(value, Mapping):
            for inner, item in value.items():
                flat[sys.intern(f"{key}.{inner}")] = item
        else:
            flat[sys.intern(key)] = value
    return flat


def interned(state: Mapping[str, Any]) -> dict[str, Any]:
    """A state read from the store, its keys shared with every other state's."""
    return {sys.intern(key): value for key, value in state.items()}


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
    draft: Draft,
    before: Before,
    subscribe_row: bool,
    existing: bool,
    resend: bool,
    channel: str | None,
    double: bool,
) -> ConsentChange | None:
    if draft.subscribe is None:
        return None
    want: Literal["subscribed", "unsubscribed"] = (
        "subscribed" if draft.subscribe else "unsubscribed"
    )
    asked = before.consent == want or (want == "subscribed" and before.consent == PENDING)
    if asked and not resend:
        return None
    row = "SubscribeProfile" if subscribe_row else NO_SUBSCRIBE_ROW
    skipped = None
    if channel is not None:
        skipped = f"consent not changed: no {channel}"
    elif want == "subscribed" and _owned_by_klaviyo(draft, before, existing, "SubscribeProfile"):
        skipped = OWNED
    confirm = want == "subscribed" and double and before.consent != "subscribed"
    return ConsentChange(before.consent, want, row, skipped, confirm)


def _list_changes(
    draft: Draft, before: Before, existing: bool, resend: bool, channel: str | None
) -> Iterator[ListChange]:
    for consent, wanted in ((True, draft.lists), (False, draft.uclists)):
        for name, want in wanted.items():
            was = before.list_intent(name, consent=consent)
            if was == want and not resend:
                continue
            skipped = None
            if want and draft.subscribe is not True:
                skipped = NOT_ELIGIBLE
            elif (
                want and consent and _owned_by_klaviyo(draft, before, existing, LIST_PREFIX + name)
            ):
                skipped = OWNED
            elif want and consent and channel is not None:
                skipped = f"not added: no {channel} to ask consent with"
            pending = consent and before.list_pending(name)
            yield ListChange(name, "add" if want else "remove", consent, was, skipped, pending)


OWNED: Final = (
    "kept: Klaviyo has this profile as unsubscribed, and Klaviyo owns consent "
    "(override_klaviyo_consent = true on the row lets the source subscribe it again)"
)


def _applied_consent(state: Mapping[str, Any]) -> ConsentState:
    subscribe = state.get(SUBSCRIBE_KEY)
    if subscribe == PENDING:
        return PENDING
    if isinstance(subscribe, bool):
        return "subscribed" if subscribe else "unsubscribed"
    return "unknown"


def _merged_consent(known: ConsentState, klaviyo: ConsentState | None) -> ConsentState:
    """Klaviyo's consent, except that a pending subscription Klaviyo has as never subscribed
    (not confirmed yet) stays pending."""
    if klaviyo is None:
        return known
    if known == PENDING and klaviyo == "never_subscribed":
        return PENDING
    return klaviyo


def _owned_by_klaviyo(draft: Draft, before: Before, existing: bool, row: str) -> bool:
    return existing and before.klaviyo == "unsubscribed" and row not in draft.overrides


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
