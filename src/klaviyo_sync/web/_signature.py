"""Webhook signatures: HMAC-SHA256 of the raw body, sent as ``sha256=<hex>``.

Neither the secret nor a signature is ever put in a message: a refusal says only which check
failed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ._errors import WebError

__all__ = ["SIGNATURE_HEADER", "check_signature", "sign"]

SIGNATURE_HEADER = "X-Klaviyo-Sync-Signature"
_SHAPE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise a 401 WebError unless ``header`` is the signature of ``body`` under ``secret``."""
    if header is None or not header.strip():
        raise WebError(
            401, "signature_missing", f"the {SIGNATURE_HEADER} header is missing; sign the body"
        )
    shape = _SHAPE.fullmatch(header.strip())
    if shape is None:
        raise WebError(
            401,
            "signature_malformed",
            f"the {SIGNATURE_HEADER} header must be sha256= followed by 64 hex digits",
        )
    expected = sign(secret, body).encode("ascii")
    given = f"sha256={shape.group(1).lower()}".encode("ascii")
    if not hmac.compare_digest(expected, given):
        raise WebError(
            401,
            "signature_mismatch",
            f"the {SIGNATURE_HEADER} header does not match the body: it must be the "
            "HMAC-SHA256 of the raw body with KLAVIYO_SYNC_WEBHOOK_SECRET",
        )
