"""The Standard Webhooks check on its own: the spec's test vector, the reference library both
ways, the secret's format, and the timestamp against an injected clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from klaviyo_sync.exceptions import ConfigError
from klaviyo_sync.web import WebhookSecretError, sign, signed_headers
from klaviyo_sync.web._errors import WebError
from klaviyo_sync.web._signature import Verifier, _duration, signing_key

# The test vector of the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_796_000_000.0
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def verifier(now: float = NOW, secret: str = SECRET) -> Verifier:
    return Verifier(secret, clock=lambda: now)


def headers(body: bytes, *, at: float = NOW, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(secret, body, webhook_id="msg_1", timestamp=int(at))


def refusal(check: Verifier, given_headers: dict[str, str], body: bytes) -> WebError:
    with pytest.raises(WebError) as refused:
        check.verify(given_headers, body)
    assert refused.value.status == 401
    return refused.value


# signing


def test_sign_matches_the_spec_test_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_spec_vector_is_verified() -> None:
    check = verifier(now=SPEC_TIMESTAMP + 10, secret=SPEC_SECRET)
    delivered = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }

    assert check.verify(delivered, SPEC_BODY) == SPEC_ID


@given(
    webhook_id=st.from_regex(r"[\x21-\x7e]{1,40}", fullmatch=True),
    timestamp=st.integers(min_value=0, max_value=4_000_000_000),
    text=st.text(max_size=200),
)
def test_ours_and_the_reference_library_agree(webhook_id: str, timestamp: int, text: str) -> None:
    body = text.encode()
    reference = Webhook(SECRET).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), text)

    assert sign(SECRET, webhook_id, timestamp, body) == reference
    delivered = signed_headers(SECRET, body, webhook_id=webhook_id, timestamp=timestamp)
    assert verifier(now=timestamp).verify(delivered, body) == webhook_id


def test_the_reference_library_verifies_what_signed_headers_makes() -> None:
    body = json.dumps({"event": "customer/updated", "customer": {"Id": 1}}).encode()

    # verify() reads the real clock, so this uses now.
    assert Webhook(SECRET).verify(body, signed_headers(SECRET, body)) == json.loads(body)


def test_a_body_that_is_not_utf8_is_verified_over_its_raw_bytes() -> None:
    body = b'{"Id": "\xff"}'
    delivered = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW)),
        "webhook-signature": sign(SECRET, "msg_1", int(NOW), body),
    }

    assert verifier().verify(delivered, body) == "msg_1"


# the secret


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # 24 bytes, as the spec's own
        "whsec_" + base64.b64encode(b"k" * 64).decode(),
        "whsec_" + base64.b64encode(b"k" * 32).decode().rstrip("="),  # padding left off
        "  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",  # as a secrets file may give it
    ],
)
def test_a_whsec_secret_of_24_bytes_or_more_is_taken(secret: str) -> None:
    assert len(signing_key(secret)) >= 24


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("s3cret-value-that-is-long-enough-1234", "it does not start with whsec_"),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "it does not start with whsec_"),
        ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "it does not start with whsec_"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", "what follows whsec_ is not standard base64"),
        ("whsec_MfKQ9r8GKYqr-wjUPD8ILPZIo2La_aSw", "what follows whsec_ is not standard base64"),
        ("whsec_" + base64.b64encode(b"k" * 23).decode(), "it encodes fewer than 24 bytes"),
        ("whsec_", "it encodes fewer than 24 bytes"),
    ],
)
def test_any_other_secret_is_refused_saying_how_to_make_one(secret: str, problem: str) -> None:
    with pytest.raises(WebhookSecretError) as refused:
        Verifier(secret)

    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)
    assert message.startswith("KLAVIYO_SYNC_WEBHOOK_SECRET is not a Standard Webhooks secret")
    assert problem in message
    assert "base64.b64encode(secrets.token_bytes(32))" in message
    value = secret.strip().removeprefix("whsec_")
    assert not value or value not in message


def test_the_verifier_does_not_show_its_key() -> None:
    check = verifier()

    assert SECRET.removeprefix("whsec_") not in repr(check)
    assert repr(check) == "Verifier(<secret>)"


# signatures


def test_one_matching_signature_among_several_is_enough() -> None:
    # A sender rotating its secret signs with the old and the new one.
    body = b"{}"
    old = "whsec_" + base64.b64encode(b"o" * 32).decode()
    theirs = sign(old, "msg_1", int(NOW), body)
    ours = sign(SECRET, "msg_1", int(NOW), body)

    for both in (f"{theirs} {ours}", f"{ours} {theirs}"):
        delivered = {**headers(body), "webhook-signature": both}
        assert verifier().verify(delivered, body) == "msg_1"


def test_the_id_and_timestamp_are_part_of_what_is_signed() -> None:
    body = b"{}"
    good = headers(body)

    other_id = refusal(verifier(), {**good, "webhook-id": "msg_2"}, body)
    other_time = refusal(verifier(), {**good, "webhook-timestamp": str(int(NOW) + 1)}, body)

    assert other_id.code == other_time.code == "signature_mismatch"


def test_a_refusal_names_the_check_but_not_the_values() -> None:
    body = b"body"
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    given_headers = headers(body, secret=other)

    refused = refusal(verifier(), given_headers, body)

    assert refused.code == "signature_mismatch"
    assert SECRET.removeprefix("whsec_") not in refused.message
    assert given_headers["webhook-signature"].removeprefix("v1,") not in refused.message


# the timestamp


@pytest.mark.parametrize("offset", [-300, -299.5, 0, 299.9, 300])
def test_a_timestamp_within_five_minutes_either_way_is_taken(offset: float) -> None:
    body = b"{}"

    assert verifier(now=NOW - offset).verify(headers(body), body) == "msg_1"


@pytest.mark.parametrize(
    ("age", "code", "said"),
    [
        (301, "timestamp_too_old", "is 5 min 1 s behind this server's clock"),
        (360, "timestamp_too_old", "is 6 min behind this server's clock"),
        (365 * 86400, "timestamp_too_old", "is 365 days behind this server's clock"),
        (-301, "timestamp_too_new", "is 5 min 1 s ahead of this server's clock"),
        (-7200, "timestamp_too_new", "is 2 h ahead of this server's clock"),
    ],
)
def test_a_timestamp_further_off_is_refused_saying_by_how_much(
    age: int, code: str, said: str
) -> None:
    body = b"{}"

    refused = refusal(verifier(now=NOW + age), headers(body), body)

    assert refused.code == code
    assert said in refused.message
    assert "the tolerance is 5 minutes either way" in refused.message


def test_a_stale_timestamp_with_a_wrong_signature_is_a_mismatch() -> None:
    # The age is told only to whoever signed: a forger learns nothing but "no".
    body = b"{}"
    forged = {**headers(body, at=NOW - 3600), "webhook-signature": "v1," + "A" * 43 + "="}

    assert refusal(verifier(), forged, body).code == "signature_mismatch"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3599, "59 min 59 s"),
        (3605, "1 h"),
        (86400, "1 day"),
        (2 * 86400 + 3600, "2 days 1 h"),
    ],
)
def test_durations_read_as_a_person_would_say_them(seconds: int, text: str) -> None:
    assert _duration(seconds) == text
