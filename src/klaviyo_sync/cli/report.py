"""How runs and outcomes look on a terminal and as JSON: shared by the CLI and the demo.

Every table is laid out for the console's width by ``print_table`` (``plan_view`` uses it too),
so it reads at 80 columns (what rich assumes when output is piped) and down to 60: an id never
splits, a header is never shortened, nothing is cut. Free text wraps in its column; when the
table is too narrow to give a message room beside the other columns, each row's message is
printed below that row, full width.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..engine import RunSummary
from ..mapping import CheckMessage
from ..operations import RetryResult
from ..outcome import Outcome
from ..store import FailureRecord

__all__ = [
    "Column",
    "failure_json",
    "fit_table",
    "outcome_json",
    "plural",
    "print_check",
    "print_failure",
    "print_failures",
    "print_fields",
    "print_json",
    "print_manual_sync",
    "print_outcomes",
    "print_retries",
    "print_summary",
    "print_table",
    "summary_json",
]

_STYLE = {
    "created": "green",
    "updated": "cyan",
    "matched_email": "blue",
    "matched_phone": "blue",
    "unchanged": "dim",
    "conflict": "magenta",
    "failed": "red",
}
_ROUTE = {
    "create": "new profile",
    "update": "patched the linked profile",
    "match": "linked the existing profile, patched it",
}


def outcome_json(outcome: Outcome) -> str:
    """One outcome as a JSON line."""
    data: dict[str, Any] = {
        "customer_id": outcome.customer_id,
        "outcome": outcome.kind,
        "profile_id": outcome.profile_id,
        "route": outcome.route,
        "detail": outcome.detail,
        "failure": asdict(outcome.failure) if outcome.failure else None,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def summary_json(summary: RunSummary) -> str:
    return json.dumps(
        {
            "run_id": summary.run_id,
            "total": summary.total,
            "outcomes": dict(summary.outcomes),
            "failures": dict(summary.failures),
            "written_with_failure": summary.partial,
        },
        sort_keys=True,
    )


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 customer``, ``2 customers``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def print_summary(console: Console, summary: RunSummary, *, title: str | None = None) -> None:
    """Counts per outcome, then failures by kind."""
    counts = [
        (f"[{_STYLE[kind]}]{kind}[/]", str(summary.outcomes[kind]))
        for kind in _STYLE
        if summary.outcomes[kind]
    ]
    print_table(
        console,
        [Column("outcome"), Column("customers", justify="right")],
        counts,
        title=title or f"Run {summary.run_id}: {plural(summary.total, 'customer')}",
    )
    if summary.failures:
        print_table(
            console,
            [Column("kind"), Column("customers", justify="right")],
            [(f"[red]{kind}[/]", str(n)) for kind, n in summary.failures.most_common()],
            title="Failures by kind",
        )
        if summary.partial:
            console.print(
                f"{plural(summary.partial, 'profile')} written, but with a failure: a step after "
                "the write failed, or Klaviyo left a field out (counted under both tables)."
            )
        console.print("Each failure is kept in the store's error log with Klaviyo's answer.")


def print_outcomes(console: Console, outcomes: Iterable[Outcome], *, title: str) -> None:
    """One row per customer: outcome, profile, and what is worth knowing."""
    columns = [
        Column("customer", fold_over=_LONG_ID),
        Column("outcome"),
        Column("profile"),
        Column("what happened", wrap=True, below=True),
    ]
    rows = [
        (escape(o.customer_id), f"[{_STYLE[o.kind]}]{o.kind}[/]", o.profile_id or "", _explain(o))
        for o in outcomes
    ]
    print_table(console, columns, rows, title=title)


def _explain(outcome: Outcome) -> str:
    """A short account of one outcome, with user data escaped (it may contain [brackets])."""
    if outcome.failure is not None:
        parts = [f"[red]{outcome.failure.kind}[/]: {escape(outcome.failure.message)}"]
    elif outcome.kind == "unchanged":
        parts = ["nothing changed since the last transfer: nothing sent"]
    else:
        parts = [_ROUTE.get(outcome.route or "", outcome.route or "")]
    consent = outcome.detail.get("consent")
    if consent:
        parts.append(f"email marketing: {escape(consent)}")
    for name, action in outcome.detail.get("lists", {}).items():
        parts.append(f"{escape(name)}: {escape(action)}")
    parts.extend(escape(note) for note in outcome.detail.get("notes", []))
    return "; ".join(p for p in parts if p)


def print_manual_sync(console: Console, outcome: Outcome) -> None:
    """The seed's Manual Sync result: route, match, payload, profile id, or the failure."""
    fields: list[tuple[str, str]] = [
        ("customer", escape(outcome.customer_id)),
        ("outcome", f"[{_STYLE[outcome.kind]}]{outcome.kind}[/]"),
    ]
    if outcome.route:
        fields.append(("route", f"{outcome.route}: {_ROUTE.get(outcome.route, '')}"))
    matched = outcome.detail.get("matched_by")
    if matched:
        fields.append(("matched", f"by {matched.removeprefix('matched_').replace('_', ' ')}"))
    fields.append(("profile", outcome.profile_id or "-"))
    if outcome.failure is not None:
        fields.append(("failure", f"[red]{outcome.failure.kind}[/] at {outcome.failure.stage}"))
        fields.append(("", escape(outcome.failure.message)))
    print_fields(console, fields)
    payload = outcome.detail.get("payload") or (
        outcome.failure.detail.get("payload") if outcome.failure else None
    )
    if payload is not None:
        console.print("payload sent:")
        print_json(console, payload)
    after: list[tuple[str, str]] = []
    if "consent" in outcome.detail:
        after.append(("consent", f"email marketing: {escape(outcome.detail['consent'])}"))
    for name, action in outcome.detail.get("lists", {}).items():
        after.append(("list", f"{escape(name)}: {escape(action)}"))
    after.extend(("note", escape(note)) for note in outcome.detail.get("notes", []))
    print_fields(console, after)


