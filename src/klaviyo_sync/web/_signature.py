"""Webhook signatures, the Standard Webhooks way (https://www.standardwebhooks.com/).

A sender signs ``{webhook-id}.{webhook-timestamp}.{raw body}`` with HMAC-SHA256, keyed with the
bytes that the secret ``whsec_<base64>`` encodes, and sends ``webhook-signature: v1,<base64>``
(several, space-separated, while it rotates its secret). The id and the timestamp are inside what
is signed, so a captured request cannot be sent again later (its timestamp is then more than
``TOLERANCE`` away) nor under another id (its signature no longer matches). Within the
tolerance, the receiver's record of ids delivered lately turns a replay into a duplicate.

The HMAC is computed here over the raw bytes, not with ``standardwebhooks.Webhook.verify``: that
reads the wall clock, decodes the body as UTF-8 without catching errors and raises ValueError on
a malformed header. ``Webhook.sign`` stays the reference (``signed_headers`` uses it, and the
tests hold both to the same answers).

Neither the secret nor a signature is ever put in a message: a refusal says only which check
failed, and for a timestamp by how much.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from standardwebhooks import Webhook

from ..exceptions import ConfigError
from ._errors import WebError

__all__ = [
    "ID_HEADER",
    "LEGACY_SIGNATURE_HEADER",
    "MAKE_SECRET",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "Verifier",
    "WebhookSecretError",
    "sign",
    "signed_headers",
    "signing_key",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
LEGACY_SIGNATURE_HEADER = "X-Klaviyo-Sync-Signature"
"""The body-only signature of earlier versions: refused, with a pointer to the new scheme."""

TOLERANCE = timedelta(minutes=5)
"""How far a webhook-timestamp may be from this server's clock, either way (the spec's value)."""

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
"""The spec recommends 24 to 64 random bytes; fewer is refused, more is harmless."""
MAKE_SECRET = (
    "python -c \"import base64,secrets;print('whsec_'+base64.b64encode(secrets.token_bytes(32))"
    '.decode())"'
)
README_SECTION = "the README's 'Signing webhooks' section"
MAX_ID_LENGTH = 255
"""A webhook-id is remembered in the store; senders use ids like msg_<27 chars> or UUIDs."""

_NAMES = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_DIGEST_BYTES = hashlib.sha256().digest_size


class WebhookSecretError(ConfigError):
    """KLAVIYO_SYNC_WEBHOOK_SECRET is set but is not a usable Standard Webhooks secret."""


def signing_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_<base64>`` secret encodes, or a WebhookSecretError saying how to
    make one (and never what the secret was)."""
    text = secret.strip()
    if not text.startswith(SECRET_PREFIX):
        _refuse_secret("it does not start with whsec_")
    encoded = text.removeprefix(SECRET_PREFIX)
    # Some generators drop the padding; the reference library tolerates that too.
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        _refuse_secret("what follows whsec_ is not standard base64")
    if len(key) < MIN_SECRET_BYTES:
        # Not how many: a refusal says nothing about the secret but what is wrong with it.
        _refuse_secret(f"it encodes fewer than {MIN_SECRET_BYTES} bytes")
    return key


def _refuse_secret(problem: str) -> NoReturn:
    raise WebhookSecretError(
        "KLAVIYO_SYNC_WEBHOOK_SECRET is not a Standard Webhooks secret: it must be whsec_ "
        f"followed by the base64 of at least {MIN_SECRET_BYTES} random bytes, and {problem}. "
        f"Make one with: {MAKE_SECRET} and give the same value to every sender "
        f"(see {README_SECTION})"
    )


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``webhook-signature`` entry, ``v1,<base64>``, for ``body`` sent as ``webhook_id`` at
    ``timestamp`` (Unix seconds), under a ``whsec_`` secret."""
    return (
        "v1," + base64.b64encode(_digest(signing_key(secret), webhook_id, timestamp, body)).decode()
    )


def signed_headers(
    secret: str, body: bytes, *, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers a Standard Webhooks sender adds to ``body`` (JSON, so UTF-8), signed
    by the reference library. A new id (``msg_…``) and the current time unless given."""
    signing_key(secret)  # the library takes nearly anything; refuse what the receiver would
    webhook_id = webhook_id if webhook_id is not None else f"msg_{secrets.token_urlsafe(18)}"
    timestamp = timestamp if timestamp is not None else int(time.time())
    when = datetime.fromtimestamp(timestamp, UTC)
    signature = Webhook(secret).sign(webhook_id, when, body.decode("utf-8"))
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature,
        "Content-Type": "application/json",
    }


def _digest(key: bytes, webhook_id: str, timestamp: int | str, body: bytes) -> bytes:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


