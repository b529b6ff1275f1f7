"""Per-channel marketing consent, and the double opt-in confirmations waiting on recipients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._clock import isoformat

__all__ = [
    "NEVER_SUBSCRIBED",
    "SUBSCRIBED",
    "UNSUBSCRIBED",
    "ChannelConsent",
    "ConfirmationEmail",
    "PendingOptIn",
    "render_subscriptions",
]

NEVER_SUBSCRIBED = "NEVER_SUBSCRIBED"
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
CHANNELS = ("email", "sms")


@dataclass(slots=True)
class ChannelConsent:
    """Marketing consent on one channel (email or SMS) of one profile."""

    consent: str = NEVER_SUBSCRIBED
    consent_timestamp: float | None = None
    last_updated: float | None = None
    method: str | None = None
    method_detail: str | None = None
    custom_method_detail: str | None = None
    double_optin: bool | None = None
    suppressed_at: float | None = None
    """when an UNSUBSCRIBE suppression was added (email only)"""
    list_suppressions: dict[str, float] = field(default_factory=dict)

    def subscribe(
        self,
        now: float,
        consented_at: float | None,
        *,
        double_optin: bool,
        custom_source: str | None,
        list_id: str | None,
    ) -> None:
        self.consent = SUBSCRIBED
        self.consent_timestamp = consented_at if consented_at is not None else now
        self.last_updated = now
        self.method = "API"
        self.method_detail = "double_opt_in_confirmed" if double_optin else "subscribe_api"
        self.custom_method_detail = custom_source
        self.double_optin = double_optin
        # Subscribing lifts an UNSUBSCRIBE suppression (the spec says so for this endpoint).
        self.suppressed_at = None
        if list_id is not None:
            self.list_suppressions.pop(list_id, None)

    def unsubscribe(self, now: float, *, suppress: bool) -> None:
        self.consent = UNSUBSCRIBED
        self.consent_timestamp = now
        self.last_updated = now
        self.method = "API"
        self.method_detail = "unsubscribe_api"
        if suppress:
            self.suppressed_at = now

    def suppress_list(self, list_id: str, now: float) -> None:
        self.list_suppressions[list_id] = now
        self.last_updated = now


@dataclass(slots=True)
class PendingOptIn:
    """A double opt-in subscription sent out and not yet confirmed."""

    profile_id: str
    list_id: str | None
    channels: set[str]
    requested_at: float
    custom_source: str | None = None


@dataclass(slots=True)
class ConfirmationEmail:
    """A confirmation message the sandbox "sent" (SMS ones carry ``channel='sms'``)."""

    to: str
    list_id: str | None
    profile_id: str
    sent_at: float
    channel: str = "email"

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "list_id": self.list_id,
            "profile_id": self.profile_id,
            "channel": self.channel,
            "sent_at": isoformat(self.sent_at),
        }


def _stamp(value: float | None) -> str | None:
    return None if value is None else isoformat(value)


def _email_marketing(consent: ChannelConsent) -> dict[str, Any]:
    suppression = []
    if consent.suppressed_at is not None:
        suppression.append({"reason": "UNSUBSCRIBE", "timestamp": isoformat(consent.suppressed_at)})
    list_suppressions = [
        {"list_id": list_id, "reason": "UNSUBSCRIBE", "timestamp": isoformat(at)}
        for list_id, at in consent.list_suppressions.items()
    ]
    # Klaviyo may email a never-subscribed address; only an unsubscribe or suppression stops it.
    can_receive = consent.consent != UNSUBSCRIBED and not suppression
    return {
        "can_receive_email_marketing": can_receive,
        "consent": consent.consent,
        "consent_timestamp": _stamp(consent.consent_timestamp),
        "last_updated": _stamp(consent.last_updated),
        "method": consent.method,
        "method_detail": consent.method_detail or "",
        "custom_method_detail": consent.custom_method_detail,
        "double_optin": consent.double_optin,
        "suppression": suppression,
        "list_suppressions": list_suppressions,
    }


def _sms_marketing(consent: ChannelConsent) -> dict[str, Any]:
    return {
        "can_receive_sms_marketing": consent.consent == SUBSCRIBED,
        "consent": consent.consent,
        "consent_timestamp": _stamp(consent.consent_timestamp),
        "method": consent.method,
        "method_detail": consent.method_detail or "",
        "last_updated": _stamp(consent.last_updated),
    }


def render_subscriptions(
    email: ChannelConsent | None, sms: ChannelConsent | None
) -> dict[str, Any]:
    """The ``subscriptions`` additional field, in the spec's shape."""
    return {
        "email": {"marketing": _email_marketing(email or ChannelConsent())},
        "sms": {"marketing": _sms_marketing(sms or ChannelConsent())},
    }