def print_check(console: Console, messages: list[CheckMessage], *, consulted: bool) -> None:
    if not consulted:
        console.print("[yellow]Klaviyo was not consulted: list names were not checked.[/]")
    if not messages:
        console.print("[green]The configuration looks right.[/]")
    style = {"error": "red", "warning": "yellow", "info": "dim"}
    for message in messages:
        # The severity hangs out to the left: a long message reads as one block under it.
        head = f"{message.severity}:"
        body = str(message).removeprefix(head).lstrip()
        grid = Table.grid(padding=(0, 1, 0, 0))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row(head, Text(body))
        console.print(grid, style=style[message.severity])


def failure_json(failure: FailureRecord) -> dict[str, Any]:
    """An error-log entry as plain JSON (times in ISO 8601)."""
    data = asdict(failure)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


def _state(failure: FailureRecord, max_attempts: int) -> str:
    if failure.resolved_at is not None:
        return "resolved"
    if failure.retryable and failure.attempts >= max_attempts:
        return "parked"
    return "retrying" if failure.retryable else "open"


def print_failures(
    console: Console, failures: list[FailureRecord], *, total: int, max_attempts: int
) -> None:
    """The error log, newest first."""
    columns = [
        Column("id", justify="right"),
        Column("last seen (UTC)", wrap=True, least=9),
        Column("customer", fold_over=_LONG_ID),
        Column("kind"),
        Column("tries", justify="right"),
        Column("state"),
        Column("message", wrap=True, below=True),
    ]
    rows = [
        (
            str(f.id),
            f.last_seen.strftime("%m-%d %H:%M:%S"),
            escape(f.customer_id or "-"),
            f"[red]{f.kind}[/]",
            str(f.attempts),
            _state(f, max_attempts),
            escape(f"{f.stage}: {f.message}"),
        )
        for f in failures
    ]
    print_table(console, columns, rows, title=f"Error log: {len(failures)} of {total}")


