"""Klaviyo's ``filter`` query language, the part the sandbox answers.

``equals(field,value)`` and ``any(field,[v1,v2])``, joined by commas or wrapped in
``and(…)``; strings in double or single quotes with backslash escapes; whitespace between
tokens ignored. Each endpoint then says which fields and operators it supports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import ApiError, invalid

__all__ = ["Condition", "allow", "parse_filter"]

_PARAM = "filter"
_MAX_ANY = 100
_KNOWN_OPERATORS = frozenset(
    {
        "equals",
        "any",
        "greater-than",
        "less-than",
        "greater-or-equal",
        "less-or-equal",
        "contains",
        "contains-any",
        "contains-all",
        "starts-with",
        "ends-with",
        "has",
        "not",
        "or",
        "and",
    }
)


@dataclass(slots=True, frozen=True)
class Condition:
    operator: str
    field: str
    values: tuple[object, ...]


class _Bare(str):
    """An unquoted token: a number, a boolean, a datetime, or a mistake."""

    __slots__ = ()


def _error(detail: str) -> ApiError:
    return invalid(f"Invalid filter: {detail}", parameter=_PARAM)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "end of input"
            raise _error(f"expected {char!r} at position {self.pos}, found {found!r}.")
        self.pos += 1

    def word(self) -> str:
        self.skip()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "-_.$"
        ):
            self.pos += 1
        if start == self.pos:
            raise _error(f"expected a name at position {start}.")
        return self.text[start : self.pos]

    def expressions(self) -> list[Condition]:
        found = self.expression()
        while self.peek() == ",":
            self.pos += 1
            found.extend(self.expression())
        return found

    def expression(self) -> list[Condition]:
        operator = self.word()
        if operator not in _KNOWN_OPERATORS:
            raise _error(f"unknown operator {operator!r}.")
        self.expect("(")
        if operator == "and":
            found = self.expressions()
            self.expect(")")
            return found
        if operator in ("or", "not"):
            raise invalid(f"The {operator!r} operator is not supported here.", parameter=_PARAM)
        field = self.word()
        self.expect(",")
        value = self.value()
        self.expect(")")
        values = tuple(value) if isinstance(value, list) else (value,)
        return [Condition(operator, field, values)]

    def value(self) -> object:
        char = self.peek()
        if char == "[":
            return self.array()
        if char in ("'", '"'):
            return self.string(char)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",()[]":
            self.pos += 1
        token = self.text[start : self.pos].strip()
        if not token:
            raise _error(f"expected a value at position {start}.")
        return _Bare(token)

    def array(self) -> list[object]:
        self.expect("[")
        items: list[object] = []
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            item = self.value()
            if isinstance(item, list):
                raise _error("lists may not be nested.")
            items.append(item)
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return items

    def string(self, quote: str) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                chars.append(self.text[self.pos])
                self.pos += 1
            elif char == quote:
                return "".join(chars)
            else:
                chars.append(char)
        raise _error("a quoted string is not closed.")


def parse_filter(text: str) -> list[Condition]:
    """All conditions in the expression (implicitly AND-ed)."""
    parser = _Parser(text)
    conditions = parser.expressions()
    if parser.peek():
        raise _error(f"unexpected {parser.peek()!r} at position {parser.pos}.")
    return conditions


def allow(conditions: list[Condition], supported: Mapping[str, frozenset[str]]) -> list[Condition]:
    """Check each condition against the endpoint's fields and operators; values must be strings."""
    for condition in conditions:
        operators = supported.get(condition.field)
        if operators is None:
            names = ", ".join(sorted(supported))
            raise invalid(
                f"Filtering on {condition.field!r} is not supported here (supported: {names}).",
                parameter=_PARAM,
            )
        if condition.operator not in operators:
            raise invalid(
                f"The {condition.operator!r} operator is not supported for {condition.field!r}.",
                parameter=_PARAM,
            )
        if condition.operator == "equals" and len(condition.values) != 1:
            raise _error(f"equals({condition.field},…) takes one value.")
        if condition.operator == "any" and not 0 < len(condition.values) <= _MAX_ANY:
            raise _error(f"any({condition.field},[…]) takes 1 to {_MAX_ANY} values.")
        for value in condition.values:
            if isinstance(value, _Bare) or not isinstance(value, str):
                raise _error(f"the value {value!s:.50} for {condition.field!r} must be quoted.")
    return conditions
