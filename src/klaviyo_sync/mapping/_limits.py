"""What one formula may spend on one customer: size, work and nesting.

A formula is Jinja2 in a sandbox, so it cannot reach Python; these limits keep it from
reaching the machine instead. Without them ``('a' * 99999) | list | string | list | ...``
grows five-fold a step (hundreds of MB for one customer), ``| list | sort | join`` repeated
keeps a core busy for a minute, and 200 nested filters make Python's compiler refuse the code
Jinja writes for them (``SyntaxError: too many nested parentheses``).

- **Size.** Text a formula makes is at most ``MAX_TEXT`` characters, a list or object it makes
  at most ``MAX_ITEMS`` items, a number at most ``MAX_TEXT`` digits. Every filter's result and
  every ``~``, ``+`` and ``*`` is measured when it is made, so a blow-up stops at its first
  step past the limit, not at the end; ``*``, ``join``, ``replace`` and ``~`` are refused
  before Python builds what they would build. The values one evaluation makes add up to at
  most ``MAX_MADE`` characters and items: a list of many large values stops while it is built.
- **Sharing.** A list can hold the same long text many times at the cost of one, and becomes
  enormous once joined or sent, so what repeats or gathers values (``*``, ``+`` of lists, a
  list or object written in the formula, ``join``) is measured as it would be written out
  (``weight``), against ``MAX_TEXT`` too. A result that only rearranges the record
  (``customer | dictsort``) is not: its size is the record's, which is not the formula's doing.
- **Work.** One evaluation has ``SECONDS`` of wall-clock time, checked at every filter, test,
  operator and helper call against a deadline; nothing runs in another thread and no signal
  is used. Single steps are short because the values they work on are small.
- **Nesting.** A formula is nested at most ``MAX_DEPTH`` levels (brackets, filters,
  operators), checked when it is compiled.

A limit hit at run time raises ``FormulaLimitError`` (a Jinja ``SecurityError``), which fails
that customer only; one hit while compiling, by nesting or by a part of the formula that reads
nothing from the customer (``'a' * 1000000``), is a compile error ``check`` reports with its row.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, Final

from jinja2 import nodes
from jinja2.exceptions import SecurityError

from ..clock import SYSTEM_CLOCK, Clock

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_MADE",
    "MAX_TEXT",
    "SECONDS",
    "Budget",
    "FormulaLimitError",
    "check_product",
    "check_repeat",
    "current",
    "depth_problem",
    "limited",
    "nesting_message",
    "size",
    "weight",
]

# Far above any real profile field (Klaviyo's own text fields are a few hundred characters),
# small enough that the worst step past it (``| string`` of a list, ``| tojson``) stays a few MB.
MAX_TEXT: Final = 100_000
MAX_ITEMS: Final = 10_000
MAX_MADE: Final = 10 * MAX_TEXT
# A real formula takes tens of microseconds; half a second is the worst one customer may cost.
SECONDS: Final = 0.5
# Python's compiler refuses more than 200 nested brackets in the code Jinja writes, which
# spends up to three a level, and Jinja's parser takes about 14 frames of Python's 1,000 for
# each bracket; a real formula nests fewer than ten levels.
MAX_DEPTH: Final = 32


class FormulaLimitError(SecurityError):
    """A formula went past one of its limits; the message says which."""


class Budget:
    """One evaluation's allowance: its deadline on ``clock``, and how much it has made.

    Each thread keeps one, ``current.budget``, which every evaluation starts afresh: an
    evaluation runs to its end before another starts in the same thread (a formula cannot
    run a formula), and a new object each time costs more than the work it measures.

    The clock starts at the first hook, not when the evaluation does: before any hook a
    formula can only look names up, which is no work to speak of, and many formulas never
    reach a hook, so they never read the clock.
    """

    __slots__ = ("deadline", "made", "now", "seconds")

    def __init__(self) -> None:
        self.start(SYSTEM_CLOCK)

    def start(self, clock: Clock, seconds: float = SECONDS) -> None:
        self.now = clock.monotonic  # the bound method: the hooks read it on every call
        self.seconds = seconds
        self.deadline = -math.inf  # not started: the first tick is late, and starts it
        self.made = 0

    def tick(self) -> None:
        """Fail once the deadline has passed; every hook does this before it works."""
        now = self.now()
        if now > self.deadline:
            self.late(now)

    def late(self, now: float) -> None:
        if self.deadline == -math.inf:
            self.deadline = now + self.seconds
            return
        raise FormulaLimitError(
            f"the formula ran for more than {self.seconds:g} s (the time limit)"
        )

    def take(self, value: Any) -> Any:
        """Count ``value`` as made by the formula, failing if it or the total is too large."""
        self.made += size(value)
        if self.made > MAX_MADE:
            self.too_much()
        return value

    def too_much(self) -> None:
        raise FormulaLimitError(
            f"the formula built more than {MAX_MADE:,} characters in all (the limit)"
        )


class _Current(threading.local):
    def __init__(self) -> None:
        self.budget = Budget()


# This thread's budget; each thread has its own, made on first use.
current: Final = _Current()


def size(value: Any) -> int:
    """How much ``value`` itself holds: its characters, its items (not theirs: those were
    measured when they were made, or are the record's own), or its digits."""
    if isinstance(value, str):  # the commonest value, and the cheapest to measure
        if len(value) > MAX_TEXT:
            raise FormulaLimitError(
                f"the formula built text longer than {MAX_TEXT:,} characters (the limit)"
            )
        return len(value)
    if isinstance(value, list | tuple | Mapping):
        return _items(value)
    return _scalar_weight(value)


def weight(value: Any) -> int:
    """About how many characters ``value`` takes written out, failing past MAX_TEXT (or past
    MAX_ITEMS items in one list or object). Counting stops at the limit, so measuring a huge
    value costs no more than measuring a value at the limit."""
    if isinstance(value, list | tuple | Mapping):
        return _container_weight(value)
    return size(value)


def _scalar_weight(value: Any) -> int:
    if isinstance(value, int):  # a number's digits: 30103/100000 is log10(2)
        digits = value.bit_length() * 30103 // 100000 + 1
        if digits > MAX_TEXT:
            raise FormulaLimitError(
                f"the formula built a number of more than {MAX_TEXT:,} digits (the limit)"
            )
        return digits
    return 1


def _container_weight(value: list[Any] | tuple[Any, ...] | Mapping[Any, Any]) -> int:
    # A list weighs 1 plus one per item plus its items: every item counts before it is looked
    # at, so the stack never holds more than MAX_TEXT items however the value is shared.
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | Mapping):
            total += 1 + _items(item)
            for child in _children(item) if total <= MAX_TEXT else ():
                if type(child) is str:  # most items: counted here, at a fraction of the cost
                    total += len(child)
                else:
                    stack.append(child)
        else:
            total += _scalar_weight(item)
        if total > MAX_TEXT:
            raise FormulaLimitError(
                f"the formula built a value of more than {MAX_TEXT:,} characters written out "
                "(the limit)"
            )
    return total