def print_failure(console: Console, failure: FailureRecord, *, max_attempts: int) -> None:
    """One failure in full: what, where, Klaviyo's answer, the payload sent, the record."""
    rows = [
        ("failure", str(failure.id)),
        ("customer", failure.customer_id or "-"),
        ("kind", failure.kind),
        ("stage", failure.stage),
        ("state", _state(failure, max_attempts)),
        ("retryable", "yes" if failure.retryable else "no"),
        ("attempts", str(failure.attempts)),
        ("first seen", failure.first_seen.isoformat()),
        ("last seen", failure.last_seen.isoformat()),
        ("last run", str(failure.run_id or "-")),
        ("message", failure.message),
    ]
    if failure.resolved_at is not None:
        rows.append(("resolved", f"{failure.resolved_at.isoformat()}: {failure.resolution}"))
    print_fields(console, [(label, escape(value)) for label, value in rows])
    for key, title in (
        ("klaviyo", "Klaviyo's answer"),
        ("payload", "payload sent"),
        ("record", "customer record"),
    ):
        if key in failure.detail:
            console.print(f"{title}:")
            print_json(console, failure.detail[key])


def print_retries(console: Console, results: list[RetryResult]) -> None:
    rows = []
    for r in results:
        if r.outcome is None:
            now, detail = "not retried", escape(r.skipped or "no outcome")
        elif r.outcome.failure is not None:
            now = f"[red]failed: {r.outcome.failure.kind}[/]"
            detail = escape(r.outcome.failure.message)
        else:
            now, detail = f"[green]{r.outcome.kind}[/]", r.outcome.profile_id or ""
        if r.note:
            detail = f"{detail} ({escape(r.note)})" if detail else escape(r.note)
        rows.append(
            (str(r.failure.id), escape(r.failure.customer_id or "-"), r.failure.kind, now, detail)
        )
    columns = [
        Column("failure", justify="right"),
        Column("customer", fold_over=_LONG_ID),
        Column("was"),
        Column("now", wrap=True),
        Column("detail", wrap=True, below=True),
    ]
    print_table(console, columns, rows, title=f"Retried {plural(len(results), 'failure')}")


# -- layout -----------------------------------------------------------------------------------

_LONG_ID = 26
"""A Klaviyo profile id's length: a customer "id" longer than this (a record without an Id is
logged under its position, ``path/customers.jsonl:12``) may fold rather than widen its column."""
_FOLD_AT = 16
"""A word of free text longer than this may be folded rather than widen its column."""
_ROOM = 30
"""The width a ``below`` column needs beside the others before it moves below the row."""
_INDENT = 2
_LABEL = 10
"""The width of the labels of ``print_fields`` (``first seen``), one space before the value."""

Cell = str | Text
"""A table cell: rich markup (user data escaped), or a Text."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a CLI table, and how it may give way when the console is narrow.

    ``wrap``: free text, wrapped at spaces (a word too long for the column folds, never cut);
    otherwise each cell stays whole on one line: ids, counts, kinds. ``fold_over``: a one-line
    cell longer than this may fold when room is short (None: never, as for a profile id).
    ``below``: text that needs ``room`` characters (a message): when it cannot have them beside
    the other columns, it is printed under each row, full width. ``least``: the narrowest a
    ``wrap`` column may be made before the layout changes (default: its header's longest word,
    or its longest word up to 16).
    """

    header: str
    wrap: bool = False
    justify: JustifyMethod = "left"
    below: bool = False
    room: int = _ROOM
    fold_over: int | None = None
    least: int | None = None


