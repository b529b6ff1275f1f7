from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from klaviyo_sync.klaviyo import any_of, equals


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("sarah.mason@klaviyo-demo.com", '"sarah.mason@klaviyo-demo.com"'),
        ("+15005550006", '"+15005550006"'),
        ('o"brien@example.com', r'"o\"brien@example.com"'),
        ("back\\slash", r'"back\\slash"'),
        ("it's", '"it\'s"'),
        ("comma, (paren)", '"comma, (paren)"'),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.5, "2.5"),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "2026-07-01T12:00:00+00:00"),
        (date(2026, 7, 1), "2026-07-01"),
    ],
)
def test_equals_quotes_values(value: str, literal: str) -> None:
    assert equals("email", value) == f"equals(email,{literal})"


def test_any_of_lists_values() -> None:
    assert any_of("email", ["a@x.com", 'b"@x.com']) == r'any(email,["a@x.com","b\"@x.com"])'
    assert any_of("id", iter(["01A"])) == 'any(id,["01A"])'


def test_any_of_needs_a_value() -> None:
    with pytest.raises(ValueError, match="at least one"):
        any_of("email", [])


@pytest.mark.parametrize("field", ["", "email,1)", "e mail", 'x"', "1abc"])
def test_field_names_cannot_inject(field: str) -> None:
    with pytest.raises(ValueError, match="field name"):
        equals(field, "x")


def test_dotted_field_names_are_allowed() -> None:
    assert equals("subscriptions.email.marketing.suppression.reason", "USER_SUPPRESSED") == (
        'equals(subscriptions.email.marketing.suppression.reason,"USER_SUPPRESSED")'
    )


def test_unusable_values_are_refused() -> None:
    with pytest.raises(ValueError, match="nan"):
        equals("x", float("nan"))
    with pytest.raises(TypeError, match="NoneType"):
        equals("x", None)  # type: ignore[arg-type]


def test_any_of_chunks_bound_count_and_length() -> None:
    from klaviyo_sync.klaviyo._filters import MAX_FILTER_CHARS, any_of_chunks

    values = [f"user{i}@example.com" for i in range(250)]
    filters = any_of_chunks("email", values, max_values=100)
    assert len(filters) == 3
    assert all(len(f) <= MAX_FILTER_CHARS for f in filters)
    long = ["x" * 300 + f"{i}@example.com" for i in range(40)]
    filters = any_of_chunks("email", long, max_values=100)
    assert len(filters) > 1
    assert all(len(f) <= MAX_FILTER_CHARS for f in filters)
    assert sum(f.count("@example.com") for f in filters) == 40
    # A value that cannot fit in any URL is left out: no profile can hold it.
    assert any_of_chunks("email", ["y" * 10_000 + "@example.com"], max_values=100) == []


def test_lookup_chunks_are_the_values_of_each_request_find_profiles_makes() -> None:
    from klaviyo_sync.klaviyo import KlaviyoClient
    from klaviyo_sync.klaviyo._filters import any_of_chunks

    values = [f"c{i}@example.com" for i in range(250)] + ["c3@example.com"]
    chunks = KlaviyoClient.lookup_chunks("email", values)
    assert [len(chunk) for chunk in chunks] == [100, 100, 50], "repeats are asked once"
    assert [any_of("email", chunk) for chunk in chunks] == any_of_chunks(
        "email", values[:250], max_values=100
    )
    assert KlaviyoClient.lookup_chunks("email", chunks[1]) == [chunks[1]], "a chunk is one call"