def _items(container: list[Any] | tuple[Any, ...] | Mapping[Any, Any]) -> int:
    if len(container) > MAX_ITEMS:
        kind = "an object" if isinstance(container, Mapping) else "a list"
        raise FormulaLimitError(
            f"the formula built {kind} of more than {MAX_ITEMS:,} items (the limit)"
        )
    return len(container)


def _children(container: list[Any] | tuple[Any, ...] | Mapping[Any, Any]) -> list[Any]:
    if isinstance(container, Mapping):
        return [part for pair in container.items() for part in pair]
    return list(container)


def check_repeat(left: Any, right: Any) -> None:
    """Refuse ``text * n`` or ``list * n`` past the limits before Python builds it."""
    for seq, times in ((left, right), (right, left)):
        if not (isinstance(seq, str | list | tuple) and isinstance(times, int)) or times <= 1:
            continue
        if not isinstance(seq, str) and len(seq) * times > MAX_ITEMS:
            raise FormulaLimitError(
                f"repetition would build a list of more than {MAX_ITEMS:,} items (the limit)"
            )
        if weight(seq) * times > MAX_TEXT:
            raise FormulaLimitError(
                f"repetition would build more than {MAX_TEXT:,} characters (the limit)"
            )


def check_product(left: Any, right: Any) -> None:
    """Refuse a product of two numbers whose digits would pass the limit, before it is made."""
    numbers = isinstance(left, int) and isinstance(right, int)
    if numbers and _scalar_weight(left) + _scalar_weight(right) > MAX_TEXT:
        raise FormulaLimitError(f"the product would have more than {MAX_TEXT:,} digits")


def limited(function: Callable[..., Any], *, makes: bool = True) -> Callable[..., Any]:
    """``function`` (a filter or test) behind the deadline, its result counted when ``makes``.

    ``wraps`` carries Jinja's ``jinja_pass_arg`` mark over, so Jinja still hands the wrapper
    the context or environment the filter asks for.
    """
    if makes:

        @wraps(function)
        def filter_(*args: Any, **kwargs: Any) -> Any:
            # Budget.tick and Budget.take written out: this runs for every filter call.
            spend = current.budget
            now = spend.now()
            if now > spend.deadline:
                spend.late(now)
            result = function(*args, **kwargs)
            if type(result) is str and len(result) <= MAX_TEXT:
                spend.made += len(result)
            else:
                spend.made += size(result)
            if spend.made > MAX_MADE:
                spend.too_much()
            return result

        return filter_

    @wraps(function)
    def test(*args: Any, **kwargs: Any) -> Any:
        current.budget.tick()
        return function(*args, **kwargs)

    return test


def depth_problem(expression: nodes.Node) -> str | None:
    """Why ``expression`` is nested too deeply, or None; walks without recursing."""
    stack = [(expression, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return nesting_message()
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def nesting_message() -> str:
    return (
        f"the formula is nested more than {MAX_DEPTH} levels deep (the limit; brackets, "
        "filters and operators each count as a level)"
    )
