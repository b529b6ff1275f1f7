"""How runs and outcomes look on a terminal and as JSON: shared by the CLI and the demo."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .engine import RunSummary
from .mapping import CheckMessage
from .outcome import Outcome
from .store import FailureRecord
from .sync import RetryResult

__all__ = [
    "failure_json",
    "outcome_json",
    "print_check",
    "print_failure",
    "print_failures",
    "print_manual_sync",
    "print_outcomes",
    "print_retries",
    "print_summary",
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
        },
        sort_keys=True,
    )


def print_summary(console: Console, summary: RunSummary, *, title: str | None = None) -> None:
    """Counts per outcome, then failures by kind."""
    table = Table(title=title or f"Run {summary.run_id}: {summary.total} customers")
    table.add_column("outcome")
    table.add_column("customers", justify="right")
    for kind in _STYLE:
        if summary.outcomes[kind]:
            table.add_row(f"[{_STYLE[kind]}]{kind}[/]", str(summary.outcomes[kind]))
    console.print(table)
    if summary.failures:
        failures = Table(title="Failures by kind")
        failures.add_column("kind")
        failures.add_column("customers", justify="right")
        for kind, count in summary.failures.most_common():
            failures.add_row(f"[red]{kind}[/]", str(count))
        console.print(failures)
        console.print("Each failure is kept in the store's error log with Klaviyo's answer.")


def print_outcomes(console: Console, outcomes: Iterable[Outcome], *, title: str) -> None:
    """One row per customer: outcome, profile, and what is worth knowing."""
    table = Table(title=title)
    table.add_column("customer", max_width=12, overflow="ellipsis")
    table.add_column("outcome", no_wrap=True)
    table.add_column("profile", no_wrap=True)
    table.add_column("what happened", ratio=1)
    for o in outcomes:
        table.add_row(
            escape(o.customer_id),
            f"[{_STYLE[o.kind]}]{o.kind}[/]",
            o.profile_id or "",
            _explain(o),
        )
    console.print(table)


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
        parts.append(f"email {consent}")
    for name, action in outcome.detail.get("lists", {}).items():
        parts.append(f"{escape(name)}: {escape(action)}")
    parts.extend(escape(note) for note in outcome.detail.get("notes", []))
    return "; ".join(p for p in parts if p)


def print_manual_sync(console: Console, outcome: Outcome) -> None:
    """The seed's Manual Sync result: route, match, payload, profile id, or the failure."""
    console.print(f"customer   {escape(outcome.customer_id)}")
    console.print(f"outcome    [{_STYLE[outcome.kind]}]{outcome.kind}[/]")
    if outcome.route:
        console.print(f"route      {outcome.route}: {_ROUTE.get(outcome.route, '')}")
    matched = outcome.detail.get("matched_by")
    if matched:
        console.print(f"matched    by {matched.removeprefix('matched_').replace('_', ' ')}")
    console.print(f"profile    {outcome.profile_id or '-'}")
    if outcome.failure is not None:
        console.print(f"failure    [red]{outcome.failure.kind}[/] at {outcome.failure.stage}")
        console.print(f"           {escape(outcome.failure.message)}")
    payload = outcome.detail.get("payload") or (
        outcome.failure.detail.get("payload") if outcome.failure else None
    )
    if payload is not None:
        console.print("payload sent:")
        console.print_json(json.dumps(payload, ensure_ascii=False))
    if "consent" in outcome.detail:
        console.print(f"consent    email {outcome.detail['consent']}")
    for name, action in outcome.detail.get("lists", {}).items():
        console.print(f"list       {escape(name)}: {escape(action)}")
    for note in outcome.detail.get("notes", []):
        console.print(f"note       {escape(note)}")


def print_check(console: Console, messages: list[CheckMessage], *, consulted: bool) -> None:
    if not consulted:
        console.print("[yellow]Klaviyo was not consulted: list names were not checked.[/]")
    if not messages:
        console.print("[green]The configuration looks right.[/]")
    style = {"error": "red", "warning": "yellow", "info": "dim"}
    for message in messages:
        console.print(f"[{style[message.severity]}]{escape(str(message))}[/]")


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
    table = Table(title=f"Error log: {len(failures)} of {total}")
    for name in ("id", "last seen (UTC)", "customer", "kind", "tries", "state"):
        table.add_column(name, no_wrap=True, min_width=len(name))
    table.add_column("message", ratio=1, min_width=20)
    for f in failures:
        table.add_row(
            str(f.id),
            f.last_seen.strftime("%m-%d %H:%M:%S"),
            escape(f.customer_id or "-"),
            f"[red]{f.kind}[/]",
            str(f.attempts),
            _state(f, max_attempts),
            escape(f"{f.stage}: {f.message}"),
        )
    console.print(table)


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
    for label, value in rows:
        console.print(f"{label:<11}{escape(value)}")
    for key, title in (
        ("klaviyo", "Klaviyo's answer"),
        ("payload", "payload sent"),
        ("record", "customer record"),
    ):
        if key in failure.detail:
            console.print(f"{title}:")
            console.print_json(json.dumps(failure.detail[key], ensure_ascii=False, default=str))


def print_retries(console: Console, results: list[RetryResult]) -> None:
    table = Table(title=f"Retried {len(results)} failures")
    for name in ("failure", "customer", "was", "now"):
        table.add_column(name, no_wrap=True)
    table.add_column("detail", ratio=1)
    for r in results:
        if r.outcome is None:
            now, detail = "skipped", r.skipped or "no outcome"
        elif r.outcome.failure is not None:
            now = f"[red]failed: {r.outcome.failure.kind}[/]"
            detail = r.outcome.failure.message
        else:
            now, detail = f"[green]{r.outcome.kind}[/]", r.outcome.profile_id or ""
        table.add_row(
            str(r.failure.id),
            escape(r.failure.customer_id or "-"),
            r.failure.kind,
            now,
            escape(detail),
        )
    console.print(table)
