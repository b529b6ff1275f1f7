"""Every CLI table reads at 80 columns (rich's width when output is piped), and at 60 and 120:
nothing runs past the edge, no header is shortened, a profile id is never split, and no word
of a message is lost."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from klaviyo_sync.cli import main
from klaviyo_sync.cli.plan_view import print_audit, print_plan, print_plan_entry
from klaviyo_sync.cli.report import (
    Column,
    print_check,
    print_failure,
    print_failures,
    print_manual_sync,
    print_outcomes,
    print_retries,
    print_summary,
    print_table,
)
from klaviyo_sync.draft import Draft
from klaviyo_sync.engine import (
    Before,
    ConsentChange,
    Diff,
    ListChange,
    PlanEntry,
    PlanReport,
    RunSummary,
)
from klaviyo_sync.mapping import CheckMessage
from klaviyo_sync.operations import RetryResult
from klaviyo_sync.outcome import AuditEntry, Failure, Outcome
from klaviyo_sync.store import AuditRecord, FailureRecord, Store

WIDTHS = (60, 80, 120)
PROFILES = (
    "01M8RNX3KRPJ3FQ5YM6P45C5RJ",
    "01M8RNX2YWSJJSWKBE7GC4DN14",
    "01M8RNX31DX3JZSF84RD022BQQ",
)
WHEN = datetime(2025, 12, 1, 11, 30, 10, tzinfo=UTC)
LONG_LIST = "Sms Subscribers of the Northern Hemisphere Spring Campaign"
UNICODE = "Zoë Ørsted-Łukasz 株式会社"
PARTIAL = (
    "Klaviyo created the profile without its phone_number '+15550100199': it answered 201 with "
    "X-Klaviyo-Partial-Failure: phone_number (the value is invalid, so it was left out). "
    "Correct it at the source; the rest of the profile was saved"
)
UNREACHABLE = (
    "POST /api/profiles/ could not reach Klaviyo at http://127.0.0.1:8765 (ConnectError: All "
    "connection attempts failed): check KLAVIYO_BASE_URL and the network, and that the "
    "sandbox is running there (klaviyo-sync sandbox)"
)
NO_IDENTIFIER = (
    "the customer has no email address and no phone number that normalizes to E.164, so "
    "Klaviyo cannot create or match a profile"
)
MESSAGES = (PARTIAL, UNREACHABLE, NO_IDENTIFIER)


def render(width: int, draw: Callable[[Console], None]) -> str:
    console = Console(width=width, record=True, color_system=None, file=_Null())
    draw(console)
    return console.export_text()


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


def legible(text: str, width: int, *, ids: tuple[str, ...] = (), words: tuple[str, ...] = ()):
    """The promises of every table: within the width, no shortened header or cell, each id
    whole on one line, every word of every message somewhere."""
    for line in text.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
    assert "…" not in text, "something was cut short"
    for profile in ids:
        assert profile in text, f"{profile} split or missing at width {width}"
    for message in words:
        for word in message.split():
            assert word in text, f"{word!r} lost at width {width}"


def failure_record(n: int, customer: str, kind: str, message: str, **kw: object) -> FailureRecord:
    values: dict[str, object] = {
        "id": n,
        "customer_id": customer,
        "stage": "write",
        "kind": kind,
        "message": message,
        "retryable": kind == "klaviyo_unavailable",
        "detail": {"klaviyo": {"errors": [{"detail": message}]}, "payload": {"email": "z@x.io"}},
        "attempts": 6 if kind == "klaviyo_unavailable" else 1,
        "first_seen": WHEN,
        "last_seen": WHEN,
        "resolved_at": None,
        "resolution": None,
        "run_id": 3,
    }
    values.update(kw)
    return FailureRecord(**values)  # type: ignore[arg-type]


FAILURES = [
    failure_record(1200, "1007", "phone_rejected", PARTIAL),
    failure_record(1201, UNICODE, "klaviyo_unavailable", UNREACHABLE),
    failure_record(1202, "1005", "no_identifier", NO_IDENTIFIER, stage="identify"),
]

AUDIT = [
    AuditRecord(
        1, 3, "55260", PROFILES[0], "list_add", LONG_LIST, "unknown",
        "consent email sent (joins when confirmed)", f"LIST_{LONG_LIST}", WHEN,
    ),
    AuditRecord(
        2, 3, UNICODE, PROFILES[1], "subscribe", None, "never_subscribed",
        "consent email sent (subscribed when confirmed)", "SubscribeProfile", WHEN,
    ),
    AuditRecord(
        3, 12, "1003", PROFILES[2], "unsubscribe", None, "subscribed", "unsubscribed",
        "(no SubscribeProfile row)", WHEN,
    ),
]  # fmt: skip
AUDIT_WORDS = tuple(
    " ".join([r.action, r.list_name or "", r.before, r.after, r.row]) for r in AUDIT
)

OUTCOMES = [
    Outcome(
        "55260",
        "created",
        PROFILES[0],
        "create",
        {
            "consent": "consent email sent (subscribed when confirmed)",
            "lists": {LONG_LIST: "consent email sent (joins when confirmed)"},
            "notes": ["phone omitted: '12345' cannot be normalized to E.164"],
        },
    ),
    Outcome(
        "1007",
        "created",
        PROFILES[1],
        "create",
        {"payload": {"data": {"attributes": {"email": "ada@example.com"}}}},
        Failure("1007", "write", "phone_rejected", PARTIAL),
    ),
    Outcome(
        UNICODE,
        "failed",
        failure=Failure(UNICODE, "identify", "no_identifier", NO_IDENTIFIER),
    ),
]


def draw_failures(console: Console) -> None:
    print_failures(console, FAILURES, total=3, max_attempts=6)


def draw_audit(console: Console) -> None:
    print_audit(console, AUDIT, total=3)


def draw_outcomes(console: Console) -> None:
    print_outcomes(console, OUTCOMES, title="First run")


def draw_retries(console: Console) -> None:
    print_retries(
        console,
        [
            RetryResult(FAILURES[0], OUTCOMES[1]),
            RetryResult(FAILURES[1], Outcome(UNICODE, "updated", PROFILES[2], "update")),
            RetryResult(FAILURES[2], None, skipped="no record kept: " + NO_IDENTIFIER),
        ],
    )


def draw_summary(console: Console) -> None:
    summary = RunSummary(
        12,
        Counter({"created": 7, "matched_email": 1, "failed": 2}),
        Counter({"no_identifier": 1, "klaviyo_unavailable": 1}),
    )
    print_summary(console, summary)


def draw_check(console: Console) -> None:
    print_check(
        console,
        [
            CheckMessage(
                "error", "add", "Nick", f"formula '(FirstName ~' is incomplete: {PARTIAL}"
            ),
            CheckMessage("warning", "update", f"LIST_{LONG_LIST}", UNREACHABLE),
        ],
        consulted=False,
    )


def draw_failure(console: Console) -> None:
    print_failure(console, FAILURES[1], max_attempts=6)


def draw_manual_sync(console: Console) -> None:
    print_manual_sync(console, OUTCOMES[1])
    print_manual_sync(console, OUTCOMES[0])


def draw_plan(console: Console) -> None:
    report = PlanReport(
        routes=Counter({"update": 1, "matched_email": 1, "unchanged": 2, "conflict": 1}),
        changes=Counter({"fields_set": 1, "fields_kept": 2, "subscribe": 1, "list_add": 1}),
        fields=Counter({"set": 3, "kept": 2}),
        failures=Counter({"conflict": 1}),
    )
    print_plan(console, report, source="exports/customers-next-with-a-long-name.jsonl", live=True)


def draw_plan_entry(console: Console) -> None:
    draft = Draft(
        "55260",
        "update",
        PROFILES[0],
        attributes={"last_name": "King-Noel Łukasz", "email": "ada.lovelace@example.com"},
        location={"city": "San Francisco"},
    )
    before = Before(
        "store",
        fields={"last_name": "Lovelace", "phone_number": "+14155552671", "location.city": "SF"},
    )
    diff = Diff(
        before,
        draft,
        frozenset({"last_name", "email", "phone_number", "location.city"}),
        consent=ConsentChange("unsubscribed", "subscribed", "SubscribeProfile", NO_IDENTIFIER),
        lists=(ListChange(LONG_LIST, "add", consent=True),),
    )
    entry = PlanEntry(
        "55260",
        "update",
        PROFILES[0],
        payload={"data": {"type": "profile", "id": PROFILES[0], "attributes": {"x": PARTIAL}}},
        diff=diff,
        notes=[UNREACHABLE],
    )
    print_plan_entry(console, entry)


TABLES: list[tuple[str, Callable[[Console], None], tuple[str, ...], tuple[str, ...]]] = [
    ("errors list", draw_failures, (), (*MESSAGES, UNICODE, "last seen (UTC)")),
    ("audit", draw_audit, PROFILES, (*AUDIT_WORDS, UNICODE, "before → after", "mapping row")),
    ("demo outcomes", draw_outcomes, PROFILES[:2], (PARTIAL, NO_IDENTIFIER, LONG_LIST)),
    ("errors retry", draw_retries, (PROFILES[2],), (PARTIAL, NO_IDENTIFIER, UNICODE)),
    ("run summary", draw_summary, (), ("Run 12: 10 customers", "klaviyo_unavailable")),
    ("check", draw_check, (), (PARTIAL, UNREACHABLE, LONG_LIST)),
    ("errors show", draw_failure, (), (UNREACHABLE, UNICODE)),
    ("sync-one", draw_manual_sync, PROFILES[:2], (PARTIAL, LONG_LIST)),
    ("plan", draw_plan, (), ("identity conflict: nothing written", "customers-next-with")),
    ("plan --show", draw_plan_entry, (PROFILES[0],), (PARTIAL, UNREACHABLE, NO_IDENTIFIER)),
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("draw", "ids", "words"),
    [pytest.param(draw, ids, words, id=name) for name, draw, ids, words in TABLES],
)
def test_every_table_is_legible_at_every_width(
    width: int,
    draw: Callable[[Console], None],
    ids: tuple[str, ...],
    words: tuple[str, ...],
) -> None:
    legible(render(width, draw), width, ids=ids, words=words)


@pytest.mark.parametrize("width", WIDTHS)
def test_headers_are_whole(width: int) -> None:
    text = render(width, draw_failures) + render(width, draw_audit) + render(width, draw_outcomes)
    for header in ("id", "customer", "kind", "tries", "state", "message", "run", "profile"):
        assert re.search(rf"\b{header}\b", text), header
    for header in ("change", "what happened", "outcome", "when"):
        assert header.split()[0] in text


def test_a_message_moves_below_its_row_when_the_table_is_narrow() -> None:
    narrow = render(80, draw_failures)
    wide = render(160, draw_failures)
    # At 80 the message has a line of its own, full width, under the row it belongs to.
    assert re.search(r"│ 1200 .*phone_rejected.*\n(│ .*\n)?│   write: Klaviyo created", narrow)
    # With room, it is a column like the others.
    assert re.search(r"│ 1200 │ .* │ phone_rejected .*│ write: Klaviyo created", wide)


def test_ids_stay_on_one_line_and_long_customer_positions_fold() -> None:
    where = "/srv/exports/2025/december/customers-full-export.jsonl:11"
    record = failure_record(7, where, "invalid_record", "missing Id", stage="read")
    text = render(60, lambda c: print_failures(c, [record], total=1, max_attempts=6))
    legible(text, 60, words=("missing Id",))
    assert where in re.sub(r"[│┃\s]", "", text), "folded, yet all there"


def test_print_table_never_truncates_a_cell_that_must_stay_on_one_line() -> None:
    columns = [Column("profile"), Column("customer", fold_over=10), Column("note", wrap=True)]
    rows = [(PROFILES[0], "a-customer-id-longer-than-ten", "word " * 30)]
    for width in WIDTHS:
        text = render(width, lambda c: print_table(c, columns, rows))
        legible(text, width, ids=(PROFILES[0],), words=("word",))
        # Folded at the column's width of 10, every piece kept.
        for piece in ("a-customer", "-id-longer", "-than-ten"):
            assert piece in text


# -- the real commands, piped -------------------------------------------------------------------


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store holding long failures and audit entries, and the environment to reach it."""
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rejected = Failure("1007", "write", "phone_rejected", PARTIAL)
    down = Failure(UNICODE, "write", "klaviyo_unavailable", UNREACHABLE, retryable=True)
    joins = "consent email sent (joins when confirmed)"
    subscribed = "consent email sent (subscribed when confirmed)"
    with Store.open(url) as store:
        store.commit_batch(
            store.start_run("sync"),
            outcomes=[
                Outcome("1007", "created", PROFILES[1], failure=rejected),
                Outcome(UNICODE, "failed", failure=down),
                Outcome("55260", "created", PROFILES[0]),
            ],
            audit=[
                AuditEntry(
                    "55260", PROFILES[0], "list_add", "unknown", joins, f"LIST_{LONG_LIST}",
                    list_name=LONG_LIST,
                ),
                AuditEntry(
                    "55260", PROFILES[0], "subscribe", "new", subscribed, "SubscribeProfile"
                ),
            ],
        )  # fmt: skip
    return {"KLAVIYO_SYNC_STORE": url, "COLUMNS": "80"}


def test_errors_list_piped_at_80_columns(store_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["errors", "list"], env=store_env)
    assert result.exit_code == 0, result.output
    print(result.output)
    legible(result.output, 80, words=(PARTIAL, UNREACHABLE, UNICODE, "last seen (UTC)"))
    assert "Error log: 2 of 2" in result.output


def test_audit_piped_at_80_columns(store_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["audit"], env=store_env)
    assert result.exit_code == 0, result.output
    print(result.output)
    legible(
        result.output,
        80,
        ids=(PROFILES[0],),
        words=(LONG_LIST, "consent email sent (subscribed when confirmed)", "before → after"),
    )
    assert "Consent and list changes: 2 of 2" in result.output