@dataclass(frozen=True, slots=True)
class _Size:
    natural: int  # the width that shows every cell on its own lines, unwrapped
    least: int  # the narrowest that keeps the header, ids and short words whole
    floor: int  # the narrowest at all: the header's longest word, or an id whole
    widest: int  # the longest line of a cell: a narrower one-line column must fold

    @classmethod
    def of(cls, column: Column, cells: list[Text]) -> _Size:
        header = _longest_word(column.header)
        natural = max([cell_len(column.header), *(_width(c) for c in cells)])
        if column.wrap:
            words = max([0, *(_longest_word(c.plain) for c in cells)])
            least = max(header, min(words, _FOLD_AT), column.least or 0)
            return cls(natural, min(least, natural), header, natural)
        if column.fold_over is not None and natural > column.fold_over:
            # Such a cell is not an id: it folds rather than take room from the others.
            least = max(cell_len(column.header), column.fold_over)
            return cls(least, least, max(header, 8), natural)
        return cls(natural, natural, natural, natural)


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str | None = None,
    show_edge: bool = True,
) -> None:
    """Print a table that fits ``console.width`` without cutting anything (see ``Column``)."""
    console.print(fit_table(console.width, columns, rows, title=title, show_edge=show_edge))


def fit_table(
    width: int,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str | None = None,
    show_edge: bool = True,
) -> RenderableType:
    """The table laid out for ``width``: side by side when every ``below`` column has room
    there, else with those columns under each row; see ``Column``."""
    cells = [[_text(cell) for cell in row] for row in rows]
    sizes = [_Size.of(col, [row[i] for row in cells]) for i, col in enumerate(columns)]
    avail = width - _overhead(len(columns), show_edge)
    widths = _share(avail, sizes)
    roomy = widths is not None and all(
        w >= min(size.natural, col.room)
        for col, size, w in zip(columns, sizes, widths, strict=True)
        if col.below
    )
    if widths is not None and roomy:
        return _side_by_side(columns, sizes, widths, cells, title=title, show_edge=show_edge)
    if any(col.below for col in columns):
        return _stacked(width, columns, sizes, cells, title=title)
    widths = _squeeze(avail, sizes)
    return _side_by_side(columns, sizes, widths, cells, title=title, show_edge=show_edge)


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text.from_markup(cell)


def _width(text: Text) -> int:
    return max(cell_len(line) for line in text.plain.split("\n"))


def _longest_word(text: str) -> int:
    return max([0, *(cell_len(word) for word in text.split())])


def _overhead(count: int, show_edge: bool) -> int:
    """Borders and padding of a table of ``count`` columns."""
    return (count + 1 if show_edge else count - 1) + 2 * count


def _share(avail: int, sizes: Sequence[_Size]) -> list[int] | None:
    """Widths summing to at most ``avail``: each column's least, then what is left given to
    the columns that need the least more to show their cells unwrapped, each in full (so a
    date or an email address stays whole), the last one taking what remains; None when the
    least do not fit."""
    widths = [size.least for size in sizes]
    extra = avail - sum(widths)
    if extra < 0:
        return None
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i].natural - sizes[i].least):
        given = min(sizes[index].natural - sizes[index].least, extra)
        widths[index] += given
        extra -= given
    return widths


def _squeeze(avail: int, sizes: Sequence[_Size]) -> list[int]:
    """Widths as near ``avail`` as the floors allow, narrowing the widest first."""
    widths = [size.least for size in sizes]
    while sum(widths) > avail:
        shrinkable = [i for i, size in enumerate(sizes) if widths[i] > size.floor]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _side_by_side(
    columns: Sequence[Column],
    sizes: Sequence[_Size],
    widths: Sequence[int],
    cells: list[list[Text]],
    *,
    title: str | None,
    show_edge: bool,
) -> Table:
    table = Table(title=title, show_edge=show_edge)
    for col, size, w in zip(columns, sizes, widths, strict=True):
        _add_column(table, col, size, w)
    for row in cells:
        table.add_row(*row)
    return table


