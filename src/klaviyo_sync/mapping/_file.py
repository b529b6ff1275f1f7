"""Reading mapping files (TOML) and the shipped templates, which are written in the same format.

The format is documented in the package docstring (``klaviyo_sync.mapping``). This module checks
the file's shape: keys, kinds, options, duplicates and removals. Formulas and static values are
checked by compiling (``compile_collection`` or ``check_collections``), so that ``check`` can
report every broken formula at once instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final, cast

from ..exceptions import MappingError
from ..storable import is_storable
from ._compile import CREATE_ONLY_ON_UPDATE, consent_override_problem
from ._model import (
    COLLECTION_NAMES,
    KINDS,
    ON_VALUES,
    WHEN_EMPTY,
    Collection,
    CollectionName,
    Collections,
    MappingRow,
)

__all__ = ["default_collections", "load_collections", "parse_mapping"]

TEMPLATES: Final = ("default", "none")
_TOP_KEYS: Final = frozenset({"template", "remove", "rows", *COLLECTION_NAMES})
_SECTION_KEYS: Final = frozenset({"remove"})
_ROW_KEYS: Final = frozenset(
    {"destination", "kind", "source", "when_empty", "collections", "description"}
    | {"on", "override_klaviyo_consent"}
)
# What the update collection gets when SubscribeProfile is create-only: no SubscribeProfile row
# at all would unsubscribe every profile on update (the seed's rule), the opposite of the intent.
_CONSENT_LEFT_ALONE: Final = MappingRow(
    "SubscribeProfile",
    "static",
    "",
    description='SubscribeProfile is create-only (on = "create" in the add collection): this '
    "empty value leaves consent as Klaviyo has it on updates.",
)


def load_collections(path: Path | None) -> Collections:
    """The collections a mapping file describes; ``None`` means the shipped templates."""
    if path is None:
        return default_collections()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise MappingError(f"{path}: cannot read the mapping file: {err.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: the mapping file is not UTF-8 text") from None
    return parse_mapping(text, source=str(path))


@functools.cache
def default_collections() -> Collections:
    """The shipped templates: the seed's 18 mappings in both ``add`` and ``update``."""
    text = resources.files(__package__).joinpath("templates", "default.toml").read_text("utf-8")
    return parse_mapping(text, source="templates/default.toml", allow_template=False)


