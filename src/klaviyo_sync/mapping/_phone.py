"""E.164 phone normalization, as the seed describes it.

Strip the number to its digits, apply the country code (the customer's billing country when it
is known, else the configured default region), and format it as E.164. Normalization asks only
that the number be *possible* for its country (the right length); Klaviyo checks that it is
*valid* and rejects the rest, which the engine records as ``phone_rejected``. With ``strict``
the validity check happens here instead, and an invalid number is omitted before sending.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

__all__ = ["normalize_phone", "region_for_country"]

_NOT_DIGITS = re.compile(r"\D")
# Common spellings of country that are not ISO 3166 alpha-2 codes. Anything else that is not a
# two-letter code falls back to the default region rather than guessing.
_COUNTRY_ALIASES = {
    "USA": "US",
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "CANADA": "CA",
    "UK": "GB",
    "UNITED KINGDOM": "GB",
    "GREAT BRITAIN": "GB",
    "AUSTRALIA": "AU",
    "GERMANY": "DE",
    "FRANCE": "FR",
    "MEXICO": "MX",
}


# Regions whose numbers are +1 and ten digits (the North American Numbering Plan): there,
# "possible" is a length check simple enough to skip phonenumbers for the common shapes.
_NANP_REGIONS = frozenset({"US", "CA"})
_NANP_LEADING = frozenset("23456789")


def region_for_country(country: str | None) -> str | None:
    """The phonenumbers region for a billing country (ISO alpha-2 or a common name), or None."""
    if not country:
        return None
    return _region(country)


@functools.lru_cache(maxsize=1024)
def _region(country: str) -> str | None:
    key = " ".join(country.upper().replace(".", "").split())
    region = _COUNTRY_ALIASES.get(key, key)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def normalize_phone(
    raw: str | None, *, region: str = "US", country: str | None = None, strict: bool = False
) -> str | None:
    """The number as E.164 (``+14155552671``), or None when it cannot be normalized.

    A leading ``+`` or ``00`` means the number already carries its country code; otherwise the
    billing ``country`` (when recognised) or ``region`` supplies it.
    """
    if raw is None:
        return None
    text = raw.strip()
    digits = _NOT_DIGITS.sub("", text)
    if not digits:
        return None
    if text.startswith("+"):
        candidate, default = "+" + digits, None
    elif text.startswith("00"):
        candidate, default = "+" + digits[2:], None
    else:
        candidate, default = digits, region_for_country(country) or region
    if not strict:
        fast = _nanp(candidate, default)
        if fast is not None:
            return fast
    return _normalized(candidate, default, strict)


def _nanp(candidate: str, default: str | None) -> str | None:
    """E.164 for a plain NANP number (ten digits, the first 2-9), without phonenumbers: it
    would find the same, as it checks only the length. None means "ask phonenumbers"."""
    if not candidate.isascii():  # other scripts' digits: phonenumbers knows them
        return None
    if default is None:
        is_plain = len(candidate) == 12 and candidate[1] == "1" and candidate[2] in _NANP_LEADING
        return candidate if is_plain else None
    if default in _NANP_REGIONS and len(candidate) == 10 and candidate[0] in _NANP_LEADING:
        return "+1" + candidate
    return None


@functools.lru_cache(maxsize=65_536)
def _normalized(candidate: str, default: str | None, strict: bool) -> str | None:
    """phonenumbers' answer for digits (with a leading + when they carry a country code);
    cached, as a resync or a busy worker sees the same numbers again and again."""
    try:
        number = phonenumbers.parse(candidate, default)
    except phonenumbers.NumberParseException:
        return None
    if strict:
        ok = phonenumbers.is_valid_number(number)
    else:
        # IS_POSSIBLE_LOCAL_ONLY (a 7-digit US number) has no area code, so no E.164 form.
        reason = phonenumbers.is_possible_number_with_reason(number)
        ok = reason == phonenumbers.ValidationResult.IS_POSSIBLE
    if not ok:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
