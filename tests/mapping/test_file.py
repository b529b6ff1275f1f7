"""Mapping files: start from a template, remove rows, add or replace rows; every mistake named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from klaviyo_sync.exceptions import ConfigError, MappingError
from klaviyo_sync.mapping import MappingRow, PhoneSettings, compile_collection, load_collections

from .test_templates import SEED_DESTINATIONS


def load(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    collections = load_collections(path)
    return (
        [r.destination for r in collections.add.rows],
        [r.destination for r in collections.update.rows],
    )


def fails(tmp_path: Path, text: str, message: str) -> MappingError:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_collections(path)
    assert str(path) in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)
    assert isinstance(caught.value, ConfigError)
    return caught.value


def test_an_empty_file_is_the_templates(tmp_path: Path) -> None:
    assert load(tmp_path, "") == (SEED_DESTINATIONS, SEED_DESTINATIONS)


def test_template_none_starts_empty(tmp_path: Path) -> None:
    add, update = load(
        tmp_path,
        """
        template = "none"
        [[rows]]
        destination = "Email"
        kind = "field"
        source = "EmailAddress"
        """,
    )
    assert add == update == ["Email"]


def test_remove_from_both_and_from_one(tmp_path: Path) -> None:
    add, update = load(
        tmp_path,
        """
        remove = ["My Custom", "UCLIST_Preview List"]
        [update]
        remove = ["SubscribeProfile"]
        [add]
        remove = ["Id"]
        """,
    )
    assert add == [
        d for d in SEED_DESTINATIONS if d not in {"My Custom", "UCLIST_Preview List", "Id"}
    ]
    assert update == [
        d
        for d in SEED_DESTINATIONS
        if d not in {"My Custom", "UCLIST_Preview List", "SubscribeProfile"}
    ]


def test_a_row_replaces_the_template_row_in_place(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        """
        [[rows]]
        destination = "SubscribeProfile"
        kind = "formula"
        source = "custom('Newsletter') == 'yes'"
        collections = ["add"]
        description = "Only customers who opted in."
        """,
        encoding="utf-8",
    )
    collections = load_collections(path)
    assert [r.destination for r in collections.add.rows] == SEED_DESTINATIONS
    add_row = collections.add.row("SubscribeProfile")
    assert add_row == MappingRow(
        "SubscribeProfile",
        "formula",
        "custom('Newsletter') == 'yes'",
        "omit",
        "Only customers who opted in.",
    )
    update_row = collections.update.row("SubscribeProfile")
    assert update_row is not None
    assert update_row.source is True


def test_new_rows_are_appended_in_file_order(tmp_path: Path) -> None:
    add, update = load(
        tmp_path,
        """
        [[rows]]
        destination = "Loyalty Tier"
        kind = "field"
        source = "CustomFields.Tier"
        when_empty = "clear"

        [[rows]]
        destination = "Title"
        kind = "static"
        source = "Customer"
        collections = ["update"]
        """,
    )
    assert add == [*SEED_DESTINATIONS, "Loyalty Tier"]
    assert update == [*SEED_DESTINATIONS, "Loyalty Tier", "Title"]


def test_removed_then_added_row_goes_last(tmp_path: Path) -> None:
    add, _ = load(
        tmp_path,
        """
        remove = ["Email"]
        [[rows]]
        destination = "Email"
        kind = "formula"
        source = "EmailAddress | lower"
        """,
    )
    assert add == [*(d for d in SEED_DESTINATIONS if d != "Email"), "Email"]


def test_static_values_of_every_toml_type(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        """
        template = "none"
        [[rows]]
        destination = "Email"
        kind = "field"
        source = "EmailAddress"
        [[rows]]
        destination = "Tags"
        kind = "static"
        source = ["a", 1, 2.5, true]
        [[rows]]
        destination = "Meta"
        kind = "static"
        source = { plan = "pro", seats = 3 }
        """,
        encoding="utf-8",
    )
    collection = load_collections(path).add
    compiled = compile_collection(collection, phone=PhoneSettings())
    from .factories import bare

    result = compiled.draft(bare(EmailAddress="a@b.co"), profile_id=None)
    assert result.properties == {"Tags": ["a", 1, 2.5, True], "Meta": {"plan": "pro", "seats": 3}}


ROW = '[[rows]]\ndestination = "Email"\nkind = "field"\nsource = "EmailAddress"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("template = 'nope'", r"template must be one of default, none, got 'nope'"),
        ("template = = 1", r"not valid TOML"),
        ("colour = 'red'", r"unknown key 'colour' at the top level"),
        ("remove = 'Email'", r"remove must be a list of destination names"),
        ("remove = ['Nope']", r"remove: no row writes 'Nope'"),
        ("[update]\nremove = ['Nope']", r"\[update\] remove: no row writes 'Nope'"),
        ("[update]\nkeep = ['Email']", r"unknown key 'keep' in \[update\]"),
        ("update = 3", r"\[update\] must be a table"),
        ("rows = 3", r"rows must be an array of tables"),
        ("rows = [1]", r"\[\[rows\]\] #1: must be a table"),
        ("[[rows]]\nkind = 'field'\nsource = 'x'", r"#1: needs a destination"),
        ("[[rows]]\ndestination = ''\nkind = 'field'", r"#1: needs a destination"),
        ("[[rows]]\ndestination = ' Email'\nkind = 'field'", r"spaces at its start or end"),
        (ROW + "colour = 'red'", r"#1 \('Email'\): unknown key 'colour'"),
        ("[[rows]]\ndestination = 'Email'\nkind = 'magic'\nsource = 'x'", r"kind must be one of"),
        ("[[rows]]\ndestination = 'Email'\nsource = 'x'", r"kind must be one of .* got None"),
        (ROW + "when_empty = 'wipe'", r"when_empty must be one of omit, clear, got 'wipe'"),
        ("[[rows]]\ndestination = 'Email'\nkind = 'field'", r"a field row needs a source"),
        ("[[rows]]\ndestination = 'Email'\nkind = 'field'\nsource = 3", r"must be a path"),
        ("[[rows]]\ndestination = 'Email'\nkind = 'formula'\nsource = ''", r"an expression"),
        ("[[rows]]\ndestination = 'D'\nkind = 'static'\nsource = 2024-01-01", r"date or time"),
        ("[[rows]]\ndestination = 'D'\nkind = 'static'\nsource = [12:00:00]", r"date or time"),
        ('[[rows]]\ndestination = "D"\nkind = "static"\nsource = "a\\u0000b"', r"NUL character"),
        ('[[rows]]\ndestination = "D"\nkind = "static"\nsource = {k = ["\\u0000"]}', r"NUL"),
        (ROW + "collections = ['add', 'delete']", r"collections must list one or both"),
        (ROW + "collections = []", r"collections must list one or both"),
        (ROW + "collections = ['add', 'add']", r"collections must list one or both"),
        (ROW + "description = 5", r"description must be text"),
        (ROW + "\n" + ROW, r"#2 \('Email'\): collection 'add' already gets 'Email' from .*#1"),
    ],
)
def test_mapping_file_errors(tmp_path: Path, text: str, message: str) -> None:
    fails(tmp_path, text, message)


def test_row_errors_carry_the_destination_and_collection(tmp_path: Path) -> None:
    only_add = ROW + 'collections = ["add"]\n'
    only_update = ROW + 'collections = ["update"]\n'
    error = fails(tmp_path, f"{only_add}\n{only_update}\n{ROW}", r"#3 .*'add' .* #1")
    assert error.row == "Email"
    assert error.collection == "add"
    error = fails(tmp_path, f"{only_add}\n{only_update}\n{only_update}", r"#3 .*'update' .* #2")
    assert error.collection == "update"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_collections(tmp_path / "absent.toml")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_bytes(b"template = '\xff'")
    with pytest.raises(MappingError, match="not UTF-8"):
        load_collections(path)


def test_formula_errors_surface_at_compile_not_load(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        '[[rows]]\ndestination = "City"\nkind = "formula"\nsource = "billing.City |"\n',
        encoding="utf-8",
    )
    collections = load_collections(path)  # so that check can list every broken formula
    with pytest.raises(MappingError, match=r"collection 'add' row 'City': formula"):
        compile_collection(collections.add, phone=PhoneSettings())


def test_the_documented_example_loads_and_does_what_it_says(tmp_path: Path) -> None:
    import klaviyo_sync.mapping as mapping

    from .factories import bare

    assert mapping.__doc__ is not None
    block = mapping.__doc__.split("A mapping file changes them::")[1].split("A row has")[0]
    add, update = load(tmp_path, "\n".join(line[4:] for line in block.splitlines()))
    assert add == [
        *(d for d in SEED_DESTINATIONS if d not in {"My Custom", "UCLIST_Preview List"}),
        "Loyalty Tier",
    ]
    assert "LIST_Sms Subscribers" not in update
    collections = load_collections(tmp_path / "mapping.toml")
    who = bare(EmailAddress="a@b.co", CustomFields={"Newsletter": "YES"})
    phone = PhoneSettings()
    added = compile_collection(collections.add, phone=phone).draft(who, profile_id=None)
    assert added.subscribe is True
    updated = compile_collection(collections.update, phone=phone).draft(who, profile_id="P1")
    assert updated.subscribe is None  # consent left as Klaviyo has it
    assert updated.lists == {}


# --- field ownership: on = "create", override_klaviyo_consent -------------------------------


def test_a_create_only_row_goes_to_add_and_leaves_update(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        """
        [[rows]]
        destination = "FirstName"
        kind = "field"
        source = "FirstName"
        on = "create"

        [[rows]]
        destination = "Nickname"
        kind = "field"
        source = "CustomFields.Nickname"
        on = "create"
        collections = ["add"]
        """,
        encoding="utf-8",
    )
    collections = load_collections(path)
    # The template's FirstName is replaced in place in add and no longer sent on updates.
    assert [r.destination for r in collections.add.rows] == [*SEED_DESTINATIONS, "Nickname"]
    assert [r.destination for r in collections.update.rows] == [
        d for d in SEED_DESTINATIONS if d != "FirstName"
    ]
    assert collections.add.row("FirstName") == MappingRow(
        "FirstName", "field", "FirstName", on="create"
    )
    nickname = collections.add.row("Nickname")
    assert nickname is not None
    assert nickname.on == "create"
    assert collections.update.row("Nickname") is None
    # Every other row keeps the default.
    assert {r.on for r in collections.update.rows} == {"always"}


def test_create_only_without_a_template_row(tmp_path: Path) -> None:
    add, update = load(
        tmp_path,
        f"""
        template = "none"
        {ROW}
        [[rows]]
        destination = "LastName"
        kind = "field"
        source = "LastName"
        on = "create"
        """,
    )
    assert (add, update) == (["Email", "LastName"], ["Email"])


def test_on_always_is_the_default_and_may_be_written(tmp_path: Path) -> None:
    add, update = load(tmp_path, ROW + 'on = "always"\n')
    assert "Email" in add
    assert "Email" in update


def test_a_create_only_subscribe_row_leaves_consent_alone_on_update(tmp_path: Path) -> None:
    from .factories import bare

    path = tmp_path / "mapping.toml"
    path.write_text(
        '[[rows]]\ndestination = "SubscribeProfile"\nkind = "static"\nsource = true\n'
        'on = "create"\n',
        encoding="utf-8",
    )
    collections = load_collections(path)
    # Without a SubscribeProfile row the update would unsubscribe everyone (the seed's rule);
    # the row that replaces it is empty, so consent stays as Klaviyo has it.
    assert [r.destination for r in collections.update.rows] == SEED_DESTINATIONS
    left = collections.update.row("SubscribeProfile")
    assert left is not None
    assert (left.kind, left.source, left.on) == ("static", "", "always")
    assert "leaves consent as Klaviyo has it" in left.description
    phone = PhoneSettings()
    who = bare(EmailAddress="a@b.co")
    update = compile_collection(collections.update, phone=phone)
    assert update.has_subscribe_row
    assert update.draft(who, profile_id="P1").subscribe is None
    add = compile_collection(collections.add, phone=phone)
    assert add.draft(who, profile_id=None).subscribe is True


def test_a_create_only_subscribe_row_without_a_template(tmp_path: Path) -> None:
    _, update = load(
        tmp_path,
        f"""
        template = "none"
        {ROW}
        [[rows]]
        destination = "SubscribeProfile"
        kind = "static"
        source = true
        on = "create"
        """,
    )
    assert update == ["Email", "SubscribeProfile"]


def test_override_klaviyo_consent_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        """
        [[rows]]
        destination = "SubscribeProfile"
        kind = "static"
        source = true
        override_klaviyo_consent = true

        [[rows]]
        destination = "LIST_Sms Subscribers"
        kind = "static"
        source = true
        override_klaviyo_consent = true
        collections = ["update"]

        [[rows]]
        destination = "LIST_News"
        kind = "static"
        source = true
        override_klaviyo_consent = false
        """,
        encoding="utf-8",
    )
    collections = load_collections(path)

    def overriding(rows: tuple[MappingRow, ...]) -> list[str]:
        return [r.destination for r in rows if r.override_klaviyo_consent]

    assert overriding(collections.add.rows) == ["SubscribeProfile"]
    assert overriding(collections.update.rows) == ["SubscribeProfile", "LIST_Sms Subscribers"]
    assert collections.add.row("LIST_News") is not None


SUBSCRIBE = '[[rows]]\ndestination = "SubscribeProfile"\nkind = "static"\nsource = true\n'
UCLIST = '[[rows]]\ndestination = "UCLIST_VIP"\nkind = "static"\nsource = true\n'
ONLY = "allowed only on SubscribeProfile and LIST_ rows"


@pytest.mark.parametrize(
    ("text", "message", "row", "collection"),
    [
        (
            ROW + "on = 'later'",
            r"#1 \('Email'\): on must be one of always, create, got 'later'",
            "Email",
            None,
        ),
        (
            ROW + "on = true",
            r"#1 \('Email'\): on must be one of always, create, got True",
            "Email",
            None,
        ),
        (
            ROW + "on = 'create'\ncollections = ['add', 'update']",
            r'#1 \(\'Email\'\): on = "create" rows are never sent on updates: drop "update" '
            r"from collections",
            "Email",
            "update",
        ),
        (
            ROW + "on = 'create'\ncollections = ['update']",
            r'#1 \(\'Email\'\): on = "create" rows are never sent on updates: drop "update"',
            "Email",
            "update",
        ),
        (
            ROW + "on = 'create'\n" + ROW + "collections = ['update']",
            r'#1 \(\'Email\'\): on = "create" rows are never sent on updates, but \[\[rows\]\] '
            r"#2 sends 'Email' on updates",
            "Email",
            "update",
        ),
        (
            ROW + "collections = ['update']\n" + ROW + "on = 'create'",
            r"#2 \('Email'\): .* but \[\[rows\]\] #1 sends 'Email' on updates",
            "Email",
            "update",
        ),
        (
            SUBSCRIBE + "override_klaviyo_consent = 'yes'",
            r"#1 \('SubscribeProfile'\): override_klaviyo_consent must be true or false, "
            r"got 'yes'",
            "SubscribeProfile",
            None,
        ),
        (
            ROW + "override_klaviyo_consent = true",
            rf"#1 \('Email'\): override_klaviyo_consent is {ONLY}: Email is not consent",
            "Email",
            None,
        ),
        (
            ROW + "override_klaviyo_consent = false",
            rf"#1 \('Email'\): override_klaviyo_consent is {ONLY}",
            "Email",
            None,
        ),
        (
            UCLIST + "override_klaviyo_consent = true",
            rf"#1 \('UCLIST_VIP'\): override_klaviyo_consent is {ONLY}: UCLIST_ adds to a list "
            "without touching consent",
            "UCLIST_VIP",
            None,
        ),
        (
            "[[rows]]\ndestination = 'Type'\nkind = 'static'\nsource = 'profile'\n"
            "override_klaviyo_consent = true",
            rf"#1 \('Type'\): override_klaviyo_consent is {ONLY}: Type is not consent",
            "Type",
            None,
        ),
        (
            "[[rows]]\ndestination = 'Loyalty'\nkind = 'static'\nsource = 'gold'\n"
            "override_klaviyo_consent = true",
            r"#1 \('Loyalty'\): .*Loyalty is not consent",
            "Loyalty",
            None,
        ),
    ],
)
def test_ownership_errors_name_file_and_row(
    tmp_path: Path, text: str, message: str, row: str, collection: str | None
) -> None:
    error = fails(tmp_path, text, message)
    assert error.row == row
    assert error.collection == collection


def test_the_documented_ownership_example_loads_and_does_what_it_says(tmp_path: Path) -> None:
    import klaviyo_sync.mapping as mapping

    assert mapping.__doc__ is not None
    block = mapping.__doc__.split("once the profile exists in Klaviyo::")[1].split("A create-only")[
        0
    ]
    path = tmp_path / "mapping.toml"
    path.write_text("\n".join(line[4:] for line in block.splitlines()), encoding="utf-8")
    collections = load_collections(path)
    first_name = collections.add.row("FirstName")
    assert first_name is not None
    assert first_name.on == "create"
    assert collections.update.row("FirstName") is None
    for collection in collections:
        subscribe = collection.row("SubscribeProfile")
        assert subscribe is not None
        assert subscribe.override_klaviyo_consent is True