def parse_mapping(text: str, *, source: str, allow_template: bool = True) -> Collections:
    """Parse mapping-file text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"{source}: not valid TOML: {err}") from None
    _no_unknown(data, _TOP_KEYS, source, "at the top level")
    rows = _start(data.get("template", "default"), source, allow_template)
    _remove(rows, data, source)
    _add_rows(rows, data.get("rows", []), source)
    return Collections(
        add=Collection("add", tuple(rows["add"])),
        update=Collection("update", tuple(rows["update"])),
    )


def _start(template: Any, source: str, allow_template: bool) -> dict[str, list[MappingRow]]:
    if template not in TEMPLATES:
        raise MappingError(
            f"{source}: template must be one of {_names(TEMPLATES)}, got {template!r}"
        )
    if template == "none":
        return {name: [] for name in COLLECTION_NAMES}
    if not allow_template:
        raise MappingError(f'{source}: the shipped template must say template = "none"')
    base = default_collections()
    return {c.name: list(c.rows) for c in base}


def _remove(rows: dict[str, list[MappingRow]], data: Mapping[str, Any], source: str) -> None:
    both = _destinations(data.get("remove", []), f"{source}: remove")
    for name in both:
        if not any(_index(rows[c], name) is not None for c in COLLECTION_NAMES):
            raise MappingError(f"{source}: remove: no row writes {name!r}", row=name)
        for collection in COLLECTION_NAMES:
            rows[collection] = [r for r in rows[collection] if r.destination != name]
    for collection in COLLECTION_NAMES:
        section = data.get(collection, {})
        where = f"{source}: [{collection}]"
        if not isinstance(section, dict):
            raise MappingError(f"{where} must be a table, like [{collection}] remove = [...]")
        _no_unknown(section, _SECTION_KEYS, source, f"in [{collection}]")
        for name in _destinations(section.get("remove", []), f"{where} remove"):
            if _index(rows[collection], name) is None:
                raise MappingError(
                    f"{where} remove: no row writes {name!r}", collection=collection, row=name
                )
            rows[collection] = [r for r in rows[collection] if r.destination != name]


def _destinations(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MappingError(f"{where} must be a list of destination names")
    return cast(list[str], value)


def _add_rows(rows: dict[str, list[MappingRow]], tables: Any, source: str) -> None:
    if not isinstance(tables, list):
        raise MappingError(f"{source}: rows must be an array of tables, written [[rows]]")
    first_seen: dict[tuple[str, str], int] = {}
    create_only: dict[str, int] = {}
    for number, table in enumerate(tables, start=1):
        row, targets = _row(table, f"{source}, [[rows]] #{number}")
        if row.on == "create":
            create_only[row.destination] = number
        for collection in targets:
            earlier = first_seen.setdefault((collection, row.destination), number)
            if earlier != number:
                raise _row_error(
                    f"{source}, [[rows]] #{number}",
                    row.destination,
                    f"collection {collection!r} already gets {row.destination!r} "
                    f"from [[rows]] #{earlier}",
                    collection=collection,
                )
            index = _index(rows[collection], row.destination)
            if index is None:
                rows[collection].append(row)
            else:
                # Replacing keeps the template's position, so the order stays the seed's.
                rows[collection][index] = row
    for destination, number in create_only.items():
        _keep_out_of_update(rows["update"], destination, number, first_seen, source)


def _keep_out_of_update(
    update: list[MappingRow],
    destination: str,
    number: int,
    first_seen: Mapping[tuple[str, str], int],
    source: str,
) -> None:
    """A create-only row also takes its destination out of ``update`` (the template's row)."""
    other = first_seen.get(("update", destination))
    if other is not None:
        raise _row_error(
            f"{source}, [[rows]] #{number}",
            destination,
            f"{CREATE_ONLY_ON_UPDATE}, but [[rows]] #{other} sends {destination!r} on updates: "
            "drop one of them",
            collection="update",
        )
    index = _index(update, destination)
    if destination == "SubscribeProfile":
        if index is None:
            update.append(_CONSENT_LEFT_ALONE)
        else:
            update[index] = _CONSENT_LEFT_ALONE
    elif index is not None:
        del update[index]


def _row(table: Any, where: str) -> tuple[MappingRow, tuple[CollectionName, ...]]:
    if not isinstance(table, dict):
        raise _row_error(where, None, "must be a table")
    destination = table.get("destination")
    if not isinstance(destination, str) or not destination.strip():
        raise _row_error(where, None, "needs a destination (a non-empty text)")
    if destination != destination.strip():
        raise _row_error(where, destination, "the destination has spaces at its start or end")
    unknown = sorted(set(table) - _ROW_KEYS)
    if unknown:
        raise _row_error(
            where, destination, f"unknown key {unknown[0]!r} (allowed: {_names(sorted(_ROW_KEYS))})"
        )
    kind = table.get("kind")
    if kind not in KINDS:
        raise _row_error(where, destination, f"kind must be one of {_names(KINDS)}, got {kind!r}")
    when_empty = table.get("when_empty", "omit")
    if when_empty not in WHEN_EMPTY:
        raise _row_error(
            where,
            destination,
            f"when_empty must be one of {_names(WHEN_EMPTY)}, got {when_empty!r}",
        )
    description = table.get("description", "")
    if not isinstance(description, str):
        raise _row_error(where, destination, "description must be text")
    on = table.get("on", "always")
    if on not in ON_VALUES:
        raise _row_error(where, destination, f"on must be one of {_names(ON_VALUES)}, got {on!r}")
    row = MappingRow(
        destination=destination,
        kind=kind,
        source=_source(table, kind, where, destination),
        when_empty=when_empty,
        description=description,
        on=on,
        override_klaviyo_consent=_override(table, where, destination),
    )
    default = ["add"] if on == "create" else list(COLLECTION_NAMES)
    targets = _collections(table.get("collections", default), where, destination)
    if on == "create" and "update" in targets:
        raise _row_error(
            where,
            destination,
            f'{CREATE_ONLY_ON_UPDATE}: drop "update" from collections',
            collection="update",
        )
    return row, targets


def _override(table: Mapping[str, Any], where: str, destination: str) -> bool:
    if "override_klaviyo_consent" not in table:
        return False
    value = table["override_klaviyo_consent"]
    if not isinstance(value, bool):
        raise _row_error(
            where, destination, f"override_klaviyo_consent must be true or false, got {value!r}"
        )
    # Even "= false" is refused elsewhere: the key on a non-consent row shows a misunderstanding.
    problem = consent_override_problem(destination)
    if problem:
        raise _row_error(where, destination, problem)
    return value


def _source(table: Mapping[str, Any], kind: str, where: str, destination: str) -> Any:
    if "source" not in table:
        raise _row_error(where, destination, f"a {kind} row needs a source")
    value = table["source"]
    if kind != "static" and (not isinstance(value, str) or not value.strip()):
        what = "a path like CustomFields.Newsletter" if kind == "field" else "an expression"
        raise _row_error(where, destination, f"a {kind} row's source must be {what}, as text")
    if kind == "static" and _has_datetime(value):
        raise _row_error(
            where, destination, "a static value cannot be a TOML date or time; quote it as text"
        )
    if not is_storable(value):
        # TOML lets "\u0000" through; sent to every customer, it would fail every batch.
        raise _row_error(
            where, destination, "the source holds a NUL character (\\u0000): remove it"
        )
    return value


def _has_datetime(value: Any) -> bool:
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return True
    if isinstance(value, list):
        return any(_has_datetime(v) for v in value)
    if isinstance(value, dict):
        return any(_has_datetime(v) for v in value.values())
    return False


def _collections(value: Any, where: str, destination: str) -> tuple[CollectionName, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(v in COLLECTION_NAMES for v in value)
        or len(set(value)) != len(value)
    ):
        raise _row_error(
            where, destination, f"collections must list one or both of {_names(COLLECTION_NAMES)}"
        )
    return tuple(cast(list[CollectionName], value))


def _row_error(
    where: str, destination: str | None, problem: str, *, collection: str | None = None
) -> MappingError:
    label = f"{where} ({destination!r})" if destination else where
    error = MappingError(f"{label}: {problem}")
    # Set after construction: the message already names the file and row its own way.
    error.row = destination
    error.collection = collection
    return error


def _no_unknown(table: Mapping[str, Any], allowed: frozenset[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise MappingError(
            f"{source}: unknown key {unknown[0]!r} {where} (allowed: {_names(sorted(allowed))})"
        )


def _index(rows: list[MappingRow], destination: str) -> int | None:
    return next((i for i, r in enumerate(rows) if r.destination == destination), None)


def _names(values: Any) -> str:
    return ", ".join(str(v) for v in values)
