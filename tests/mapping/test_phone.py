"""E.164 normalization: the quick path for plain North American numbers gives exactly what
phonenumbers gives, and everything else still goes through phonenumbers."""

from __future__ import annotations

import re

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from klaviyo_sync.mapping._phone import _normalized, normalize_phone


def _slow(raw: str, region: str, country: str | None = None) -> str | None:
    """normalize_phone without the quick path: phonenumbers decides every number."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    if text.startswith("+"):
        return _normalized.__wrapped__("+" + digits, None, False)
    if text.startswith("00"):
        return _normalized.__wrapped__("+" + digits[2:], None, False)
    from klaviyo_sync.mapping._phone import region_for_country

    return _normalized.__wrapped__(digits, region_for_country(country) or region, False)


NUMBERS = st.one_of(
    st.from_regex(r"\A\+?1?[ .(-]{0,2}[0-9]{3}[ .)-]{0,2}[0-9]{3}[ .-]?[0-9]{4}\Z"),
    st.text(alphabet="0123456789+ -().", max_size=16),
    st.text(max_size=12),
)


@given(raw=NUMBERS, region=st.sampled_from(["US", "CA", "GB", "DE", "MX"]))
def test_the_quick_path_agrees_with_phonenumbers(raw: str, region: str) -> None:
    assert normalize_phone(raw, region=region) == _slow(raw, region)


@given(raw=NUMBERS, country=st.sampled_from([None, "US", "Canada", "UK", "de", "zz"]))
def test_the_billing_country_still_decides(raw: str, country: str | None) -> None:
    assert normalize_phone(raw, country=country) == _slow(raw, "US", country)


def test_plain_north_american_numbers() -> None:
    assert normalize_phone("(415) 555-2671") == "+14155552671"
    assert normalize_phone("+1 415 555 2671", region="GB") == "+14155552671"
    assert normalize_phone("416.555.0199", country="Canada") == "+14165550199"
    assert normalize_phone("(415) 555-2671", country="GB") == _slow("(415) 555-2671", "GB")
    assert normalize_phone("555 0100") is None, "seven digits have no area code"


def test_digits_of_other_scripts_go_to_phonenumbers() -> None:
    arabic = "٤١٥٥٥٥٢٦٧١"  # 4155552671 in Arabic-Indic digits
    expected = phonenumbers.format_number(
        phonenumbers.parse("4155552671", "US"), phonenumbers.PhoneNumberFormat.E164
    )
    assert normalize_phone(arabic) == expected


def test_strict_still_asks_for_a_valid_number() -> None:
    assert normalize_phone("(555) 010-0199") == "+15550100199"
    assert normalize_phone("(555) 010-0199", strict=True) is None
