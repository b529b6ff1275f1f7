"""The filter language, percent-encoded queries, and cursor pagination over many pages."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from klaviyo_sandbox import ApiError, Sandbox
from klaviyo_sandbox._filters import Condition, allow, parse_filter

from .conftest import SpecClient

EQ_ANY = frozenset({"equals", "any"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('equals(email,"a@b.co")', [Condition("equals", "email", ("a@b.co",))]),
        ("equals(email,'a@b.co')", [Condition("equals", "email", ("a@b.co",))]),
        (" equals( email , 'a@b.co' ) ", [Condition("equals", "email", ("a@b.co",))]),
        ('any(email,["a","b"])', [Condition("any", "email", ("a", "b"))]),
        ("any(email,['a', \"b\"])", [Condition("any", "email", ("a", "b"))]),
        (r'equals(external_id,"say \"hi\"")', [Condition("equals", "external_id", ('say "hi"',))]),
        ("equals(email,'it''s')", None),
        (
            'and(equals(email,"a"),equals(external_id,"1"))',
            [Condition("equals", "email", ("a",)), Condition("equals", "external_id", ("1",))],
        ),
        (
            'equals(email,"a"),equals(external_id,"1")',
            [Condition("equals", "email", ("a",)), Condition("equals", "external_id", ("1",))],
        ),
    ],
)
def test_parse_filter(text: str, expected: list[Condition] | None) -> None:
    if expected is None:
        with pytest.raises(ApiError):
            parse_filter(text)
    else:
        assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "equals(email",
        "equals(email,)",
        'equals(email,"open',
        'frobnicate(email,"a")',
        'or(equals(email,"a"),equals(email,"b"))',
        'equals(email,"a"))',
        'any(email,[["a"]])',
        "",
    ],
)
def test_malformed_filters_are_400_on_the_filter_parameter(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        allow(parse_filter(text), {"email": EQ_ANY})
    assert caught.value.status == 400
    assert caught.value.parameter == "filter"


@pytest.mark.parametrize(
    "text",
    [
        "equals(email,a@b.co)",  # unquoted
        'equals(first_name,"Ada")',  # field not filterable
        'greater-than(email,"a")',  # operator not allowed
        'equals(email,["a","b"])',
        "any(email,[])",
    ],
)
def test_filters_the_endpoint_does_not_support(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        allow(parse_filter(text), {"email": EQ_ANY})
    assert caught.value.parameter == "filter"


async def test_filter_by_each_identifier_in_both_quote_styles(client: SpecClient) -> None:
    ada = await client.create_profile(
        email="ada@example.com", phone_number="+14155552671", external_id="c-1"
    )
    await client.create_profile(email="bob@example.com")
    for expression in (
        'equals(email,"ADA@example.com")',
        "equals(email,'ada@example.com')",
        'equals(phone_number,"+14155552671")',
        "equals(external_id,'c-1')",
        f'equals(id,"{ada["id"]}")',
        'any(email,["nobody@example.com","ada@example.com"])',
    ):
        response = await client.get("/api/profiles", params={"filter": expression})
        assert [p["id"] for p in response.json()["data"]] == [ada["id"]], expression


async def test_percent_encoded_keys_and_values(client: SpecClient) -> None:
    ada = await client.create_profile(email="ada+tag@example.com")
    key = quote("filter", safe="")
    value = quote("equals(email,'ada+tag@example.com')", safe="")
    size = quote("page[size]", safe="")
    response = await client.get(f"/api/profiles?{key}={value}&{size}=5")
    assert [p["id"] for p in response.json()["data"]] == [ada["id"]]


async def test_unsupported_filter_is_400_with_parameter(client: SpecClient) -> None:
    response = await client.get("/api/profiles", params={"filter": 'equals(first_name,"A")'})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "filter"}


@pytest.mark.parametrize("size", ["0", "101", "ten", "-1"])
async def test_page_size_out_of_range_is_400(client: SpecClient, size: str) -> None:
    response = await client.get("/api/profiles", params={"page[size]": size})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[size]"}


async def test_pagination_over_three_pages_by_links_next(
    client: SpecClient, sandbox: Sandbox
) -> None:
    created = [sandbox.create_profile({"email": f"p{i:03}@example.com"}).id for i in range(250)]
    seen: list[str] = []
    url: str | None = "/api/profiles?page[size]=100"
    pages = 0
    while url is not None:
        response = await client.get(url)
        body = response.json()
        seen.extend(item["id"] for item in body["data"])
        url = body["links"].get("next")
        pages += 1
        if url is not None:
            assert url.startswith("http://sandbox/api/profiles?")
            assert parse_qs(urlsplit(url).query)["page[size]"] == ["100"]
    assert pages == 3
    assert seen == created


async def test_default_page_size_is_20(client: SpecClient, sandbox: Sandbox) -> None:
    for i in range(25):
        sandbox.create_profile({"email": f"p{i}@example.com"})
    response = await client.get("/api/profiles")
    assert len(response.json()["data"]) == 20
    assert "next" in response.json()["links"]


async def test_cursor_may_be_a_whole_url_or_carry_a_stray_equals(
    client: SpecClient, sandbox: Sandbox
) -> None:
    ids = [sandbox.create_profile({"email": f"p{i}@example.com"}).id for i in range(5)]
    first = await client.get("/api/profiles", params={"page[size]": "2"})
    next_url = first.json()["links"]["next"]
    cursor = parse_qs(urlsplit(next_url).query)["page[cursor]"][0]
    for given in (cursor, next_url, f"={cursor}"):
        response = await client.get(
            "/api/profiles", params={"page[size]": "2", "page[cursor]": given}
        )
        assert [p["id"] for p in response.json()["data"]] == ids[2:4]


async def test_bad_cursor_is_400(client: SpecClient) -> None:
    response = await client.get("/api/profiles", params={"page[cursor]": "%%%"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[cursor]"}


async def test_filtered_results_paginate_too(client: SpecClient, sandbox: Sandbox) -> None:
    emails = [f"p{i}@example.com" for i in range(5)]
    for email in emails:
        sandbox.create_profile({"email": email})
    quoted = ",".join(f'"{e}"' for e in emails)
    first = await client.get(
        "/api/profiles", params={"filter": f"any(email,[{quoted}])", "page[size]": "3"}
    )
    assert len(first.json()["data"]) == 3
    second = await client.get(first.json()["links"]["next"])
    assert len(second.json()["data"]) == 2
    assert "next" not in second.json()["links"]
