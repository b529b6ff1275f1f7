"""``check``: formula errors with their rows, custom properties, consent and list warnings."""

from __future__ import annotations

from dataclasses import replace

from klaviyo_sync.mapping import (
    CheckMessage,
    Collection,
    Collections,
    MappingRow,
    PhoneSettings,
    check_collections,
    default_collections,
)

LISTS = {"Sms Subscribers": "double_opt_in", "Preview List": "single_opt_in"}


def check(
    add: tuple[MappingRow, ...],
    update: tuple[MappingRow, ...] | None = None,
    *,
    lists: dict[str, str] | None = None,
    phone: PhoneSettings | None = None,
    account_opt_in: str | None = None,
) -> list[CheckMessage]:
    collections = Collections(Collection("add", add), Collection("update", update or ()))
    return check_collections(
        collections, phone=phone or PhoneSettings(), lists=lists, account_opt_in=account_opt_in
    )


def only(messages: list[CheckMessage], collection: str) -> list[CheckMessage]:
    return [m for m in messages if m.collection == collection]


BASE = (
    MappingRow("Type", "static", "profile"),
    MappingRow("Id", "formula", "link()"),
    MappingRow("Email", "field", "EmailAddress"),
    MappingRow("SubscribeProfile", "static", True),
)


def test_templates_check_clean_but_for_the_custom_property() -> None:
    messages = check_collections(default_collections(), phone=PhoneSettings(), lists=LISTS)
    double = (
        "list 'Sms Subscribers' is double opt-in: LIST_ sends a consent email and the profile "
        "joins the list only once it confirms"
    )
    assert messages == [
        message
        for name in ("add", "update")
        for message in (
            CheckMessage("info", name, "LIST_Sms Subscribers", double),
            CheckMessage(
                "info",
                name,
                None,
                "not a Klaviyo profile field, written to the profile's custom properties: "
                "'My Custom'",
            ),
        )
    ]


def test_a_double_opt_in_account_is_named_for_subscribe_profile() -> None:
    rows = (*BASE,)
    double = only(check(rows, account_opt_in="double_opt_in"), "add")
    assert [(m.severity, m.row) for m in double] == [("info", "SubscribeProfile")]
    assert "consent email" in double[0].message
    assert "subscribed only once it confirms" in double[0].message
    assert only(check(rows, account_opt_in="single_opt_in"), "add") == []


def test_every_formula_error_is_listed_with_its_row() -> None:
    rows = (
        *BASE,
        MappingRow("City", "formula", "billing.City |"),
        MappingRow("Region", "formula", "customer.__class__"),
        MappingRow("Zip", "formula", "billing.PostalCode"),
        MappingRow("Country", "formula", "range(3)"),
    )
    errors = [m for m in only(check(rows), "add") if m.severity == "error"]
    assert [m.row for m in errors] == ["City", "Region", "Country"]
    assert errors[0].message.startswith("formula 'billing.City |' is incomplete")
    assert "collection" not in errors[0].message, "the row is named once, by check"
    assert "'_'" in errors[1].message


def test_compile_problems_other_than_formulas_are_errors_too() -> None:
    rows = (
        *BASE,
        MappingRow("LIST_Sms Subscribers", "static", "maybe"),
        MappingRow("Email", "field", "Other"),
    )
    errors = [m for m in only(check(rows), "add") if m.severity == "error"]
    assert [m.row for m in errors] == ["LIST_Sms Subscribers", "Email"]


def test_missing_subscribe_row_warns_that_profiles_will_be_unsubscribed() -> None:
    messages = check(BASE[:3], BASE)
    warnings = [m for m in messages if m.severity == "warning"]
    assert len(warnings) == 1
    assert warnings[0].collection == "add"
    assert warnings[0].message.startswith(
        "no SubscribeProfile mapping: profiles will be unsubscribed"
    )


def test_nothing_to_identify_a_profile_is_an_error() -> None:
    messages = check((BASE[0], BASE[1], BASE[3]), BASE)
    assert [m.message[:32] for m in messages if m.severity == "error"] == [
        "no Email and no PhoneNumber mapp"
    ]
    phone_only = (BASE[0], BASE[1], BASE[3], MappingRow("PhoneNumber", "field", "Phone"))
    assert not [m for m in check(phone_only, BASE) if m.severity == "error"]


def test_custom_properties_are_listed_and_near_misses_warned() -> None:
    rows = (
        *BASE,
        MappingRow("Loyalty Tier", "field", "CustomFields.Tier"),
        MappingRow("email", "field", "EmailAddress"),
        MappingRow("list_News", "static", True),
        MappingRow("Points", "field", "CustomFields.Points"),
    )
    messages = only(check(rows), "add")
    assert [(m.severity, m.row) for m in messages] == [
        ("warning", "email"),
        ("warning", "list_News"),
        ("info", None),
    ]
    assert "did you mean 'Email'?" in messages[0].message
    assert "did you mean 'LIST_News'?" in messages[1].message
    assert messages[2].message.endswith("'Loyalty Tier', 'Points'")


