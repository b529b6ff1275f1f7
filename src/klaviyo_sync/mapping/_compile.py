"""Compiling a collection once per run, and running it on each customer to get a draft.

Each row becomes a reader (static value, field path, or compiled formula) and a writer for its
destination. Every value goes through a coercion from ``_values`` that turns empty into
``None``; only a row that says ``when_empty = "clear"`` turns that into ``CLEAR``. A phone
number that cannot be normalized is never cleared: it is left out with a note, because a bad
source number must not wipe a good one in Klaviyo.

A compiled collection also says what it owns, for the engine: ``fields`` (the Klaviyo keys it
maps, so "left as it is because the source was empty" can be told from "not mapped") and
``overrides`` (the consent rows that may re-subscribe a profile unsubscribed in Klaviyo).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final

import phonenumbers

from ..clock import SYSTEM_CLOCK, Clock
from ..customer import Customer
from ..draft import CLEAR, Destination, Draft, parse_destination
from ..exceptions import FormulaError, MappingError
from ._formula import FormulaScope, FormulaSyntaxError, compile_formula
from ._model import KINDS, ON_VALUES, WHEN_EMPTY, Collection, MappingRow, PhoneSettings
from ._values import Unusable, lookup_path, parse_path, to_bool, to_json, to_text

__all__ = [
    "CREATE_ONLY_ON_UPDATE",
    "CompiledCollection",
    "RowError",
    "compile_collection",
    "compile_rows",
    "consent_override_problem",
    "formula_problem",
    "region_problem",
]

# Destinations where "clear" has no meaning: an empty value already leaves them as they are.
_NO_CLEAR: Final = frozenset({"type", "id", "subscribe", "list", "uclist"})
_NOTE_LIMIT: Final = 40
_SHOWN_FORMULA: Final = 80  # a longer formula is cut in messages: it is in the mapping file
# Consent Klaviyo may hold as unsubscribed: UCLIST_ adds to a list without touching consent.
_CONSENT: Final = frozenset({"subscribe", "list"})
CREATE_ONLY_ON_UPDATE: Final = 'on = "create" rows are never sent on updates'

Reader = Callable[[Customer, FormulaScope], Any]
Writer = Callable[[Draft, Any, FormulaScope], None]


@dataclass(slots=True, frozen=True)
class _CompiledRow:
    row: MappingRow
    target: Destination
    read: Reader
    origin: str  # "formula 'e164(Phone)'", "field 'Company'", "static value"
    write: Writer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Chosen once per row: this runs for every row of every customer of a run.
        object.__setattr__(self, "write", _writer(self.target, clears=self.clears))

    @property
    def clears(self) -> bool:
        return self.row.when_empty == "clear"

    def apply(self, draft: Draft, customer: Customer, scope: FormulaScope, collection: str) -> None:
        if scope.phone_failures:
            scope.phone_failures.clear()
        try:
            value = self.read(customer, scope)
        except Exception as err:  # a formula may raise anything; it fails this record only
            message = f"{self.origin} failed: {_reason(err)}"
            raise self._error(message, collection, customer) from None
        try:
            self.write(draft, value, scope)
        except Unusable as err:
            raise self._error(
                f"{self.origin} gave a value {self.row.destination} cannot take: {err}",
                collection,
                customer,
            ) from None

    def _error(self, message: str, collection: str, customer: Customer) -> FormulaError:
        return FormulaError(
            message, collection=collection, row=self.row.destination, customer_id=customer.id
        )


def _writer(target: Destination, *, clears: bool) -> Writer:
    """How a value lands in the draft for ``target``."""
    kind, key = target.kind, target.key
    if kind == "id":
        return _write_id
    if kind == "subscribe":
        return _write_subscribe
    if kind in ("list", "uclist"):
        return partial(_write_list, kind == "list", key)
    if kind == "attribute" and key == "phone_number":
        return partial(_write_phone, clears)
    if kind == "attribute":
        return partial(_write_attribute, key, clears)
    if kind == "location":
        return partial(_write_location, key, clears)
    if kind == "property":
        return partial(_write_property, key, clears)
    return _write_nothing  # Type: always "profile", checked when the row is compiled


def _write_id(draft: Draft, value: Any, _scope: FormulaScope) -> None:
    draft.profile_id = to_text(value)


def _write_subscribe(draft: Draft, value: Any, _scope: FormulaScope) -> None:
    draft.subscribe = to_bool(value)


def _write_list(consent: bool, key: str, draft: Draft, value: Any, _scope: FormulaScope) -> None:
    flag = to_bool(value)
    if flag is not None:
        (draft.lists if consent else draft.uclists)[key] = flag


def _write_nothing(_draft: Draft, _value: Any, _scope: FormulaScope) -> None:
    return None


def _write_attribute(key: str, clears: bool, draft: Draft, value: Any, _: FormulaScope) -> None:
    _put(draft.attributes, key, to_text(value), clears)


def _write_location(key: str, clears: bool, draft: Draft, value: Any, _: FormulaScope) -> None:
    _put(draft.location, key, to_text(value), clears)


def _write_property(key: str, clears: bool, draft: Draft, value: Any, _: FormulaScope) -> None:
    _put(draft.properties, key, to_json(value), clears)


def _put(target: dict[str, Any], key: str, value: Any, clears: bool) -> None:
    if value is not None:
        target[key] = value
    elif clears:
        target[key] = CLEAR


def _write_phone(clears: bool, draft: Draft, value: Any, scope: FormulaScope) -> None:
    text = to_text(value)
    if text is None and scope.phone_failures:
        # e164() inside the formula gave up on a number: that is not "no phone".
        _note_phone(draft, scope.phone_failures[0])
        return
    if text is None:
        _put(draft.attributes, "phone_number", None, clears)
        return
    normalized = scope.normalize(text)
    if normalized is None:
        _note_phone(draft, text)
        return
    draft.attributes["phone_number"] = normalized


def _note_phone(draft: Draft, raw: str) -> None:
    shown = raw if len(raw) <= _NOTE_LIMIT else raw[: _NOTE_LIMIT - 1] + "…"
    draft.notes.append(f"phone omitted: {shown!r} cannot be normalized to E.164")


def _reason(err: Exception) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class CompiledCollection:
    """A collection ready to run: ``draft`` turns one customer into one draft.

    ``fields`` holds the Klaviyo keys the collection maps: profile attributes by their Klaviyo
    name (``email``, ``first_name``), location keys as ``location.city`` and custom properties
    as ``properties.My Custom``; not ``Type``, ``Id``, ``SubscribeProfile`` or lists.
    ``overrides`` holds the destinations whose row says ``override_klaviyo_consent = true``;
    every draft carries it.
    """

    __slots__ = ("_phone", "_rows", "fields", "has_subscribe_row", "name", "overrides")

    def __init__(self, name: str, rows: tuple[_CompiledRow, ...], phone: PhoneSettings) -> None:
        self.name = name
        self._rows = rows
        self._phone = phone
        self.has_subscribe_row = any(r.target.kind == "subscribe" for r in rows)
        self.fields = frozenset(key for r in rows if (key := _field_key(r.target)) is not None)
        self.overrides = frozenset(
            r.row.destination for r in rows if r.row.override_klaviyo_consent
        )

    def draft(self, customer: Customer, *, profile_id: str | None) -> Draft:
        """The draft for ``customer``; ``profile_id`` is its stored link (what ``link()`` gives).

        Raises FormulaError, naming collection, row and customer, when a formula fails or a
        value cannot go where its row sends it.
        """
        draft = Draft(customer_id=customer.id, collection=self.name, overrides=self.overrides)
        scope = FormulaScope(customer, profile_id=profile_id, phone=self._phone)
        for row in self._rows:
            row.apply(draft, customer, scope, self.name)
        if not self.has_subscribe_row:
            # The seed: no SubscribeProfile mapping fully unsubscribes the profile.
            draft.subscribe = False
        return draft

    def __repr__(self) -> str:
        return f"CompiledCollection({self.name!r}, {len(self._rows)} rows)"


def _field_key(target: Destination) -> str | None:
    if target.kind == "attribute":
        return target.key
    if target.kind == "location":
        return f"location.{target.key}"
    if target.kind == "property":
        return f"properties.{target.key}"
    return None


def compile_collection(
    collection: Collection, *, phone: PhoneSettings, clock: Clock = SYSTEM_CLOCK
) -> CompiledCollection:
    """Compile every row once; the first problem raises MappingError naming collection and row.

    ``clock`` gives the time for the formulas' deadlines (see ``_limits``); tests pass their own.
    """
    problem = region_problem(phone)
    if problem:
        raise MappingError(problem)
    rows, errors = compile_rows(collection, clock=clock)
    if errors:
        raise errors[0]
    return CompiledCollection(collection.name, rows, replace(phone, region=phone.region.upper()))


def consent_override_problem(destination: str) -> str | None:
    """Why a row writing ``destination`` cannot say ``override_klaviyo_consent``, or None."""
    kind = parse_destination(destination).kind
    if kind in _CONSENT:
        return None
    if kind == "uclist":
        why = "UCLIST_ adds to a list without touching consent, so there is no consent to override"
    else:
        why = f"{destination} is not consent"
    return f"override_klaviyo_consent is allowed only on SubscribeProfile and LIST_ rows: {why}"


def region_problem(phone: PhoneSettings) -> str | None:
    """Why the phone region is unusable, or None."""
    if phone.region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return (
        f"phone region {phone.region!r} is not a region code phonenumbers knows "
        "(use a two-letter ISO 3166 code such as US, GB or DE)"
    )


def compile_rows(
    collection: Collection, *, clock: Clock = SYSTEM_CLOCK
) -> tuple[tuple[_CompiledRow, ...], list[RowError]]:
    """Compile every row, collecting every problem instead of stopping at the first."""
    compiled: list[_CompiledRow] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for row in collection.rows:
        try:
            if row.destination in seen:
                raise _RowProblem(f"{row.destination!r} is mapped more than once")
            seen.add(row.destination)
            if row.on == "create" and collection.name == "update":
                raise _RowProblem(
                    f"{CREATE_ONLY_ON_UPDATE}: a create-only row belongs in the add collection only"
                )
            compiled.append(_compile_row(row, clock))
        except _RowProblem as problem:
            errors.append(RowError(str(problem), collection=collection.name, row=_name(row)))
    return tuple(compiled), errors


class RowError(MappingError):
    """A row that does not compile; ``reason`` is the message without the collection and row,
    for a caller that names them its own way (``check``)."""

    def __init__(self, reason: str, *, collection: str, row: str) -> None:
        super().__init__(reason, collection=collection, row=row)
        self.reason = reason


class _RowProblem(ValueError):
    pass


def _name(row: MappingRow) -> str:
    return row.destination if isinstance(row.destination, str) else repr(row.destination)


def _compile_row(row: MappingRow, clock: Clock) -> _CompiledRow:
    if not isinstance(row.destination, str) or not row.destination.strip():
        raise _RowProblem("the destination must be a non-empty name")
    if row.kind not in KINDS:
        raise _RowProblem(f"kind must be one of {', '.join(KINDS)}, got {row.kind!r}")
    if row.when_empty not in WHEN_EMPTY:
        raise _RowProblem(f"when_empty must be omit or clear, got {row.when_empty!r}")
    if row.on not in ON_VALUES:
        raise _RowProblem(f"on must be always or create, got {row.on!r}")
    if not isinstance(row.override_klaviyo_consent, bool):
        raise _RowProblem(
            f"override_klaviyo_consent must be true or false, got {row.override_klaviyo_consent!r}"
        )
    if row.override_klaviyo_consent:
        problem = consent_override_problem(row.destination)
        if problem:
            raise _RowProblem(problem)
    target = parse_destination(row.destination)
    if row.when_empty == "clear" and target.kind in _NO_CLEAR:
        raise _RowProblem(
            f'when_empty = "clear" has no meaning for {row.destination}: '
            "an empty value already leaves it as it is"
        )
    if row.kind == "static":
        return _compile_static(row, target)
    if row.kind == "field":
        return _compile_field(row, target)
    return _compile_formula(row, target, clock)


def _compile_static(row: MappingRow, target: Destination) -> _CompiledRow:
    value = row.source
    if target.kind == "type" and _text_or_none(value) != "profile":
        raise _RowProblem(f"Type must be the static value 'profile', got {value!r}")
    try:
        _COERCE[target.kind](value)
    except Unusable as err:
        raise _RowProblem(f"the static value cannot go to {row.destination}: {err}") from None
    return _CompiledRow(row, target, lambda _customer, _scope: value, "static value")


def _compile_field(row: MappingRow, target: Destination) -> _CompiledRow:
    _no_type(row, target)
    if not isinstance(row.source, str):
        raise _RowProblem(
            f"a field row's source must be a path like Addresses.0.City, got {row.source!r}"
        )
    try:
        path = parse_path(row.source)
    except ValueError as err:
        raise _RowProblem(str(err)) from None
    return _CompiledRow(
        row,
        target,
        lambda customer, _scope: lookup_path(customer.raw, path),
        f"field {row.source!r}",
    )


def _compile_formula(row: MappingRow, target: Destination, clock: Clock) -> _CompiledRow:
    _no_type(row, target)
    origin = f"formula {_shown(row.source)!r}"
    try:
        formula = compile_formula(row.source, clock=clock)
    except FormulaSyntaxError as err:
        raise _RowProblem(formula_problem(row.source, err)) from None
    return _CompiledRow(row, target, lambda _customer, scope: formula.evaluate(scope), origin)


def formula_problem(source: Any, error: FormulaSyntaxError) -> str:
    """``formula '(FirstName ~' is incomplete: ...``: the error, with the formula in it as the
    run-time errors show it (``formula '...' failed: ...``)."""
    text = str(error)
    shown = f"formula {_shown(source)!r}"
    if text.startswith("the formula "):
        return f"{shown} {text.removeprefix('the formula ')}"
    return f"{shown}: {text}"


def _shown(source: Any) -> Any:
    if not isinstance(source, str) or len(source) <= _SHOWN_FORMULA:
        return source
    return source[: _SHOWN_FORMULA - 1] + "…"


def _no_type(row: MappingRow, target: Destination) -> None:
    if target.kind == "type":
        raise _RowProblem(f"Type must be the static value 'profile', not a {row.kind} row")


def _text_or_none(value: Any) -> str | None:
    try:
        return to_text(value)
    except Unusable:
        return None


_COERCE: Final[dict[str, Callable[[Any], Any]]] = {
    "type": to_text,
    "id": to_text,
    "attribute": to_text,
    "location": to_text,
    "subscribe": to_bool,
    "list": to_bool,
    "uclist": to_bool,
    "property": to_json,
}
