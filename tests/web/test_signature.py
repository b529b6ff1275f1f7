"""sign(): the header value senders compute, checked against an RFC 4231 test vector."""

from __future__ import annotations

import pytest

from klaviyo_sync.web import sign
from klaviyo_sync.web._errors import WebError
from klaviyo_sync.web._signature import check_signature


def test_sign_is_hmac_sha256_in_hex_after_the_scheme() -> None:
    # RFC 4231, test case 2
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_a_unicode_secret_is_used_as_utf8() -> None:
    assert sign("clé", b"{}") != sign("cle", b"{}")
    check_signature("clé", b"{}", sign("clé", b"{}"))


def test_surrounding_whitespace_in_the_header_is_tolerated() -> None:
    check_signature("s", b"body", f"  {sign('s', b'body')}\t")


def test_a_refusal_names_the_check_but_not_the_values() -> None:
    given = sign("other", b"body")
    with pytest.raises(WebError) as refused:
        check_signature("the-secret", b"body", given)

    assert refused.value.status == 401
    assert refused.value.code == "signature_mismatch"
    assert "the-secret" not in refused.value.message
    assert given.removeprefix("sha256=") not in refused.value.message