def test_clear_rows_warn() -> None:
    rows = (*BASE, MappingRow("LastName", "field", "LastName", "clear"))
    messages = only(check(rows), "add")
    assert [(m.severity, m.row) for m in messages] == [("warning", "LastName")]
    assert "will clear the Klaviyo field when the source value is empty" in messages[0].message


def test_missing_type_and_id_rows() -> None:
    messages = only(check(BASE[2:]), "add")
    assert [(m.severity, m.message.split(" ")[1]) for m in messages] == [
        ("warning", "Id"),
        ("info", "Type"),
    ]


def test_list_names_that_do_not_exist_are_errors() -> None:
    rows = (
        *BASE,
        MappingRow("LIST_Sms Subscribers", "static", True),
        MappingRow("LIST_sms subscribers", "static", True),
        MappingRow("UCLIST_Nowhere", "static", True),
    )
    errors = [m for m in only(check(rows, lists=LISTS), "add") if m.severity == "error"]
    assert [m.row for m in errors] == ["LIST_sms subscribers", "UCLIST_Nowhere"]
    assert "did you mean 'Sms Subscribers'?" in errors[0].message
    assert errors[1].message == "there is no Klaviyo list named 'Nowhere'"


def test_lists_are_not_checked_without_klaviyo() -> None:
    rows = (*BASE, MappingRow("UCLIST_Nowhere", "static", True))
    assert check(rows, BASE, lists=None) == []


def test_opt_in_mismatches_warn_about_consent() -> None:
    rows = (
        *BASE,
        MappingRow("LIST_Preview List", "static", True),
        MappingRow("UCLIST_Sms Subscribers", "static", True),
        MappingRow("LIST_Sms Subscribers", "static", True),
        MappingRow("UCLIST_Preview List", "static", True),
    )
    messages = only(check(rows, lists=LISTS), "add")
    assert [(m.severity, m.row) for m in messages] == [
        ("warning", "LIST_Preview List"),
        ("warning", "UCLIST_Sms Subscribers"),
        ("info", "LIST_Sms Subscribers"),
    ]
    assert "joins the list only once it confirms" in messages[2].message
    assert "single opt-in" in messages[0].message
    assert "no consent email" in messages[0].message
    assert "double opt-in" in messages[1].message
    assert "use LIST_" in messages[1].message


def test_bad_phone_region_is_an_error() -> None:
    messages = check(BASE, BASE, phone=PhoneSettings(region="Mars"))
    assert messages[0].severity == "error"
    assert messages[0].collection is None
    assert "phone region 'Mars'" in messages[0].message


def test_errors_come_before_warnings_within_a_collection() -> None:
    rows = (
        BASE[0],
        MappingRow("Custom", "static", "x"),
        MappingRow("City", "formula", "("),
    )
    severities = [m.severity for m in only(check(rows), "add")]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert severities[:2] == ["error", "error"]


def test_message_text() -> None:
    message = CheckMessage("warning", "add", "LastName", "this row will clear")
    assert str(message) == "warning: [add] 'LastName': this row will clear"
    assert str(replace(message, collection=None, row=None)) == "warning: this row will clear"


def test_create_only_rows_are_explained_in_add() -> None:
    rows = (
        *BASE,
        MappingRow("FirstName", "field", "FirstName", on="create"),
        MappingRow("Nickname", "field", "CustomFields.Nickname", on="create"),
    )
    messages = only(check(rows, BASE), "add")
    assert [(m.severity, m.row) for m in messages] == [
        ("info", "FirstName"),
        ("info", "Nickname"),
        ("info", None),  # Nickname is a custom property: the existing message stays
    ]
    assert messages[0].message == (
        "'FirstName' is create-only (on = \"create\"): sent when a profile is created or first "
        "linked, never on later updates, so an edit made in Klaviyo stays"
    )
    assert messages[2].message.endswith("'Nickname'")


def test_a_create_only_row_in_update_is_an_error_not_explained() -> None:
    rows = (*BASE, MappingRow("FirstName", "field", "FirstName", on="create"))
    messages = only(check(BASE, rows), "update")
    assert [(m.severity, m.row) for m in messages] == [("error", "FirstName")]
    assert 'on = "create" rows are never sent on updates' in messages[0].message


def test_consent_overrides_warn() -> None:
    rows = (
        BASE[0],
        BASE[1],
        BASE[2],
        MappingRow("SubscribeProfile", "static", True, override_klaviyo_consent=True),
        MappingRow("LIST_Sms Subscribers", "static", True, override_klaviyo_consent=True),
        MappingRow("LIST_Other", "static", True),
    )
    messages = only(check(rows, rows), "update")
    assert [(m.severity, m.row) for m in messages] == [
        ("warning", "SubscribeProfile"),
        ("warning", "LIST_Sms Subscribers"),
    ]
    assert messages[0].message == (
        "override_klaviyo_consent = true: a profile that unsubscribed in Klaviyo is subscribed "
        "again when this value is true"
    )


def test_a_misplaced_override_is_an_error_and_not_warned() -> None:
    rows = (*BASE, MappingRow("UCLIST_VIP", "static", True, override_klaviyo_consent=True))
    messages = only(check(rows), "add")
    assert [(m.severity, m.row) for m in messages] == [("error", "UCLIST_VIP")]
