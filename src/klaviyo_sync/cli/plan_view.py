"""How a plan and the consent audit look on a terminal and as JSON: shared by the CLI and tests.

A plan's summary is two tables (customers by route, customers and fields by kind of change)
and what the guardrails would say; ``--show`` prints one customer's route, payload and
field-by-field diff; ``--json`` gives one line per customer and a summary line. Tables are laid
out for the console's width by ``report.print_table``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..engine import CHANGES, ROUTES, ConsentChange, Diff, ListChange, PlanEntry, PlanReport
from ..store import AuditRecord
from .report import Column, plural, print_fields, print_json, print_table

__all__ = [
    "audit_json",
    "plan_entry_json",
    "plan_summary_json",
    "print_audit",
    "print_plan",
    "print_plan_entry",
]

_ROUTES = {
    "create": "create a new profile",
    "update": "patch the linked profile",
    "matched_email": "link the profile with this email, patch it",
    "matched_phone": "link the profile with this phone number, patch it",
    "unchanged": "nothing changed: nothing sent",
    "conflict": "identity conflict: nothing written",
    "failed": "would fail: nothing sent",
}
_CHANGES = {
    "fields_set": "fields set (empty before)",
    "fields_changed": "fields changed",
    "fields_cleared": "fields cleared (a row says clear)",
    "fields_kept": "fields kept: source empty, left as they are",
    "subscribe": "subscribe to email marketing",
    "unsubscribe": "unsubscribe from email marketing",
    "consent_kept": "consent kept: Klaviyo owns it",
    "list_add": "list additions",
    "list_remove": "list removals",
}
_FIELD_KIND = {"set": "fields_set", "change": "fields_changed", "clear": "fields_cleared"}
_FIELD_KIND["kept"] = "fields_kept"
_KIND_STYLE = {"set": "green", "change": "cyan", "clear": "red", "kept": "yellow"}


def print_plan(console: Console, report: PlanReport, *, source: str, live: bool) -> None:
    """The summary: customers by route, by kind of change, and the guardrails' verdict."""
    against = "Klaviyo's profiles now" if live else "what was last applied (the store)"
    console.print(
        f"Plan for {escape(source)}: {plural(report.customers, 'customer')}, nothing written"
    )
    print_table(
        console,
        [Column("route", wrap=True), Column("customers", justify="right")],
        [(_ROUTES[route], str(report.routes[route])) for route in ROUTES if report.routes[route]],
        title="Customers by route",
    )
    by_name = {name: kind for kind, name in _FIELD_KIND.items()}
    changes = [
        (
            _CHANGES[name],
            str(report.changes[name]),
            _count(report.fields[by_name[name]] if name in by_name else None),
        )
        for name in CHANGES
        if report.changes[name]
    ]
    if changes:
        print_table(
            console,
            [
                Column("change", wrap=True),
                Column("customers", justify="right"),
                Column("fields", justify="right"),
            ],
            changes,
            title=f"Changes, against {against}",
        )
    else:
        console.print("No customer would change.")
    _print_pending(console, report)
    if report.failures:
        failures = ", ".join(f"{kind} {n}" for kind, n in report.failures.most_common())
        console.print(f"[red]Would fail or conflict:[/] {failures}")
    if report.drifted:
        console.print(
            f"[yellow]{plural(report.drifted, 'customer')} unchanged at the source "
            f"{'differs' if report.drifted == 1 else 'differ'} in Klaviyo[/] (edited there?): "
            "a sync leaves them as they are; `sync --full` sends them."
        )
    _print_verdict(console, report)
    console.print("`--show ID` shows one customer's payload and field-by-field diff.")


def _print_pending(console: Console, report: PlanReport) -> None:
    """Double opt-in subscriptions: a consent email goes out and the profile joins (or is
    subscribed) only once it confirms, so an operator must not expect them in at once."""
    for name, count in report.pending_confirmation():
        if name is None:
            what = (
                "subscribe to email marketing: the account is double opt-in (account_opt_in; "
                "Klaviyo's default, not shown by its API)"
            )
            then = "subscribed"
        else:
            what = f"LIST_{escape(name)}: the list is double opt-in"
            then = "on the list"
        console.print(
            f"[yellow]{what}[/]: {plural(count, 'customer')} will get a consent email and be "
            f"{then} only once they confirm."
        )


