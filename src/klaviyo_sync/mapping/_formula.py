"""The formula language: Jinja2 expressions in a locked-down sandbox.

A formula is one Jinja2 expression (``e164(Phone)``, ``billing.City | title``,
``custom('Newsletter') == 'yes'``), compiled once per run. What it can see:

- ``customer``: the raw record; every top-level key of the record is also a bare name
  (``EmailAddress``, ``Phone``, unknown keys too). A missing name or key is *none*.
- ``billing`` / ``shipping``: the first primary billing / shipping address as its raw object,
  or none.
- ``custom(name, default=none)``: a ``CustomFields`` value, or ``default`` when missing or empty.
- ``link()``: the Klaviyo profile id stored for this customer, or none.
- ``e164(value, country=none)``: the number as E.164, or none; the country defaults to the
  billing country, then the configured phone region.
- ``coalesce(*values)``: the first value that is not empty.
- Jinja's standard filters and tests that cannot grow a value without bound (``lower``,
  ``upper``, ``trim``, ``default``, ``replace``, ``int``, ``join``, ``first``...).

What it cannot do, checked when the formula is compiled and again while it runs: call anything
but the helpers above (no methods, so no ``.format``), touch a name or key that starts with
``_``, use Jinja's own globals (``range``, ``lipsum``, ``cycler``, ``self``...), raise to a
power, format text with ``%``, or go past the limits of ``_limits`` (size of what it builds,
time per customer, nesting).

A part of a formula that reads nothing from the customer (``'a' * 3``, ``[1, 2] | sum``) is
evaluated once when the formula is compiled, under the same limits, so a part that would go
past one is a compile error ``check`` reports instead of a failure of every customer.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, TypeGuard

from jinja2 import (
    ChainableUndefined,
    TemplateSyntaxError,
    nodes,
    pass_environment,
    pass_eval_context,
)
from jinja2.compiler import has_safe_repr
from jinja2.environment import Environment, TemplateExpression
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.filters import do_join, do_sum
from jinja2.lexer import Token, TokenStream
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ..clock import SYSTEM_CLOCK, Clock
from ..customer import Address, Customer
from ..storable import is_storable
from ._limits import (
    MAX_DEPTH,
    MAX_TEXT,
    FormulaLimitError,
    check_product,
    check_repeat,
    current,
    depth_problem,
    limited,
    nesting_message,
    weight,
)
from ._model import PhoneSettings
from ._phone import normalize_phone
from ._values import is_empty, to_text

__all__ = [
    "ADDRESS_FIELDS",
    "CUSTOMER_FIELDS",
    "HELPERS",
    "Formula",
    "FormulaScope",
    "FormulaSyntaxError",
    "compile_formula",
    "helper",
    "name_findings",
    "unknown_field",
]

HELPERS: Final = ("customer", "billing", "shipping", "custom", "link", "e164", "coalesce")
CUSTOMER_FIELDS: Final = (
    "Id",
    "EmailAddress",
    "FirstName",
    "LastName",
    "Company",
    "Phone",
    "Addresses",
    "CustomFields",
)
"""The customer's known top-level fields (README "Customers and sources")."""
ADDRESS_FIELDS: Final = (
    "Address1",
    "Address2",
    "City",
    "Region",
    "PostalCode",
    "Country",
    "PhoneNumber",
    "IsPrimaryBilling",
    "IsPrimaryShipping",
)
# Jinja's default globals and the names its templates treat specially: none of them is data.
_FORBIDDEN_NAMES: Final = frozenset(
    {"range", "lipsum", "cycler", "joiner", "namespace", "dict", "self", "config", "loop"}
    | {"caller", "varargs", "kwargs", "super"}
)
_SAFE_FILTERS: Final = frozenset(
    {"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "first", "float"}
    | {"groupby", "int", "items", "join", "last", "length", "list", "lower", "map", "max"}
    | {"min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr"}
    | {"sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique"}
    | {"upper", "urlencode", "wordcount"}
)


class FormulaSyntaxError(ValueError):
    """The formula text is not a valid, allowed expression; the message says why."""


def helper(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a function as callable from formulas; nothing else may be called."""
    function._formula_helper = True  # type: ignore[attr-defined]
    return function


class _FormulaEnvironment(ImmutableSandboxedEnvironment):
    # ``+`` and ``*`` can grow text, lists and numbers; ``**`` and text ``%`` are refused.
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_name(attribute)
        if isinstance(obj, Mapping):
            # Records are data: ``customer.items`` is the record's "items" key, not dict.items.
            return self._item(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str):
            _check_name(argument)
            if isinstance(obj, Mapping):
                return self._item(obj, argument)
        return super().getitem(obj, argument)

    def _item(self, obj: Mapping[str, Any], key: str) -> Any:
        return obj[key] if key in obj else self.undefined(obj=obj, name=key)

    def call(
        __self,  # Jinja's own spelling: a keyword argument named "self" must still pass
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if getattr(__obj, "_formula_helper", False) is not True:
            raise SecurityError(
                f"only the helpers can be called in a formula: {', '.join(sorted(_CALLABLE))}"
            )
        current.budget.tick()
        return __obj(*args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        spend = current.budget
        spend.tick()
        if operator == "**":
            raise SecurityError("the ** operator is not available in formulas")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("text formatting with % is not available; join text with ~")
        if operator == "*":  # refused before Python builds it: the result may be enormous
            check_repeat(left, right)
            check_product(left, right)
        result = super().call_binop(context, operator, left, right)
        if operator == "+" and isinstance(result, list | tuple):
            weight(result)  # gathers values: measured as written out (see _limits)
        return spend.take(result)


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise SecurityError(f"names starting with '_' are not available in formulas: {name!r}")


# The filters below refuse, before doing the work, what would pass the limits: the generic
# check on every filter's result comes after the result is built.


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Any, d: Any = "", attribute: Any = None) -> str:
    """Jinja's ``join``, refusing to build text longer than MAX_TEXT."""
    items = list(value)
    if weight(items) + len(str(d)) * max(len(items) - 1, 0) > MAX_TEXT:
        raise FormulaLimitError(f"join would build text longer than {MAX_TEXT:,} characters")
    return str(do_join(eval_ctx, items, d, attribute))


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's ``replace`` without the chance to grow text past MAX_TEXT."""
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if count is None else min(int(count), text.count(old))
    if len(text) + hits * (len(new) - len(old)) > MAX_TEXT:
        raise FormulaLimitError(f"replace would build text longer than {MAX_TEXT:,} characters")
    return text.replace(old, new, -1 if count is None else int(count))


@pass_environment
def _sum(environment: Environment, value: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Jinja's ``sum`` of numbers only: adding lists one by one takes time square in their
    length, in one step the deadline cannot interrupt."""
    if not isinstance(start, int | float):
        raise SecurityError("sum adds numbers only; join text with join")
    return do_sum(environment, value, attribute, start)


_CONCAT: Final = "_concat"
_MADE: Final = "_made"


def _concat(parts: tuple[Any, ...]) -> str:
    """``a ~ b ~ c``: Jinja writes none as "None" there; a missing name is "" and a null from
    the record should read the same. Refused before joining if the text would be too long."""
    texts = ["" if part is None else str(part) for part in parts]
    if sum(map(len, texts)) > MAX_TEXT:
        raise FormulaLimitError(f"~ would build text longer than {MAX_TEXT:,} characters")
    return "".join(texts)


def _made(value: Any) -> Any:
    """A list or object written in the formula around the record's values: it can hold one
    long value many times, so it is measured as written out (see _limits)."""
    weight(value)
    return value


def _environment() -> _FormulaEnvironment:
    # Jinja's optimizer would evaluate constant parts while compiling, outside any budget and
    # again for each part of a failing chain; _fold does that once, within the limits.
    env = _FormulaEnvironment(undefined=ChainableUndefined, autoescape=False, optimized=False)
    env.globals.clear()
    filters: dict[str, Callable[..., Any]] = {name: env.filters[name] for name in _SAFE_FILTERS}
    filters.update(replace=_replace, join=_join, sum=_sum)
    filters.update({_CONCAT: _concat, _MADE: _made})
    env.filters = {name: limited(function) for name, function in filters.items()}
    tests: Mapping[str, Any] = env.tests  # typeshed calls its values "function"
    env.tests = {name: limited(function, makes=False) for name, function in tests.items()}
    return env


_ENV: Final = _environment()


class Formula:
    """A compiled formula: call it with the names it may see, get its value (None if undefined).

    The commonest shapes (``billing.City``, ``e164(Phone)``, ``custom('Tier')``, ``link()``)
    also get a plain Python reader, which ``evaluate`` uses whenever the data lets it give
    exactly what Jinja would; anything else goes through Jinja, with a fresh budget (see
    ``_limits``) whose deadline is read from ``clock``.
    """

    __slots__ = ("_clock", "_expression", "_fast", "text")

    def __init__(
        self,
        text: str,
        expression: TemplateExpression,
        fast: _FastReader | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.text = text
        self._expression = expression
        self._fast = fast
        self._clock = clock

    def __call__(self, names: Mapping[str, Any]) -> Any:
        current.budget.start(self._clock)
        value = self._expression(names)
        # A record is screened as it is read, but a formula can make a NUL or half a UTF-16
        # pair from escapes in its own literals; left in, the value would fail its whole batch
        # in the store. The fast readers only pass screened record values on, so only here.
        if not is_storable(value):
            raise FormulaLimitError(
                f"the formula made {repr(value)[:80]}, which holds what no store can "
                "keep (a NUL character, half of a UTF-16 pair, or a number that is not finite)"
            )
        return value

    def evaluate(self, scope: FormulaScope) -> Any:
        """The formula's value for the customer ``scope`` describes."""
        if self._fast is not None:
            value = self._fast(scope)
            if value is not _SLOW:
                return value
        return self(scope.names)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def compile_formula(text: str, *, clock: Clock = SYSTEM_CLOCK) -> Formula:
    """Parse, vet and compile one formula, or raise FormulaSyntaxError saying what is wrong.

    ``clock`` gives the time for the formula's deadlines, here and each time it runs.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaSyntaxError("a formula must be a non-empty expression")
    try:
        expression, fast = _compile(text, clock)
    except (RecursionError, MemoryError):  # Jinja's parser recurses per level of nesting
        raise FormulaSyntaxError(nesting_message()) from None
    return Formula(text, expression, fast, clock)


def _compile(text: str, clock: Clock) -> tuple[TemplateExpression, _FastReader | None]:
    expression = _parse(text)
    problem = depth_problem(expression)
    if problem:
        raise FormulaSyntaxError(problem)
    _vet(expression)
    fast = _fast_reader(expression)
    expression = _fold(_guard(expression), clock)
    return _template(expression), fast


def _parse(text: str) -> nodes.Expr:
    tokens = _Tokens(text)
    stream: TokenStream | None = None
    try:
        # Brackets first, by the lexer, which does not recurse: the parser does, about a dozen
        # frames a bracket, so deep brackets would fail by whatever stack is left.
        if _bracket_depth(text) > MAX_DEPTH:
            raise FormulaSyntaxError(nesting_message())
        parser = Parser(_ENV, text, state="variable")
        # The same tokens, each known by where it starts, to say where an error is.
        parser.stream = stream = tokens.stream()
        expression = parser.parse_expression()
        if not stream.eos:
            raise TemplateSyntaxError(_TRAILING, 1)
    except TemplateSyntaxError as err:
        current = stream.current if stream is not None else None
        raise FormulaSyntaxError(_syntax_problem(tokens, err.message or "", current)) from None
    return expression


# -- syntax errors in plain words ---------------------------------------------------------------
#
# Jinja's parser says "unexpected 'end of template'" or "expected token 'name', got 'integer'":
# words about templates and tokens. The common ones are said again here as what is wrong with
# the formula, and where (a position counts characters from 1).

_TRAILING: Final = "unexpected text after the expression"
_CLOSES: Final = {")": "(", "]": "[", "}": "{"}
_NEEDS_MORE: Final = {
    "|": "a filter name after it, such as lower or trim",
    ".": "a field name after it, such as billing.City",
    "is": "a test name after it, such as defined or none",
}
_UNUSED_CHARS: Final = {
    "&": "write and (both true) or ~ (join text)",
    "!": "write not (or != for 'not equal')",
    "=": "write == to compare",
    "$": "names are written bare, as in FirstName",
}


class _Tokens:
    """The formula's tokens as the parser reads them, each with where it starts in the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.read: list[tuple[Token, int, str]] = []
        self.end = 0
        """how far the lexer got: where a token it refuses (a stray bracket) starts"""

    def stream(self) -> TokenStream:
        return TokenStream(self._located(), None, None)

    def _located(self) -> Iterator[Token]:
        starts: list[tuple[int, str]] = []

        def raw() -> Iterator[tuple[int, str, str]]:
            for lineno, kind, value in _ENV.lexer.tokeniter(self.text, None, state="variable"):
                starts.append((self.end, value))
                self.end += len(value)
                yield lineno, kind, value

        # wrap() turns each raw token it keeps into a Token as soon as it has read it.
        for token in _ENV.lexer.wrap(raw()):
            self.read.append((token, *starts[-1]))
            yield token

    def find(self, token: Token | None) -> tuple[int, str] | None:
        """Where ``token`` starts (0-based) and its text; the end of the formula for its end."""
        if token is not None and token.type == "eof":
            return len(self.text), ""
        return next(((at, raw) for t, at, raw in self.read if t is token), None)

    def before(self, token: Token | None) -> tuple[int, str] | None:
        """The token read just before ``token`` (the last one when it is the end)."""
        found = [i for i, (t, _, _) in enumerate(self.read) if t is token]
        index = found[0] if found else len(self.read)
        return self.read[index - 1][1:] if index > 0 else None


def _syntax_problem(tokens: _Tokens, message: str, current: Token | None) -> str:
    """Jinja's ``message`` about ``tokens.text`` as a sentence that begins "the formula"."""
    text = tokens.text
    if text.lstrip().startswith(("{{", "{%")):
        return (
            "the formula is written as a template: a formula is the expression alone, without "
            "{{ and }} (or {% %}) around it"
        )
    unexpected_char = re.fullmatch(r"unexpected char (.+) at (\d+)", message)
    if unexpected_char:
        return _unexpected_char(ast.literal_eval(unexpected_char[1]), int(unexpected_char[2]))
    found = tokens.find(current)
    at = f" at position {found[0] + 1}" if found else ""
    shown = repr(found[1]) if found and found[1] else "it"
    if message.startswith(("unexpected 'end of template'", "unexpected end of template")):
        return _incomplete(tokens, current)
    if message == _TRAILING:
        return (
            f"the formula goes on after a complete expression: {shown}{at}{_trailing_hint(found)}"
        )
    closing = re.fullmatch(r"unexpected '([)\]}])'(, expected '.')?", message)
    if closing:  # the lexer's: it stops before the bracket it refuses
        return _stray_close(text, closing[1], tokens.end)
    if message.startswith("unexpected "):
        return f"the formula has {shown}{at} where a value was expected"
    expected = re.fullmatch(r"expected token '(.+)', got '(.+)'", message)
    previous = tokens.before(current)
    if expected and expected[1] == "name" and previous and previous[1] == "|":
        if found and found[1] == "|":
            return f"the formula has '||'{_at(previous[0])}: write or (either one true)"
        return f"the formula has '|'{_at(previous[0])} followed by {shown}: {_needs('|')}"
    if expected:
        return f"the formula has {shown}{at} where {_token_name(expected[1])} was expected"
    if message == "expected name or number" and previous:
        if found and found[1]:
            return (
                f"the formula has {previous[1]!r}{_at(previous[0])} followed by {shown}: "
                f"{_needs(previous[1])}"
            )
        return f"the formula ends with {previous[1]!r}{_at(previous[0])}: {_needs(previous[1])}"
    return f"the formula is not a valid expression: {message}{at}"


def _at(position: int) -> str:
    return f" at position {position + 1}"


def _needs(operator: str) -> str:
    return f"it needs {_NEEDS_MORE.get(operator, 'a value after it')}"


def _token_name(kind: str) -> str:
    names = {"name": "a name", "integer": "a number", "float": "a number", "string": "text"}
    return names.get(kind, repr(kind))


def _unexpected_char(char: str, position: int) -> str:
    if char in "'\"":
        return (
            f"the formula has quoted text that is never closed: the {char}{_at(position)} "
            f"needs a matching {char} after the text"
        )
    hint = _UNUSED_CHARS.get(char)
    return f"the formula has {char!r}{_at(position)}, which formulas do not use" + (
        f": {hint}" if hint else " outside quoted text"
    )


def _incomplete(tokens: _Tokens, current: Token | None) -> str:
    parts: list[str] = []
    last = tokens.before(current)
    if last is not None and not _is_value(last[1]) and last[1] not in (*_CLOSES, "(", "[", "{"):
        wanted = _NEEDS_MORE.get(last[1], "a value after it")
        parts.append(f"{last[1]!r}{_at(last[0])} needs {wanted}")
    parts.extend(f"the {char!r}{_at(at)} is never closed" for char, at in _open_brackets(tokens))
    if not parts:
        parts.append("an unclosed bracket, or an operator with nothing after it")
    return f"the formula is incomplete: it ends where more was expected: {' and '.join(parts)}"


_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "is", "if", "else"})


def _is_value(raw: str) -> bool:
    """A token that can end an expression: a number, quoted text, a name that is no keyword."""
    if raw[:1] in "'\"" or raw[:1].isdigit():
        return True
    return raw.isidentifier() and raw not in _KEYWORDS


def _open_brackets(tokens: _Tokens) -> list[tuple[str, int]]:
    """The brackets opened and never closed, outermost first, with where each is."""
    stack: list[tuple[str, int]] = []
    for _, at, raw in tokens.read:
        if raw in ("(", "[", "{"):
            stack.append((raw, at))
        elif raw in _CLOSES and stack and stack[-1][0] == _CLOSES[raw]:
            stack.pop()
    return stack


def _stray_close(text: str, char: str, position: int | None) -> str:
    """A closing bracket the parser did not expect: one too many, or the wrong kind."""
    stack: list[tuple[str, int]] = []
    for index, c in enumerate(text[: position if position is not None else len(text)]):
        if c in "([{":
            stack.append((c, index))
        elif c in _CLOSES and stack:
            stack.pop()
    where = _at(position) if position is not None else ""
    if stack:
        opened, at = stack[-1]
        wanted = {v: k for k, v in _CLOSES.items()}[opened]
        return (
            f"the formula has {char!r}{where} where the {opened!r}{_at(at)} should be closed "
            f"first, with {wanted!r}"
        )
    return f"the formula has {char!r}{where}, which closes no bracket"


def _trailing_hint(found: tuple[int, str] | None) -> str:
    raw = found[1] if found else ""
    if raw == ",":
        return " (a formula is one value: coalesce(a, b) gives the first that is not empty)"
    if raw == "=":
        return " (to compare, write ==)"
    return " (to join text, put ~ between the parts, as in FirstName ~ ' ' ~ LastName)"


def _bracket_depth(text: str) -> int:
    """How deeply ``text`` nests brackets, counted up to one past MAX_DEPTH (up to where the
    lexer stops, when it does: the parser meets that again and says where)."""
    depth = 0
    try:
        # The raw token stream names every bracket an "operator"; its value says which.
        for _, kind, value in _ENV.lexer.tokeniter(text, None, state="variable"):
            if kind != "operator":
                continue
            if value in "([{":
                depth += 1
                if depth > MAX_DEPTH:
                    break
            elif value in ")]}":
                depth -= 1
    except TemplateSyntaxError:
        pass
    return depth


def _template(expression: nodes.Expr, *, undefined_to_none: bool = True) -> TemplateExpression:
    body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
    try:
        template = _ENV.from_string(nodes.Template(body, lineno=1))
    except TemplateError as err:  # pragma: no cover - _vet rejects what Jinja would
        raise FormulaSyntaxError(str(err)) from None
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - MAX_DEPTH prevents
        raise FormulaSyntaxError(nesting_message()) from None
    return TemplateExpression(template, undefined_to_none=undefined_to_none)


# -- the limits' hooks in the tree ------------------------------------------------------------


class _Guard(NodeTransformer):
    """Routes what the generated code would build unseen through a measured filter: ``~``
    through ``_concat``, and a list or object holding the record's values through ``_made``.
    A list of constants is left alone: it is no bigger than the formula's own text."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return nodes.Filter(parts, _CONCAT, [], [], None, None, lineno=node.lineno)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._measured(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._measured(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._measured(node)

    def _measured(self, node: nodes.Expr) -> nodes.Node:
        if _is_literal(node):
            return node
        self.generic_visit(node)
        return nodes.Filter(node, _MADE, [], [], None, None, lineno=node.lineno)


def _guard(expression: nodes.Expr) -> nodes.Expr:
    guarded: nodes.Expr = _Guard().visit(expression)
    return guarded


def _is_literal(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.List | nodes.Tuple):
        return all(_is_literal(item) for item in node.items)
    if isinstance(node, nodes.Dict):
        return all(_is_literal(pair.key) and _is_literal(pair.value) for pair in node.items)
    return False


class _Folder(NodeTransformer):
    """Evaluates, once, each largest part that reads nothing from the customer (no name, so no
    record field and no helper), and puts its value in its place. A part that goes past a
    limit is a compile error; one that fails otherwise, or whose value cannot be written as a
    constant, is left to run with each customer, as before (it may sit in a branch no customer
    takes)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if _foldable(node):
            value = _constant(node, self._clock)
            return node if value is _SLOW else nodes.Const(value, lineno=node.lineno)
        return super().generic_visit(node, *args, **kwargs)


def _foldable(node: nodes.Node) -> TypeGuard[nodes.Expr]:
    # A slice (the ``1:2`` of ``x[1:2]``) is an expression only inside its brackets.
    if not isinstance(node, nodes.Expr) or isinstance(node, nodes.Slice):
        return False
    return not _is_literal(node) and not _reads_something(node)


def _constant(node: nodes.Expr, clock: Clock) -> Any:
    """The value of ``node``, which reads nothing, or _SLOW when it is not a plain constant."""
    expression = _template(node, undefined_to_none=False)
    current.budget.start(clock)
    try:
        value = expression()
    except FormulaLimitError as err:
        raise FormulaSyntaxError(f"{err}, whatever the customer") from None
    except Exception:  # the same failure waits for each customer that reaches this part
        return _SLOW
    if isinstance(value, Undefined) or not has_safe_repr(value) or not _writable(value):
        return _SLOW
    return value


def _writable(value: Any) -> bool:
    # The constant is written into Python source, and Python refuses to write an int of more
    # than 4,300 digits as text.
    try:
        repr(value)
    except ValueError:
        return False
    return True


def _reads_something(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) or any(True for _ in node.find_all(nodes.Name))


def _fold(expression: nodes.Expr, clock: Clock) -> nodes.Expr:
    folded: nodes.Expr = _Folder(clock).visit(expression)
    return folded


# -- the fast readers --------------------------------------------------------------------------
#
# A reader returns what Jinja would for the same scope, or _SLOW when the data leaves the
# shapes it knows (a path through something that is not an object), and Jinja decides.

_SLOW: Final = object()
_FastReader = Callable[["FormulaScope"], Any]
_Path = tuple[str, ...]
# Names a formula sees that are not the record's own keys (see FormulaScope.names).
_SCOPE_NAMES: Final = frozenset(HELPERS)


def _fast_reader(expression: nodes.Expr) -> _FastReader | None:
    """A plain reader for ``path``, ``link()``, ``custom('name')`` or ``e164(path)``."""
    path = _path_of(expression)
    if path is not None:
        return _path_reader(path)
    if not isinstance(expression, nodes.Call) or not isinstance(expression.node, nodes.Name):
        return None
    if expression.kwargs or expression.dyn_args or expression.dyn_kwargs:
        return None
    name, args = expression.node.name, expression.args
    if name == "link" and not args:
        return lambda scope: scope.link()
    if name == "custom" and len(args) == 1 and isinstance(args[0], nodes.Const):
        key = args[0].value
        return lambda scope: scope.custom(key)
    argument = _path_of(args[0]) if name == "e164" and len(args) == 1 else None
    if argument is not None:
        read = _path_reader(argument)
        return lambda scope: _e164(scope, read)
    return None


def _path_of(node: nodes.Node) -> _Path | None:
    """``billing.City`` → ("billing", "City"); None for anything but names and text keys."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name) or node.name in _CALLABLE:
        return None
    parts.append(node.name)
    return tuple(reversed(parts))


def _path_reader(path: _Path) -> _FastReader:
    """A reader for ``path``; where its first name comes from is settled once, here."""
    head, rest = path[0], path[1:]
    root: _FastReader
    if head == "billing":
        root = _billing
    elif head in _SCOPE_NAMES:
        root = lambda scope: scope.names.get(head)  # noqa: E731
    else:
        root = lambda scope: scope.record.get(head)  # noqa: E731
    if not rest:
        return root
    return lambda scope: _descend(root(scope), rest)


def _billing(scope: FormulaScope) -> Any:
    billing = scope.billing
    return billing.raw if billing else None


def _descend(value: Any, keys: _Path) -> Any:
    for key in keys:
        if type(value) is dict or isinstance(value, Mapping):  # the exact check is the cheap one
            value = value.get(key)
        elif value is not None:
            return _SLOW
    return value


def _e164(scope: FormulaScope, read: _FastReader) -> Any:
    value = read(scope)
    return _SLOW if value is _SLOW else scope.e164(value)


def _walk(expression: nodes.Expr) -> list[nodes.Node]:
    # find_all yields descendants only, so the root goes first.
    return [expression, *expression.find_all(nodes.Node)]


def _vet(expression: nodes.Expr) -> None:
    for node in _walk(expression):
        problem = _problem(node)
        if problem:
            raise FormulaSyntaxError(problem)


def _problem(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        if node.name in _FORBIDDEN_NAMES or node.name.startswith("_"):
            return f"{node.name!r} is not available in formulas (helpers: {', '.join(HELPERS)})"
    elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"names starting with '_' are not available in formulas: {node.attr!r}"
    elif isinstance(node, nodes.Getitem) and _private_const(node.arg):
        return f"names starting with '_' are not available in formulas: {node.arg.as_const()!r}"
    elif isinstance(node, nodes.Call):
        if isinstance(node.node, nodes.Name) and node.node.name not in _CALLABLE:
            near = _near(node.node.name, _CALLABLE)
            return (
                f"{node.node.name}(...) calls something that is not a helper"
                + (f": did you mean {near}(...)?" if near else "")
                + f" Formulas can call {', '.join(sorted(_CALLABLE))} only; use filters such as "
                "|lower or |trim for the rest"
            )
        if not isinstance(node.node, nodes.Name):
            return (
                "only the helpers can be called in a formula "
                f"({', '.join(sorted(_CALLABLE))}); use filters such as |lower or |trim"
            )
    elif isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
        if node.name in _CALLABLE:
            return f"{node.name} is a helper, not a filter: write {node.name}(value)"
        near = _near(node.name, frozenset(name for name in _ENV.filters if name[0] != "_"))
        hint = f"; did you mean {near!r}?" if near else ""
        return f"the filter {node.name!r} is not available in formulas{hint}"
    elif isinstance(node, nodes.Test) and node.name not in _ENV.tests:
        return f"the test {node.name!r} does not exist"
    elif isinstance(node, nodes.Pow):
        return "the ** operator is not available in formulas"
    elif isinstance(node, nodes.Mod) and _is_text(node.left):
        return "text formatting with % is not available; join text with ~"
    return None


_CALLABLE: Final = frozenset({"custom", "link", "e164", "coalesce"})


def _is_text(node: nodes.Expr) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.as_const(), str)


def _private_const(arg: nodes.Expr) -> bool:
    if not isinstance(arg, nodes.Const):
        return False
    value = arg.as_const()
    return isinstance(value, str) and value.startswith("_")


# -- names a formula reads ----------------------------------------------------------------------

Finding = tuple[Literal["error", "warning"], str]


def name_findings(text: str) -> list[Finding]:
    """What ``check`` says about the names a formula that compiles reads.

    A formula sees the helpers, ``customer``, ``billing``, ``shipping`` and every top-level key
    of the record by name. A name that is none of those is not an error: a record may carry
    any key (an unknown CSV column, an extra JSON field), and the formula reads it. But a
    misspelt field (``Emial``) is empty for every customer without a word, so each such name is
    a *warning* naming what it is likely meant to be. Likewise a field of ``customer``,
    ``billing`` or ``shipping`` that is not a known one. An *error* is what can never work: a
    helper named without calling it (``link`` instead of ``link()``: the value would be the
    function itself, refused for every customer). Calling what is not a helper (``e146(Phone)``)
    is already an error of the compiler.
    """
    try:
        expression = Parser(_ENV, text, state="variable").parse_expression()
    except (TemplateSyntaxError, RecursionError, MemoryError):
        return []  # the compiler says what is wrong with it
    called = {id(node.node) for node in _walk(expression) if isinstance(node, nodes.Call)}
    findings: list[Finding] = []
    seen: set[str] = set()
    for node in _walk(expression):
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in seen:
            seen.add(node.name)
            finding = _name_finding(node.name, called=id(node) in called)
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            finding = _field_finding(node, seen)
        else:
            finding = None
        if finding is not None:
            findings.append(finding)
    return findings


def _name_finding(name: str, *, called: bool) -> Finding | None:
    if name in _CALLABLE and not called:
        return ("error", f"{name} is a helper and must be called: write {name}(...)")
    if name in HELPERS or name in CUSTOMER_FIELDS or name in _CALLABLE:
        return None
    return ("warning", _unknown_field(name, "customer field", (*CUSTOMER_FIELDS, *HELPERS)))


def unknown_field(name: str) -> str:
    """The warning for a top-level field ``name`` that is not a known customer field."""
    return _unknown_field(name, "customer field", CUSTOMER_FIELDS)


def _field_finding(node: nodes.Getattr | nodes.Getitem, seen: set[str]) -> Finding | None:
    """``customer.X``, ``billing.X``, ``shipping.X`` with an X that is not a known field."""
    if isinstance(node, nodes.Getattr):
        key: Any = node.attr
    elif isinstance(node.arg, nodes.Const):
        key = node.arg.value
    else:
        return None
    if not isinstance(node.node, nodes.Name) or not isinstance(key, str):
        return None
    owner = node.node.name
    known = {"customer": CUSTOMER_FIELDS, "billing": ADDRESS_FIELDS, "shipping": ADDRESS_FIELDS}
    if owner not in known or key in known[owner] or f"{owner}.{key}" in seen:
        return None
    seen.add(f"{owner}.{key}")
    what = "customer field" if owner == "customer" else "address field"
    return ("warning", _unknown_field(f"{owner}.{key}", what, known[owner], key=key))


def _unknown_field(shown: str, what: str, known: tuple[str, ...], *, key: str | None = None) -> str:
    name = key or shown
    near = _near(name, known)
    hint = f"; did you mean {near!r}? (names are case-sensitive)" if near else ""
    return (
        f"{shown!r} is not a known {what}: it is empty unless your records carry a key named "
        f"{name!r}{hint}"
    )


def _near(name: str, known: tuple[str, ...] | frozenset[str]) -> str | None:
    """The known name ``name`` most likely misspells: the same but for case and separators
    (``first_name``), a common other name (``email``), else the closest."""
    folded = {_plain(k): k for k in known}
    folded.update((alias, k) for alias, k in _ALIASES.items() if k in known and alias not in folded)
    if _plain(name) in folded:
        return folded[_plain(name)]
    close = difflib.get_close_matches(_plain(name), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _plain(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


_ALIASES: Final = {
    "email": "EmailAddress",
    "mail": "EmailAddress",
    "phonenumber": "Phone",
    "mobile": "Phone",
    "telephone": "Phone",
    "surname": "LastName",
    "givenname": "FirstName",
    "organization": "Company",
    "organisation": "Company",
    "zip": "PostalCode",
    "postcode": "PostalCode",
    "state": "Region",
}


@helper
def coalesce(*values: Any) -> Any:
    """The first value that is not empty (none, blank text, an empty list or object)."""
    return next((value for value in values if not is_empty(value)), None)


class FormulaScope:
    """What one customer's formulas see. Built once per draft and shared by its rows.

    ``phone_failures`` collects the numbers ``e164`` could not normalize while one row was
    evaluated, so the row can tell "no phone" (empty, may clear) from "a phone we could not
    use" (omitted, never cleared). The billing address and Jinja's names are found on first
    use: most formulas never need the names.
    """

    __slots__ = (
        "_billing",
        "_custom",
        "_customer",
        "_names",
        "_phone",
        "_profile_id",
        "phone_failures",
        "record",
    )

    def __init__(self, customer: Customer, *, profile_id: str | None, phone: PhoneSettings):
        self._customer = customer
        self.record = customer.raw  # the names a formula reads most, without a call
        self._custom = customer.custom_fields
        self._phone = phone
        self._profile_id = profile_id
        self._billing: Any = _SLOW
        self._names: Mapping[str, Any] | None = None
        self.phone_failures: list[str] = []

    @property
    def billing(self) -> Address | None:
        if self._billing is _SLOW:
            self._billing = self._customer.primary_billing
        billing: Address | None = self._billing
        return billing

    @property
    def names(self) -> Mapping[str, Any]:
        """Every name a Jinja formula sees: the record's keys, then the helpers."""
        if self._names is None:
            customer, billing = self._customer, self.billing
            shipping = next((a for a in customer.addresses if a.is_primary_shipping), None)
            names: dict[str, Any] = {k: v for k, v in customer.raw.items() if isinstance(k, str)}
            # Helpers after the record's keys: a record key named "link" must not shadow link().
            names.update(
                customer=customer.raw,
                billing=billing.raw if billing else None,
                shipping=shipping.raw if shipping else None,
                custom=self.custom,
                link=self.link,
                e164=self.e164,
                coalesce=coalesce,
            )
            self._names = names
        return self._names

    @property
    def country(self) -> str | None:
        """The primary billing address's country: it supplies a phone's country code."""
        billing = self.billing
        return billing.country if billing else None

    def normalize(self, raw: str, country: str | None = None) -> str | None:
        """``raw`` as E.164 under this run's phone settings, or None."""
        return normalize_phone(
            raw,
            region=self._phone.region,
            country=country or self.country,
            strict=self._phone.strict,
        )

    @helper
    def custom(self, name: Any, default: Any = None) -> Any:
        value = self._custom.get(name) if isinstance(name, str) else None
        return default if is_empty(value) else value

    @helper
    def link(self) -> str | None:
        return self._profile_id

    @helper
    def e164(self, value: Any, country: Any = None) -> str | None:
        text = to_text(value)
        if text is None:
            return None
        result = self.normalize(text, to_text(country))
        if result is None:
            self.phone_failures.append(text)
        return result