def _add_column(table: Table, column: Column, size: _Size, width: int) -> None:
    # A cell kept on one line is never cut: one that does not fit folds instead.
    whole = not column.wrap and width >= size.widest
    table.add_column(
        column.header, justify=column.justify, width=width, no_wrap=whole, overflow="fold"
    )


def _stacked(
    width: int,
    columns: Sequence[Column],
    sizes: Sequence[_Size],
    cells: list[list[Text]],
    *,
    title: str | None,
) -> Table:
    """One bordered column: each row's short columns on a line, its long ones under it."""
    avail = width - 4
    line = [i for i, col in enumerate(columns) if not col.below]
    under = [i for i, col in enumerate(columns) if col.below]
    while True:
        # Two spaces between columns, one when that keeps a cell whole or a column at least.
        shared = None
        for gap, natural in ((2, True), (1, True), (2, False), (1, False)):
            room = avail - gap * (len(line) - 1)
            shared = _share(room, [sizes[i] for i in line])
            whole = shared is not None and all(
                w >= sizes[i].natural for i, w in zip(line, shared, strict=True)
            )
            if shared is not None and (whole or not natural):
                break
        movable = [i for i in line if columns[i].wrap or columns[i].fold_over is not None]
        if shared is not None or not movable or len(line) == 1:
            widths = shared or _squeeze(room, [sizes[i] for i in line])
            break
        # Too narrow still: the last column that may move goes under the row too.
        line.remove(movable[-1])
        under.insert(0, movable[-1])
    labelled = len(under) > 1

    def first_line(values: Sequence[Text | str]) -> Table:
        grid = Table.grid(padding=(0, gap, 0, 0), collapse_padding=False, pad_edge=False)
        for i, w in zip(line, widths, strict=True):
            _add_column(grid, columns[i], sizes[i], w)
        grid.add_row(*values)
        return grid

    head: list[RenderableType] = [first_line([columns[i].header for i in line])]
    if not labelled:
        head.extend(Padding(columns[i].header, (0, 0, 0, _INDENT)) for i in under)
    table = Table(title=title, show_lines=True)
    table.add_column(Group(*head), width=avail, overflow="fold")
    label_width = max([0, *(cell_len(columns[i].header) for i in under)])
    for row in cells:
        parts: list[RenderableType] = [first_line([row[i] for i in line])]
        for i in under:
            if not row[i].plain:
                continue
            if labelled:
                grid = Table.grid(padding=(0, 2, 0, 0))
                grid.add_column(width=label_width, no_wrap=True, style="dim")
                grid.add_column(overflow="fold")
                grid.add_row(columns[i].header, row[i])
                parts.append(Padding(grid, (0, 0, 0, _INDENT)))
            else:
                parts.append(Padding(row[i], (0, 0, 0, _INDENT)))
        table.add_row(Group(*parts))
    return table


def print_fields(console: Console, fields: Sequence[tuple[str, Cell]]) -> None:
    """``label     value`` lines; a long value wraps under itself, not under the label."""
    if not fields:
        return
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(width=_LABEL, no_wrap=True, overflow="fold")
    grid.add_column(overflow="fold")
    for label, value in fields:
        grid.add_row(label, _text(value))
    console.print(grid)


def print_json(console: Console, data: Any) -> None:
    """``data`` as indented JSON; a line too long for the console wraps at its own indent, so
    a long value (Klaviyo's detail, an address) is never cut."""
    highlight = JSONHighlighter()
    lines: list[Text] = []
    for line in json.dumps(data, indent=2, ensure_ascii=False, default=str).splitlines():
        body = line.lstrip(" ")
        indent = min(len(line) - len(body), console.width // 2)
        room = max(console.width - indent - _INDENT, 1)
        for index, part in enumerate(highlight(Text(body)).wrap(console, room, overflow="fold")):
            lines.append(Text(" " * (indent + (_INDENT if index else 0))) + part)
    console.print(*lines, sep="\n", no_wrap=True, crop=False, soft_wrap=False)
