"""What a store can keep: the check every customer record passes, and escapes for the rest.

Three things in a record can never be stored, on any backend, nor be sent to Klaviyo safely:

- a NUL character (U+0000): PostgreSQL refuses it in text; SQLite keeps it, but its own
  functions (``length``, ``LIKE``) stop at it, so one record would behave differently per store;
- an unpaired surrogate (U+D800 to U+DFFF): half of a UTF-16 pair, which is not Unicode text and
  has no UTF-8 form, so neither database driver nor an HTTP body can carry it;
- NaN and ±Infinity: JSON has no such numbers, and PostgreSQL's ``json`` refuses them.

Left in, one such value stops whatever writes it, and a batch is written in one transaction:
one customer would take its whole batch, and the run, down with it. So each record is checked
once, as it is read (``Customer.from_record``), and a record holding one fails alone.
``is_storable`` answers in one pass and runs for every customer; only a record that fails it
is walked again by ``find_unstorable``, which says where (a field path such as
``Addresses[0].City``) and what to do. ``escape`` writes those characters as their JSON escapes
(``\\u0000``), so a failure about a customer whose very id holds one can still be logged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Unstorable", "escape", "find_unstorable", "is_storable"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_NUL_ADVICE = (
    "no store can keep it (PostgreSQL refuses it in text): remove it at the source (often the "
    "padding or end mark of a fixed-width or C-string export)"
)
_SURROGATE_ADVICE = (
    "half of a UTF-16 pair is not text and has no UTF-8 form: fix the text at the source "
    "(often cut in half, or read with the wrong encoding)"
)
_NUMBER_ADVICE = "JSON has no such number: send a finite number at the source, or leave it empty"


@dataclass(slots=True, frozen=True)
class Unstorable:
    """Where a record holds what no store can keep, what it is, and what to do about it.

    ``path`` names the field (``FirstName``, ``CustomFields.Tier``, ``Addresses[0].City``) or
    the key (``a key of CustomFields, 'Ti\\u0000er'``), with unstorable characters escaped.
    """

    path: str
    what: str
    advice: str

    def __str__(self) -> str:
        return f"{self.path} {self.what}; {self.advice}"


def escape(text: str) -> str:
    """``text`` with each NUL and unpaired surrogate written as its JSON escape (``\\u0000``,
    ``\\ud800``): visibly not the original, and storable anywhere. Other text is returned as is.
    """
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(_escaped, text)


def is_storable(value: Any) -> bool:
    """Whether every text (keys too) and number in ``value``, at any depth, can be stored.

    It runs for every customer read, so it is one pass with no recursion: a dict's keys are
    joined and checked at once (in C), text values are checked where they are met instead of
    going through the stack, and only containers and other numbers are pushed onto it.
    """
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            try:
                keys = "".join(item)
            except TypeError:  # a key that is not text: each key is checked on its own
                stack.extend(item)
            else:
                if not _text_ok(keys):
                    return False
            children: Iterable[Any] = item.values()
        elif kind is list:
            children = item
        elif _other_ok(item):
            continue
        else:
            return False
        for child in children:
            kind = type(child)
            if kind is str:
                if "\x00" in child or (not child.isascii() and _UNSTORABLE.search(child)):
                    return False
            elif child is not None and kind is not int and kind is not bool:
                push(child)
    return True


def find_unstorable(value: Any, path: str = "") -> Unstorable | None:
    """The first thing in ``value`` (in its own order, a key before its value) that no store can
    keep, or None. Slower than ``is_storable``: called once that has said there is one."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        found = _problem(item, where)
        if found is not None:
            return found
        children = list(_children(item, where))
        stack.extend(reversed(children))
    return None


def _text_ok(text: str) -> bool:
    # isascii reads a flag: ASCII text can only hold the NUL, found by a memchr.
    return "\x00" not in text and (text.isascii() or _UNSTORABLE.search(text) is None)


def _other_ok(item: Any) -> bool:
    """A value that is not a dict or a list: text, a number, None, another container, or (a SQL
    row's odd type) anything else, which the store's ``redact`` makes text when it writes it."""
    if isinstance(item, str):
        return _text_ok(item)
    if isinstance(item, float):
        return math.isfinite(item)
    if isinstance(item, Mapping | list | tuple):
        return is_storable(dict(item) if isinstance(item, Mapping) else list(item))
    return True


def _problem(item: Any, where: str) -> Unstorable | None:
    if isinstance(item, str):
        return _text_problem(item, where or "the value")
    if isinstance(item, float) and not math.isfinite(item):
        name = "NaN" if math.isnan(item) else "Infinity" if item > 0 else "-Infinity"
        return Unstorable(where or "the value", f"is {name}", _NUMBER_ADVICE)
    return None


def _children(item: Any, where: str) -> list[tuple[Any, str]]:
    if isinstance(item, Mapping):
        children: list[tuple[Any, str]] = []
        for key, child in item.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
                owner = f"a key of {where}" if where else "a key"
                children.append((key, f"{owner}, '{escape(key)}',"))
            name = escape(str(key))
            children.append((child, f"{where}.{name}" if where else name))
        return children
    if isinstance(item, list | tuple):
        return [(child, f"{where}[{index}]") for index, child in enumerate(item)]
    return []


def _text_problem(text: str, where: str) -> Unstorable | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char, position = found.group(), found.start() + 1
    if char == "\x00":
        what = f"holds a NUL character (\\u0000) at character {position}"
        return Unstorable(where, what, _NUL_ADVICE)
    what = f"holds an unpaired surrogate ({_escaped(found)}) at character {position}"
    return Unstorable(where, what, _SURROGATE_ADVICE)


def _escaped(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"
