"""The shipped templates reproduce the seed's 18 mappings, and turn customers into drafts."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from klaviyo_sync.draft import CLEAR
from klaviyo_sync.mapping import MappingRow, PhoneSettings, default_collections, load_collections

from .factories import customer, draft, template

SEED_DESTINATIONS = [
    "Type",
    "Id",
    "Email",
    "PhoneNumber",
    "ExternalId",
    "FirstName",
    "LastName",
    "Organization",
    "Address1",
    "Address2",
    "City",
    "Region",
    "Zip",
    "Country",
    "SubscribeProfile",
    "LIST_Sms Subscribers",
    "UCLIST_Preview List",
    "My Custom",
]
SEED_KINDS = {
    "Type": "static",
    "Id": "formula",
    "Email": "field",
    "PhoneNumber": "formula",
    "ExternalId": "field",
    "FirstName": "field",
    "LastName": "field",
    "Organization": "field",
    "SubscribeProfile": "static",
    "LIST_Sms Subscribers": "static",
    "UCLIST_Preview List": "static",
    "My Custom": "static",
}


@pytest.mark.parametrize("name", ["add", "update"])
def test_templates_have_the_seed_destinations_in_order(name: str) -> None:
    collection = template(name)
    assert collection.name == name
    assert [row.destination for row in collection.rows] == SEED_DESTINATIONS


@pytest.mark.parametrize("name", ["add", "update"])
def test_template_rows_have_the_seed_kinds_and_descriptions(name: str) -> None:
    for row in template(name).rows:
        assert row.kind == SEED_KINDS.get(row.destination, "formula"), row.destination
        assert row.when_empty == "omit"
        assert row.description, f"{row.destination} has no description"


def test_template_sources() -> None:
    sources = {row.destination: row.source for row in template().rows}
    assert sources["Type"] == "profile"
    assert sources["Id"] == "link()"
    assert sources["Email"] == "EmailAddress"
    assert sources["PhoneNumber"] == "e164(Phone)"
    assert sources["ExternalId"] == "Id"
    assert sources["Organization"] == "Company"
    assert sources["Zip"] == "billing.PostalCode"
    assert sources["SubscribeProfile"] is True


def test_descriptions_differ_where_the_seed_does() -> None:
    add = {r.destination: r.description for r in template("add").rows}
    update = {r.destination: r.description for r in template("update").rows}
    assert "created as a new profile" in add["Id"]
    assert "handled by the Add collection" in update["Id"]
    assert "A partial patch leaves the existing address untouched" in update["Address1"]
    assert add["FirstName"] == update["FirstName"]


def test_template_is_a_toml_file_in_the_package_in_the_mapping_file_format() -> None:
    path = resources.files("klaviyo_sync.mapping").joinpath("templates", "default.toml")
    data = tomllib.loads(path.read_text("utf-8"))
    assert data["template"] == "none"
    assert {"destination", "kind", "source", "description"} <= set(data["rows"][0])


def test_no_mapping_file_means_the_templates() -> None:
    assert load_collections(None) == default_collections()
    assert isinstance(default_collections().add.rows[0], MappingRow)


def test_full_customer_add_draft() -> None:
    result = draft(template("add"), customer())
    assert result.customer_id == "55260"
    assert result.collection == "add"
    assert result.profile_id is None
    assert result.attributes == {
        "email": "ada@example.com",
        # The billing country (GB) gives the country code, not the US default region.
        "phone_number": "+442079460958",
        "external_id": "55260",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "organization": "Analytical Engines Ltd",
    }
    # The first primary billing address: not the shipping one before it, not the one after.
    assert result.location == {
        "address1": "12 St James's Square",
        "address2": "Flat 3",
        "city": "London",
        "region": "Greater London",
        "zip": "SW1Y 4JH",
        "country": "GB",
    }
    assert result.properties == {"My Custom": "Custom Value"}
    assert result.subscribe is True
    assert result.lists == {"Sms Subscribers": True}
    assert result.uclists == {"Preview List": True}
    assert result.notes == []


def test_update_draft_carries_the_link() -> None:
    result = draft(template("update"), customer(), profile_id="01HPROFILE")
    assert result.collection == "update"
    assert result.profile_id == "01HPROFILE"
    assert result.profile_document("01HPROFILE")["data"]["id"] == "01HPROFILE"


def test_no_billing_address_means_no_location() -> None:
    addresses = [{"Address1": "9 Ship Street", "City": "Brighton", "IsPrimaryShipping": True}]
    result = draft(template(), customer(Addresses=addresses, Phone="415 555 2671"))
    assert result.location == {}
    assert "location" not in result.profile_attributes()
    # Without a billing country the configured region supplies the country code.
    assert result.attributes["phone_number"] == "+14155552671"


def test_no_addresses_at_all() -> None:
    result = draft(template(), customer(Addresses=..., Phone=...))
    assert result.location == {}
    assert "phone_number" not in result.attributes


def test_configured_region_applies_without_billing_country() -> None:
    result = draft(
        template(), customer(Addresses=[], Phone="030 901820"), phone=PhoneSettings(region="DE")
    )
    assert result.attributes["phone_number"] == "+4930901820"


def test_empty_customer_fields_are_absent_never_null() -> None:
    who = customer(
        EmailAddress="   ",
        FirstName="",
        LastName=None,
        Company=...,
        Phone="",
        Addresses=[{"IsPrimaryBilling": True, "City": "  ", "Address1": None}],
    )
    result = draft(template(), who)
    assert result.attributes == {"external_id": "55260"}
    assert result.location == {}
    assert CLEAR not in result.attributes.values()
    assert "null" not in str(result.profile_document())
    assert not result.has_identifier


def test_unnormalizable_phone_is_omitted_with_a_note() -> None:
    result = draft(template(), customer(Phone="555-01", Addresses=[]))
    assert "phone_number" not in result.attributes
    assert result.notes == ["phone omitted: '555-01' cannot be normalized to E.164"]


def test_strict_phone_omits_a_possible_but_invalid_number() -> None:
    who = customer(Phone="+1 415 000 0000", Addresses=[])
    assert draft(template(), who).attributes["phone_number"] == "+14150000000"
    strict = draft(template(), who, phone=PhoneSettings(strict=True))
    assert "phone_number" not in strict.attributes
    assert strict.notes == ["phone omitted: '+1 415 000 0000' cannot be normalized to E.164"]


def test_template_drafts_are_deterministic() -> None:
    assert (
        draft(template(), customer()).fingerprint() == draft(template(), customer()).fingerprint()
    )


SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "004_6389b3dffdd06967.txt"


@pytest.mark.skipif(not SEED.exists(), reason=f"the seed is not beside the clone ({SEED})")
def test_descriptions_are_the_seeds_words() -> None:
    seed = SEED.read_text(encoding="utf-8")
    for name in ("add", "update"):
        for row in template(name).rows:
            if row.destination == "SubscribeProfile":
                # The seed's sentence breaks off at "A value of"; the template completes it.
                assert row.description.startswith("Optional template. Marks the profile")
            else:
                assert row.description in seed, (name, row.destination)