class Verifier:
    """Checks a delivery's three headers against its raw body and the clock."""

    __slots__ = ("_clock", "_key")

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = signing_key(secret)
        self._clock = clock

    def __repr__(self) -> str:
        return "Verifier(<secret>)"

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The delivery's webhook-id, or a 401 WebError saying which check failed.

        ``headers`` must look names up without regard to case (Starlette's do). The signature
        is checked before the timestamp, so "too old" is said only to a sender who signed it.
        """
        webhook_id, timestamp, signatures = _read_headers(headers)
        expected = _digest(self._key, webhook_id, timestamp, body)
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise WebError(
                401,
                "signature_mismatch",
                f"no signature in {SIGNATURE_HEADER} matches: each must be v1, then the base64 "
                f"HMAC-SHA256 of '{{{ID_HEADER}}}.{{{TIMESTAMP_HEADER}}}.{{raw body}}' keyed "
                "with the bytes KLAVIYO_SYNC_WEBHOOK_SECRET encodes after whsec_",
            )
        self._check_age(int(timestamp))
        return webhook_id

    def _check_age(self, timestamp: int) -> None:
        skew = timestamp - self._clock()
        limit = TOLERANCE.total_seconds()
        if abs(skew) <= limit:
            return
        code, where = (
            ("timestamp_too_old", "behind") if skew < 0 else ("timestamp_too_new", "ahead of")
        )
        raise WebError(
            401,
            code,
            # Rounded up: 300.4 s off is not "5 min" off with a tolerance of 5 minutes.
            f"the {TIMESTAMP_HEADER} is {_duration(math.ceil(abs(skew)))} {where} this "
            f"server's clock; the tolerance is {int(limit // 60)} minutes either way: sign "
            f"each delivery when it is sent (a retry keeps its {ID_HEADER} but gets a new "
            "timestamp and signature), and check the sender's clock",
        )


def _read_headers(headers: Mapping[str, str]) -> tuple[str, str, list[bytes]]:
    values = {name: (headers.get(name) or "").strip() for name in _NAMES}
    missing = [name for name in _NAMES if not values[name]]
    if len(missing) == len(_NAMES) and headers.get(LEGACY_SIGNATURE_HEADER):
        raise WebError(
            401,
            "signature_scheme_changed",
            f"{LEGACY_SIGNATURE_HEADER} (a signature of the body alone) is no longer accepted, "
            "since anyone who saw one signed event could send it again: sign with the Standard "
            f"Webhooks scheme ({', '.join(_NAMES)} headers and a whsec_ secret), see "
            f"{README_SECTION}",
        )
    if missing:
        raise WebError(
            401,
            "signature_missing",
            f"the {_listed(missing)} header{'s are' if len(missing) > 1 else ' is'} missing: "
            f"sign every delivery with the Standard Webhooks scheme ({', '.join(_NAMES)}), "
            f"see {README_SECTION}",
        )
    webhook_id, timestamp = values[ID_HEADER], values[TIMESTAMP_HEADER]
    if _ID.fullmatch(webhook_id) is None:
        raise WebError(
            401,
            "webhook_id_malformed",
            f"the {ID_HEADER} header must be 1 to {MAX_ID_LENGTH} visible ASCII characters, "
            "the same for every retry of one delivery",
        )
    if _TIMESTAMP.fullmatch(timestamp) is None:
        raise WebError(
            401,
            "timestamp_malformed",
            f"the {TIMESTAMP_HEADER} header must be the time of sending in whole Unix seconds, "
            "e.g. 1767225600",
        )
    return webhook_id, timestamp, _signatures(values[SIGNATURE_HEADER])


def _listed(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def _signatures(header: str) -> list[bytes]:
    """The well-formed v1 signatures in the header; other versions are skipped, as the spec
    asks, but a header without one usable v1 entry is refused as malformed."""
    found: list[bytes] = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            digest = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if len(digest) == _DIGEST_BYTES:
            found.append(digest)
    if not found:
        raise WebError(
            401,
            "signature_malformed",
            f"the {SIGNATURE_HEADER} header must hold v1, then the base64 of a 32-byte "
            "HMAC-SHA256 (several such entries may be separated by spaces)",
        )
    return found


def _duration(seconds: float) -> str:
    """``6 min``, ``6 min 1 s``, ``3 h 2 min``, ``1 day``, ``365 days 6 h``: the two largest
    units, for a person."""
    rest = round(seconds)
    parts: list[str] = []
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min"), (1, "s")):
        count, rest = divmod(rest, size)
        if count:
            plural = "s" if unit == "day" and count > 1 else ""
            parts.append(f"{count} {unit}{plural}")
        elif parts:
            break
    return " ".join(parts[:2]) or "0 s"
