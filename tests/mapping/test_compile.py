"""Rows to drafts: empty versus clear, field paths, statics, subscription and list values."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.draft import CLEAR
from klaviyo_sync.exceptions import FormulaError, MappingError
from klaviyo_sync.mapping import (
    Collection,
    MappingRow,
    PhoneSettings,
    compile_collection,
)
from klaviyo_sync.mapping._compile import compile_rows

from .factories import bare, customer, draft, rows, template

EMPTY_VALUES: list[Any] = [None, "", "   ", "\t\n", [], {}]


@pytest.mark.parametrize("value", EMPTY_VALUES)
def test_empty_field_is_absent(value: Any) -> None:
    result = draft(
        rows(
            ("FirstName", "field", "CustomFields.X"),
            ("City", "field", "CustomFields.X"),
            ("Score", "field", "CustomFields.X"),
        ),
        bare(CustomFields={"X": value}),
    )
    assert result.attributes == {}
    assert result.location == {}
    assert result.properties == {}
    assert result.profile_attributes() == {}


@pytest.mark.parametrize("value", [*EMPTY_VALUES, ...])
def test_empty_field_with_clear_is_clear(value: Any) -> None:
    fields = {} if value is ... else {"X": value}
    result = draft(
        rows(
            ("FirstName", "field", "CustomFields.X", "clear"),
            ("City", "field", "CustomFields.X", "clear"),
            ("Score", "field", "CustomFields.X", "clear"),
            ("PhoneNumber", "field", "CustomFields.X", "clear"),
        ),
        bare(CustomFields=fields),
    )
    assert result.attributes == {"first_name": CLEAR, "phone_number": CLEAR}
    assert result.location == {"city": CLEAR}
    assert result.properties == {"Score": CLEAR}
    assert result.profile_attributes() == {
        "first_name": None,
        "phone_number": None,
        "location": {"city": None},
        "properties": {"Score": None},
    }


def test_clear_row_with_a_value_sets_it() -> None:
    result = draft(rows(("FirstName", "field", "FirstName", "clear")), bare(FirstName=" Ada "))
    assert result.attributes == {"first_name": "Ada"}


def test_bad_phone_is_omitted_even_when_the_row_says_clear() -> None:
    collection = rows(("PhoneNumber", "formula", "e164(Phone)", "clear"))
    result = draft(collection, bare(Phone="12"))
    assert result.attributes == {}
    assert result.notes == ["phone omitted: '12' cannot be normalized to E.164"]
    # The same through a field row, which the flow normalizes afterwards.
    result = draft(rows(("PhoneNumber", "field", "Phone", "clear")), bare(Phone="call me"))
    assert result.attributes == {}
    assert result.notes == ["phone omitted: 'call me' cannot be normalized to E.164"]
    # And no phone at all does clear.
    assert draft(collection, bare()).attributes == {"phone_number": CLEAR}


def test_every_phone_value_is_normalized_with_the_billing_country() -> None:
    who = bare(Phone="07700 900123", Addresses=[{"Country": "GB", "IsPrimaryBilling": True}])
    for row in (("PhoneNumber", "field", "Phone"), ("PhoneNumber", "static", "07700 900123")):
        assert draft(rows(row), who).attributes == {"phone_number": "+447700900123"}


def test_phone_from_a_number_value() -> None:
    who = bare(CustomFields={"Mobile": 4155552671})
    result = draft(rows(("PhoneNumber", "field", "CustomFields.Mobile")), who)
    assert result.attributes == {"phone_number": "+14155552671"}


def test_long_bad_phone_note_is_clipped() -> None:
    result = draft(rows(("PhoneNumber", "field", "Phone")), bare(Phone="x" * 500))
    assert len(result.notes[0]) < 120


def test_strings_are_stripped_and_numbers_become_text() -> None:
    result = draft(
        rows(
            ("ExternalId", "field", "Id"),
            ("Zip", "field", "Addresses.0.PostalCode"),
            ("Organization", "field", "CustomFields.Org"),
            ("Title", "field", "CustomFields.Rank"),
        ),
        Customer.from_record(
            {
                "Id": 7,
                "Addresses": [{"PostalCode": 2000.0}],
                "CustomFields": {"Org": "  Acme  ", "Rank": 2.5},
            }
        ),
    )
    assert result.attributes == {"external_id": "7", "organization": "Acme", "title": "2.5"}
    assert result.location == {"zip": "2000"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("EmailAddress", "ada@example.com"),
        ("CustomFields.Newsletter", "yes"),
        ("Addresses.1.City", "London"),
        ("Addresses.0.IsPrimaryShipping", True),
        ("Loyalty.Since", 2019),
        ("Addresses.9.City", None),
        ("Addresses.x.City", None),
        ("CustomFields.Missing", None),
        ("EmailAddress.length", None),
        ("Nope.Deeper.Still", None),
    ],
)
def test_field_paths(path: str, expected: Any) -> None:
    result = draft(rows(("Value", "field", path)), customer())
    assert result.properties.get("Value") == expected


def test_custom_properties_keep_json_types_and_drop_inner_nulls() -> None:
    who = bare(
        CustomFields={
            "Count": 3,
            "Ratio": 0.5,
            "Flag": False,
            "Tags": ["a", None, "b"],
            "Meta": {"k": "v", "gone": None, "nested": [1, None]},
            "Zero": 0,
        }
    )
    names = ("Count", "Ratio", "Flag", "Tags", "Meta", "Zero")
    result = draft(rows(*((n, "field", f"CustomFields.{n}") for n in names)), who)
    assert result.properties == {
        "Count": 3,
        "Ratio": 0.5,
        "Flag": False,
        "Tags": ["a", "b"],
        "Meta": {"k": "v", "nested": [1]},
        "Zero": 0,
    }


def test_a_list_of_nulls_is_empty() -> None:
    who = bare(CustomFields={"Tags": [None, None]})
    assert draft(rows(("Tags", "field", "CustomFields.Tags")), who).properties == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        (" Yes ", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
    ],
)
def test_subscription_and_list_values_coerce_to_bool(value: Any, expected: bool) -> None:
    collection = rows(
        ("SubscribeProfile", "field", "CustomFields.V"),
        ("LIST_Newsletter", "field", "CustomFields.V"),
        ("UCLIST_VIP", "field", "CustomFields.V"),
    )
    result = draft(collection, bare(CustomFields={"V": value}))
    assert result.subscribe is expected
    assert result.lists == {"Newsletter": expected}
    assert result.uclists == {"VIP": expected}


@pytest.mark.parametrize("value", ["maybe", 2, ["yes"], {"a": 1}, "y"])
@pytest.mark.parametrize("destination", ["SubscribeProfile", "LIST_News", "UCLIST_VIP"])
def test_unusable_consent_value_is_a_formula_error(value: Any, destination: str) -> None:
    collection = rows((destination, "field", "CustomFields.V"))
    with pytest.raises(FormulaError) as caught:
        draft(collection, bare(CustomFields={"V": value}))
    assert caught.value.row == destination
    assert caught.value.collection == "add"
    assert caught.value.customer_id == "c-1"
    assert "expected true or false" in str(caught.value)


def test_empty_subscribe_value_leaves_consent_untouched() -> None:
    collection = rows(
        ("SubscribeProfile", "field", "CustomFields.V"),
        ("LIST_News", "field", "CustomFields.V"),
        ("UCLIST_VIP", "field", "CustomFields.V"),
    )
    result = draft(collection, bare(CustomFields={"V": " "}))
    assert result.subscribe is None
    assert result.lists == {}
    assert result.uclists == {}


def test_no_subscribe_row_unsubscribes() -> None:
    compiled = compile_collection(rows(("Email", "field", "EmailAddress")), phone=PhoneSettings())
    assert compiled.has_subscribe_row is False
    assert compiled.draft(bare(EmailAddress="a@b.co"), profile_id=None).subscribe is False
    assert compile_collection(template(), phone=PhoneSettings()).has_subscribe_row is True


def test_static_false_unsubscribes_and_removes_from_lists() -> None:
    collection = rows(
        ("SubscribeProfile", "static", False),
        ("LIST_News", "static", "no"),
        ("UCLIST_VIP", "static", 0),
    )
    result = draft(collection, bare())
    assert (result.subscribe, result.lists, result.uclists) == (
        False,
        {"News": False},
        {"VIP": False},
    )


def test_id_row_sets_the_profile_id() -> None:
    collection = rows(("Id", "formula", "link()"))
    assert draft(collection, bare(), profile_id="P1").profile_id == "P1"
    assert draft(collection, bare(), profile_id=None).profile_id is None
    assert (
        draft(rows(("Id", "field", "CustomFields.K")), bare(CustomFields={"K": 44552})).profile_id
        == "44552"
    )


def test_no_id_row_means_no_profile_id() -> None:
    assert (
        draft(rows(("Email", "field", "EmailAddress")), bare(), profile_id="P1").profile_id is None
    )


@pytest.mark.parametrize("value", [["a"], {"a": 1}, True])
def test_non_text_for_an_attribute_is_a_formula_error(value: Any) -> None:
    with pytest.raises(FormulaError, match="expected text"):
        draft(rows(("FirstName", "field", "CustomFields.V")), bare(CustomFields={"V": value}))


def test_non_finite_number_for_a_property_is_a_formula_error() -> None:
    # A customer holding NaN is refused as it is read; a formula can still make one.
    with pytest.raises(FormulaError, match="finite"):
        draft(rows(("Score", "formula", "custom('V') | float")), bare(CustomFields={"V": "nan"}))


# --- compile-time errors -------------------------------------------------------------------


def compile_error(*row: Any) -> MappingError:
    with pytest.raises(MappingError) as caught:
        compile_collection(Collection("update", (MappingRow(*row),)), phone=PhoneSettings())
    assert caught.value.collection == "update"
    return caught.value


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("Type", "static", "person"), "Type must be the static value 'profile'"),
        (("Type", "formula", "'profile'"), "not a formula row"),
        (("Type", "field", "Kind"), "not a field row"),
        (("SubscribeProfile", "static", "maybe"), "expected true or false"),
        (("LIST_News", "static", 5), "expected true or false"),
        (("FirstName", "static", ["Ada"]), "expected text"),
        (("Score", "static", float("inf")), "finite"),
        (("Email", "field", "Addresses..City"), "empty part"),
        (("Email", "field", 12), "must be a path"),
        (("Email", "bogus", "x"), "kind must be one of"),
        (("Email", "field", "EmailAddress", "wipe"), "when_empty must be omit or clear"),
        (("SubscribeProfile", "static", True, "clear"), "no meaning for SubscribeProfile"),
        (("LIST_News", "static", True, "clear"), "no meaning"),
        (("Id", "formula", "link()", "clear"), "no meaning"),
        (("", "static", "x"), "non-empty name"),
        (("Email", "formula", "EmailAddress |"), "is incomplete: it ends where more was expected"),
    ],
)
def test_compile_errors_name_collection_and_row(row: tuple[Any, ...], message: str) -> None:
    error = compile_error(*row)
    assert message in str(error)
    assert error.row == row[0]


def test_formula_syntax_error_names_collection_row_and_text() -> None:
    error = compile_error("City", "formula", "billing.City |")
    assert str(error).startswith("collection 'update' row 'City': formula 'billing.City |'")


def test_duplicate_destination_in_one_collection() -> None:
    collection = rows(("Email", "field", "EmailAddress"), ("Email", "field", "Other"))
    with pytest.raises(MappingError, match="mapped more than once") as caught:
        compile_collection(collection, phone=PhoneSettings())
    assert caught.value.row == "Email"


def test_unknown_phone_region() -> None:
    with pytest.raises(MappingError, match="phone region 'XX'"):
        compile_collection(template(), phone=PhoneSettings(region="XX"))


def test_lowercase_region_is_accepted() -> None:
    who = bare(Phone="030 901820")
    result = draft(rows(("PhoneNumber", "field", "Phone")), who, phone=PhoneSettings(region="de"))
    assert result.attributes == {"phone_number": "+4930901820"}


# --- field ownership: create-only rows, consent overrides, what a collection maps ---------


TEMPLATE_FIELDS = frozenset(
    {
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "last_name",
        "organization",
        "location.address1",
        "location.address2",
        "location.city",
        "location.region",
        "location.zip",
        "location.country",
        "properties.My Custom",
    }
)


@pytest.mark.parametrize("name", ["add", "update"])
def test_template_fields_and_overrides(name: str) -> None:
    compiled = compile_collection(template(name), phone=PhoneSettings())
    assert compiled.fields == TEMPLATE_FIELDS
    assert compiled.overrides == frozenset()
    assert draft(template(name), customer(), profile_id="P1").overrides == frozenset()


def test_fields_of_a_custom_collection() -> None:
    collection = Collection(
        "update",
        (
            MappingRow("Type", "static", "profile"),
            MappingRow("Id", "formula", "link()"),
            MappingRow("Email", "field", "EmailAddress"),
            MappingRow("Title", "static", "Dr"),
            MappingRow("Timezone", "static", "Europe/London"),
            MappingRow("Loyalty Tier", "field", "CustomFields.Tier", "clear"),
            MappingRow("My Custom", "static", "x"),
            MappingRow("SubscribeProfile", "static", True),
            MappingRow("LIST_News", "static", True),
            MappingRow("UCLIST_VIP", "static", True),
        ),
    )
    compiled = compile_collection(collection, phone=PhoneSettings())
    assert compiled.fields == {
        "email",
        "title",
        "location.timezone",
        "properties.Loyalty Tier",
        "properties.My Custom",
    }
    assert compile_collection(
        rows(("Type", "static", "profile")), phone=PhoneSettings()
    ).fields == (frozenset())


def test_overrides_reach_every_draft() -> None:
    collection = Collection(
        "update",
        (
            MappingRow("Email", "field", "EmailAddress"),
            MappingRow("SubscribeProfile", "static", True, override_klaviyo_consent=True),
            MappingRow("LIST_News", "static", True, override_klaviyo_consent=True),
            MappingRow("LIST_Other", "static", True),
            MappingRow("UCLIST_VIP", "static", True),
        ),
    )
    compiled = compile_collection(collection, phone=PhoneSettings())
    assert compiled.overrides == {"SubscribeProfile", "LIST_News"}
    first = compiled.draft(bare(EmailAddress="a@b.co"), profile_id="P1")
    second = compiled.draft(bare(), profile_id="P2")
    assert first.overrides == second.overrides == {"SubscribeProfile", "LIST_News"}
    # The draft's content is the same as without overrides: the engine decides what they do.
    assert first.subscribe is True
    assert first.lists == {"News": True, "Other": True}


def test_a_create_only_row_runs_in_add() -> None:
    collection = Collection("add", (MappingRow("FirstName", "field", "FirstName", on="create"),))
    result = draft(collection, bare(FirstName="Ada"))
    assert result.attributes == {"first_name": "Ada"}


def test_a_create_only_row_in_update_is_refused() -> None:
    error = compile_error("FirstName", "field", "FirstName", "omit", "", "create")
    assert error.row == "FirstName"
    assert str(error) == (
        "collection 'update' row 'FirstName': on = \"create\" rows are never sent on updates: "
        "a create-only row belongs in the add collection only"
    )


def test_compile_rows_lists_every_ownership_problem() -> None:
    collection = Collection(
        "update",
        (
            MappingRow("FirstName", "field", "FirstName", on="create"),
            MappingRow("LastName", "field", "LastName"),
            MappingRow("UCLIST_VIP", "static", True, override_klaviyo_consent=True),
            MappingRow("SubscribeProfile", "static", True, override_klaviyo_consent=True),
        ),
    )
    compiled, errors = compile_rows(collection)
    assert [e.row for e in errors] == ["FirstName", "UCLIST_VIP"]
    assert all(e.collection == "update" for e in errors)
    assert len(compiled) == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("Email", "field", "EmailAddress", "omit", "", "later"), "on must be always or create"),
        (
            ("SubscribeProfile", "static", True, "omit", "", "always", "yes"),
            "override_klaviyo_consent must be true or false, got 'yes'",
        ),
        (
            ("FirstName", "static", "Ada", "omit", "", "always", True),
            "override_klaviyo_consent is allowed only on SubscribeProfile and LIST_ rows: "
            "FirstName is not consent",
        ),
        (
            ("UCLIST_VIP", "static", True, "omit", "", "always", True),
            "UCLIST_ adds to a list without touching consent",
        ),
        (("Id", "formula", "link()", "omit", "", "always", True), "Id is not consent"),
        (("Score", "static", 1, "omit", "", "always", True), "Score is not consent"),
    ],
)
def test_ownership_compile_errors_name_collection_and_row(
    row: tuple[Any, ...], message: str
) -> None:
    error = compile_error(*row)
    assert message in str(error)
    assert error.row == row[0]