def _print_verdict(console: Console, report: PlanReport) -> None:
    if report.problems:
        console.print(
            "[bold red]A sync would refuse this run:[/] it would "
            + escape("; and ".join(report.problems))
            + ". Sync with --force to apply it anyway."
        )
    else:
        console.print("[green]Within the guardrails.[/]")


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def print_plan_entry(console: Console, entry: PlanEntry) -> None:
    """One customer's plan in full: route, profile, payload, and the diff field by field."""
    fields = [
        ("customer", escape(entry.customer_id)),
        ("route", f"{entry.route}: {_ROUTES[entry.route]}"),
        ("profile", entry.profile_id or "-"),
    ]
    if entry.failure is not None:
        fields.append(("failure", f"[red]{entry.failure.kind}[/]: {escape(entry.failure.message)}"))
    fields.extend(("note", escape(note)) for note in entry.notes)
    if entry.diff is not None:
        source = {"new": "a new profile", "store": "the store", "klaviyo": "Klaviyo"}
        fields.append(("before", f"from {source[entry.diff.before.source]}"))
    print_fields(console, fields)
    if entry.diff is not None:
        _print_diff(console, entry.diff)
    if entry.payload is not None:
        console.print("payload:")
        print_json(console, entry.payload)


def _print_diff(console: Console, diff: Diff) -> None:
    rows: list[tuple[str, str, str, str]] = []
    for change in diff.fields:
        style = _KIND_STYLE[change.kind]
        after = "(left as it is)" if change.kind == "kept" else _shown(change.after)
        rows.append(
            (
                escape(change.field),
                escape(_shown(change.before)),
                escape(after),
                f"[{style}]{change.kind}[/]",
            )
        )
    if diff.consent is not None:
        rows.append(("email consent", *_consent_row(diff.consent)))
    for item in diff.lists:
        rows.append((escape(item.row), *_list_row(item)))
    if not rows:
        rows.append(("-", "", "", "no change"))
    # "what" is a word (change, kept) but for a consent change Klaviyo keeps: then its reason.
    columns = [
        Column("field", wrap=True),
        Column("before", wrap=True),
        Column("after", wrap=True),
        Column("what", wrap=True, below=True, room=12),
    ]
    print_table(console, columns, rows, show_edge=False)


def _consent_row(change: ConsentChange) -> tuple[str, str, str]:
    what = f"[yellow]{escape(change.skipped)}[/]" if change.skipped else escape(change.row)
    # As the audit will record it: a consent email sent is pending, never "subscribed".
    return change.shown_before, change.shown_after, what


def _list_row(change: ListChange) -> tuple[str, str, str]:
    what = f"[yellow]{escape(change.skipped)}[/]" if change.skipped else change.action
    # A double opt-in list is joined once the profile confirms: pending until then.
    return change.shown_before, change.shown_after, what


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def plan_entry_json(entry: PlanEntry) -> str:
    """One customer's plan as a JSON line."""
    data: dict[str, Any] = {
        "customer_id": entry.customer_id,
        "route": entry.route,
        "profile_id": entry.profile_id,
        "payload": entry.payload,
        "diff": _diff_json(entry.diff) if entry.diff is not None else None,
        "notes": entry.notes,
        "failure": asdict(entry.failure) if entry.failure else None,
        "consent": entry.consent,
        "lists": entry.lists,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def _diff_json(diff: Diff) -> dict[str, Any]:
    return {
        "before": diff.before.source,
        "fields": [asdict(c) for c in diff.fields],
        "consent": asdict(diff.consent) if diff.consent else None,
        "lists": [asdict(c) for c in diff.lists],
    }


def plan_summary_json(report: PlanReport) -> str:
    return json.dumps(
        {
            "customers": report.customers,
            "routes": dict(report.routes),
            "changes": dict(report.changes),
            "fields": dict(report.fields),
            "failures": dict(report.failures),
            "guard": report.tally.as_dict(),
            "refused": report.problems,
            "pending_confirmation": {
                f"LIST_{name}" if name is not None else "SubscribeProfile": count
                for name, count in report.pending_confirmation()
            },
        },
        sort_keys=True,
    )


def audit_json(record: AuditRecord) -> str:
    data = asdict(record)
    data["recorded_at"] = record.recorded_at.isoformat()
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def print_audit(console: Console, records: list[AuditRecord], *, total: int) -> None:
    """Consent and list changes, newest first."""
    columns = [
        Column("when (UTC)", wrap=True),
        Column("run", justify="right"),
        Column("customer", fold_over=26),
        Column("profile"),
        Column("change", wrap=True, below=True, room=12),
        Column("before → after", wrap=True, below=True, room=16),
        Column("mapping row", wrap=True, below=True, room=12),
    ]
    rows = [
        (
            r.recorded_at.strftime("%m-%d %H:%M:%S"),
            str(r.run_id or "-"),
            escape(r.customer_id),
            r.profile_id,
            escape(r.action if r.list_name is None else f"{r.action}: {r.list_name}"),
            escape(f"{r.before} → {r.after}"),
            escape(r.row),
        )
        for r in records
    ]
    print_table(
        console, columns, rows, title=f"Consent and list changes: {len(records)} of {total}"
    )
