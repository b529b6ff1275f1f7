"""plan, sync --force/--plan/--yes, audit, errors resolve --profile and errors retry --force,
over real loopback HTTP against the sandbox."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from klaviyo_sandbox import RunningSandbox

from klaviyo_sync.cli import main
from klaviyo_sync.store import Store
from tests.acceptance.customers import ada

NO_SUBSCRIBE = 'remove = ["SubscribeProfile"]\n'
MANY = 12
"""More customers than the 10 a run may always unsubscribe (Guardrails.min_affected)."""


def _customers(tmp_path: Path, *records: dict[str, object], name: str = "customers") -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _without_subscribe_profile(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    mapping = tmp_path / "no-subscribe.toml"
    mapping.write_text(NO_SUBSCRIBE)
    return {**env, "KLAVIYO_SYNC_MAPPING": str(mapping)}


@pytest.fixture
def single_opt_in(env: dict[str, str], sandbox: RunningSandbox) -> Iterator[dict[str, str]]:
    """``env`` for an account whose subscriptions without a list subscribe at once (Klaviyo's
    default is double opt-in), for tests that need subscribed profiles to unsubscribe."""
    before = sandbox.sandbox.behaviour
    sandbox.sandbox.behaviour = before.updated({"default_opt_in": "single_opt_in"})
    try:
        yield {**env, "KLAVIYO_SYNC_ACCOUNT_OPT_IN": "single_opt_in"}
    finally:
        sandbox.sandbox.behaviour = before


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _flat(text: str) -> str:
    """Output with rich's line wrapping undone, so a sentence can be looked for whole."""
    return " ".join(text.split())


def _mark(sandbox: RunningSandbox) -> int:
    return len(sandbox.sandbox.requests)


def _since(sandbox: RunningSandbox, mark: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in list(sandbox.sandbox.requests)[mark:]]


def _writes(sandbox: RunningSandbox, mark: int) -> list[tuple[str, str]]:
    return [(method, path) for method, path in _since(sandbox, mark) if method != "GET"]


def _consent(sandbox: RunningSandbox, email: str) -> str:
    profile = sandbox.sandbox.find_profile(email=email)
    assert profile is not None, f"no profile has {email}"
    marketing = profile.email_marketing
    return marketing.consent if marketing is not None else "NEVER_SUBSCRIBED"


def _json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def _group(prefix: str, count: int) -> list[dict[str, object]]:
    return [
        {"Id": f"{prefix}{n}", "EmailAddress": f"{prefix}{n}@example.com"} for n in range(count)
    ]


def _open_failures(env: dict[str, str]) -> list[dict[str, Any]]:
    listed = _run(env, "errors", "list", "--json")
    assert listed.exit_code == 0, listed.output
    return _json_lines(listed)


def test_plan_of_new_customers_only_reads_and_stores_nothing(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = _customers(
        tmp_path,
        ada(Id="plan-new-1", EmailAddress="plan-new-1@example.com", Phone=None),
        {"Id": "plan-new-2", "EmailAddress": "plan-new-2@example.com"},
    )
    mark = _mark(sandbox)
    result = _run(env, "plan", str(path))
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "2 customers, nothing written" in text
    assert "Customers by route" in text
    assert "create a new profile │ 2" in text
    assert "subscribe to email marketing │ 2" in text
    assert (
        "LIST_Sms Subscribers: the list is double opt-in: 2 customers will get a consent email "
        "and be on the list only once they confirm." in text
    )
    assert (
        "subscribe to email marketing: the account is double opt-in (account_opt_in; Klaviyo's "
        "default, not shown by its API): 2 customers will get a consent email and be "
        "subscribed only once they confirm." in text
    )
    assert "Within the guardrails." in text

    requests = _since(sandbox, mark)
    assert requests, "a plan looks the customers up in Klaviyo"
    assert {method for method, _ in requests} == {"GET"}
    assert sandbox.sandbox.find_profile(email="plan-new-1@example.com") is None
    with Store.open(env["KLAVIYO_SYNC_STORE"]) as store:
        assert store.list_runs() == []
        assert store.get_links(["plan-new-1", "plan-new-2"]) == {}


def test_plan_show_gives_a_changed_field_before_and_after(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    email = "plan-show@example.com"
    first = _run(env, "sync", str(_customers(tmp_path, ada(Id="plan-show", EmailAddress=email))))
    assert first.exit_code == 0, first.output

    path = _customers(tmp_path, ada(Id="plan-show", EmailAddress=email, LastName="Byron"))
    mark = _mark(sandbox)
    shown = _run(env, "plan", str(path), "--show", "plan-show")
    assert shown.exit_code == 0, shown.output
    profile = sandbox.sandbox.find_profile(email=email)
    assert profile is not None
    assert "route      update: patch the linked profile" in shown.output
    assert f"profile    {profile.id}" in shown.output
    assert "before     from the store" in shown.output
    diff, payload = shown.output.split("payload:")
    [row] = [line for line in diff.splitlines() if "last_name" in line]
    assert row.split()[1:] == ["│", "Lovelace", "│", "Byron", "│", "change"]
    assert "first_name" not in diff, "an unchanged field is not in the diff"
    assert '"last_name": "Byron"' in payload
    assert _writes(sandbox, mark) == []
    assert profile.last_name == "Lovelace"

    missing = _run(env, "plan", str(path), "--show", "nobody")
    assert missing.exit_code == 1
    assert "customer 'nobody' is not in" in missing.output


def test_plan_show_keeps_a_phone_the_source_emptied(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Seed 000's Amperity case: an empty source phone leaves Klaviyo's number alone.

    (A record whose only difference is the emptied phone plans as ``unchanged``: nothing
    would be sent; so the record here also changes the last name.)"""
    email = "plan-amperity@example.com"
    first = _run(env, "sync", str(_customers(tmp_path, ada(Id="amperity", EmailAddress=email))))
    assert first.exit_code == 0, first.output

    record = ada(Id="amperity", EmailAddress=email, Phone="", LastName="King")
    path = _customers(tmp_path, record)
    mark = _mark(sandbox)
    summary = _run(env, "plan", str(path))
    assert summary.exit_code == 0, summary.output
    assert "fields kept: source empty, left as they are │ 1 │ 1" in _flat(summary.output)

    shown = _run(env, "plan", str(path), "--show", "amperity")
    assert shown.exit_code == 0, shown.output
    diff, payload = shown.output.split("payload:")
    [row] = [line for line in diff.splitlines() if "phone_number" in line]
    assert row.split()[1:] == ["│", "+14155552671", "│", "(left", "as", "it", "is)", "│", "kept"]
    assert "phone_number" not in payload, "absent, never null"
    assert "null" not in payload
    assert _writes(sandbox, mark) == []
    profile = sandbox.sandbox.find_profile(email=email)
    assert profile is not None
    assert profile.phone_number == "+14155552671"


def test_plan_json_lines_parse_and_end_with_the_summary(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    known = {"Id": "json-known", "EmailAddress": "json-known@example.com"}
    assert _run(env, "sync", str(_customers(tmp_path, known, name="first"))).exit_code == 0
    path = _customers(
        tmp_path,
        {"Id": "json-new", "EmailAddress": "json-new@example.com"},
        known,
        {"Id": "json-nobody", "Phone": "x"},
    )
    mark = _mark(sandbox)
    result = _run(env, "plan", str(path), "--json")
    assert result.exit_code == 0, "a customer would fail, for its own data: as the sync exits"
    *entries, summary = _json_lines(result)

    assert [(e["customer_id"], e["route"]) for e in entries] == [
        ("json-new", "create"),
        ("json-known", "unchanged"),
        ("json-nobody", "failed"),
    ]
    keys = {"customer_id", "route", "profile_id", "payload", "diff", "notes", "failure"}
    keys |= {"consent", "lists"}
    assert all(set(e) == keys for e in entries)
    new, unchanged, nobody = entries
    assert new["payload"]["data"]["attributes"]["email"] == "json-new@example.com"
    assert new["diff"]["before"] == "new"
    assert {"field": "email", "kind": "set", "before": None, "after": "json-new@example.com"} in (
        new["diff"]["fields"]
    )
    assert new["diff"]["consent"]["after"] == "subscribed"
    assert {(c["name"], c["action"]) for c in new["diff"]["lists"]} == {
        ("Sms Subscribers", "add"),
        ("Preview List", "add"),
    }
    assert unchanged["payload"] is None
    assert unchanged["profile_id"]
    assert nobody["failure"]["kind"] == "no_identifier"

    assert summary["customers"] == 3
    assert summary["routes"] == {"create": 1, "unchanged": 1, "failed": 1}
    assert summary["failures"] == {"no_identifier": 1}
    assert summary["refused"] == []
    assert summary["guard"]["unsubscribes"] == 0
    assert summary["pending_confirmation"] == {"LIST_Sms Subscribers": 1, "SubscribeProfile": 1}
    assert _writes(sandbox, mark) == []


def test_plan_says_a_sync_would_refuse_unsubscribing_linked_customers(
    single_opt_in: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = single_opt_in
    customers = _group("plan-refuse-", MANY)
    path = _customers(tmp_path, *customers)
    assert _run(env, "sync", str(path)).exit_code == 0
    unmapped = _without_subscribe_profile(env, tmp_path)

    mark = _mark(sandbox)
    result = _run(unmapped, "plan", str(path))
    assert result.exit_code == 1, result.output
    text = _flat(result.output)
    assert "unsubscribe from email marketing │ 12" in text
    assert "A sync would refuse this run: it would unsubscribe 12 of 12 customers (100%)" in text
    assert "max_unsubscribe_share" in text
    assert "--force" in text

    as_json = _run(unmapped, "plan", str(path), "--json")
    assert as_json.exit_code == 1
    *entries, summary = _json_lines(as_json)
    assert {e["diff"]["consent"]["before"] for e in entries} == {"subscribed"}
    assert {e["diff"]["consent"]["row"] for e in entries} == {"(no SubscribeProfile row)"}
    assert summary["guard"]["unsubscribes"] == MANY
    assert len(summary["refused"]) == 1
    assert "unsubscribe 12 of 12" in summary["refused"][0]

    assert _writes(sandbox, mark) == []
    assert {_consent(sandbox, str(c["EmailAddress"])) for c in customers} == {"SUBSCRIBED"}

    # New profiles are not subscribed to begin with: creating them unsubscribed counts for nothing.
    fresh = _customers(tmp_path, *_group("plan-fresh-", 3), name="fresh")
    within = _run(unmapped, "plan", str(fresh))
    assert within.exit_code == 0, within.output
    assert "Within the guardrails." in within.output


def test_sync_past_the_guardrail_is_refused_without_force_and_applied_with_it(
    single_opt_in: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = single_opt_in
    customers = _group("sync-refuse-", MANY)
    path = _customers(tmp_path, *customers)
    assert _run(env, "sync", str(path)).exit_code == 0
    emails = [str(c["EmailAddress"]) for c in customers]
    unmapped = _without_subscribe_profile(env, tmp_path)

    mark = _mark(sandbox)
    refused = _run(unmapped, "sync", str(path))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: refused: this run would unsubscribe 12 of 12")
    assert "klaviyo-sync plan" in refused.stderr
    assert "Traceback" not in refused.output
    assert _writes(sandbox, mark) == []
    assert {_consent(sandbox, e) for e in emails} == {"SUBSCRIBED"}
    failures = _open_failures(unmapped)
    assert sorted(f["customer_id"] for f in failures) == sorted(str(c["Id"]) for c in customers)
    assert {(f["kind"], f["retryable"]) for f in failures} == {("guardrail", False)}

    forced = _run(unmapped, "sync", str(path), "--force")
    assert forced.exit_code == 0, forced.output
    assert "updated" in forced.output
    assert {_consent(sandbox, e) for e in emails} == {"UNSUBSCRIBED"}
    assert _open_failures(unmapped) == [], "the applied run resolved the refusals"


def test_sync_plan_without_a_terminal_applies_nothing(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = _customers(tmp_path, *_group("no-tty-", 2))
    mark = _mark(sandbox)
    result = _run(env, "sync", str(path), "--plan")
    assert result.exit_code == 1
    assert "Customers by route" in result.output, "the plan is printed first"
    assert "not applied: no terminal to ask on; pass --yes" in result.output
    assert _writes(sandbox, mark) == []
    assert sandbox.sandbox.find_profile(email="no-tty-0@example.com") is None
    with Store.open(env["KLAVIYO_SYNC_STORE"]) as store:
        assert store.list_runs() == []


def test_sync_plan_yes_prints_the_plan_and_applies_it(
    single_opt_in: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = single_opt_in
    path = _customers(tmp_path, *_group("plan-yes-", 2))
    result = _run(env, "sync", str(path), "--plan", "--yes")
    assert result.exit_code == 0, result.output
    assert "create a new profile" in result.output
    assert "created" in result.output.split("Within the guardrails.")[1]
    assert _consent(sandbox, "plan-yes-0@example.com") == "SUBSCRIBED"
    assert _consent(sandbox, "plan-yes-1@example.com") == "SUBSCRIBED"
    with Store.open(env["KLAVIYO_SYNC_STORE"]) as store:
        [run] = store.list_runs()
        assert run.counts == {"created": 2}
        assert set(store.get_links(["plan-yes-0", "plan-yes-1"])) == {"plan-yes-0", "plan-yes-1"}


def test_sync_plan_yes_does_not_stand_in_for_force(
    single_opt_in: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = single_opt_in
    customers = _group("yes-refuse-", MANY)
    path = _customers(tmp_path, *customers)
    assert _run(env, "sync", str(path)).exit_code == 0
    unmapped = _without_subscribe_profile(env, tmp_path)

    result = _run(unmapped, "sync", str(path), "--plan", "--yes")
    assert "A sync would refuse this run" in _flat(result.output)
    assert {_consent(sandbox, str(c["EmailAddress"])) for c in customers} == {"SUBSCRIBED"}
    assert result.exit_code == 1


def _on_a_terminal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str]:
    """Run the command in a subprocess on a pseudo-terminal, answer its prompt, and return its
    exit code and everything it wrote; the prompt needs a real terminal, as a person has."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "klaviyo_sync", *args]
    process = subprocess.Popen(
        command, stdin=follower, stdout=follower, stderr=follower, env={**os.environ, **env}
    )
    os.close(follower)
    output, answered = b"", False
    try:
        while select.select([leader], [], [], 60)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the command ended and closed its terminal
                break
            output += chunk
            if not answered and b"Apply this run?" in output:
                os.write(leader, answer.encode() + b"\n")
                answered = True
        return process.wait(timeout=60), output.decode(errors="replace")
    finally:
        process.kill()
        os.close(leader)


@pytest.mark.slow  # a process on a pty
def test_sync_plan_on_a_terminal_applies_nothing_when_the_answer_is_no(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = _customers(tmp_path, *_group("tty-no-", 2))
    mark = _mark(sandbox)
    code, output = _on_a_terminal(env, "n", "sync", str(path), "--plan")
    assert "Apply this run? [y/N]" in output
    assert "not applied" in output.split("Apply this run?")[1]
    assert code == 1
    assert _writes(sandbox, mark) == []
    assert sandbox.sandbox.find_profile(email="tty-no-0@example.com") is None


@pytest.mark.slow  # a process on a pty
def test_sync_plan_on_a_terminal_applies_a_refused_run_the_person_agreed_to(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    customers = _group("tty-yes-", MANY)
    path = _customers(tmp_path, *customers)
    assert _run(env, "sync", str(path)).exit_code == 0
    unmapped = _without_subscribe_profile(env, tmp_path)

    code, output = _on_a_terminal(unmapped, "y", "sync", str(path), "--plan")
    assert "A sync would refuse this run" in _flat(output.split("Apply this run?")[0])
    assert code == 0, output
    assert {_consent(sandbox, str(c["EmailAddress"])) for c in customers} == {"UNSUBSCRIBED"}


def test_audit_lists_the_consent_and_list_changes_of_a_first_sync(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = _customers(tmp_path, *_group("audit-", 2))
    assert _run(env, "sync", str(path)).exit_code == 0
    profile = sandbox.sandbox.find_profile(email="audit-1@example.com")
    assert profile is not None

    # Wide enough that no cell is cut short or folded.
    table = _run({**env, "COLUMNS": "240"}, "audit")
    assert table.exit_code == 0, table.output
    assert "Consent and list changes: 6 of 6" in table.output
    rows = [line for line in table.output.splitlines() if "audit-1" in line]
    assert len(rows) == 3
    assert all(profile.id in row for row in rows)
    assert sum("subscribe" in row and "list_add" not in row for row in rows) == 1
    assert sum("list_add" in row and "Sms Subscribers" in row for row in rows) == 1
    assert sum("list_add" in row and "Preview List" in row for row in rows) == 1

    as_json = _run(env, "audit", "--json", "--customer", "audit-1")
    assert as_json.exit_code == 0, as_json.output
    records = _json_lines(as_json)
    assert {r["customer_id"] for r in records} == {"audit-1"}
    assert {r["profile_id"] for r in records} == {profile.id}
    assert len({r["run_id"] for r in records}) == 1
    changes = {(r["action"], r["list_name"], r["row"]): (r["before"], r["after"]) for r in records}
    assert changes == {
        # The account is double opt-in (Klaviyo's default): the subscription is pending.
        ("subscribe", None, "SubscribeProfile"): (
            "new",
            "consent email sent (subscribed when confirmed)",
        ),
        ("list_add", "Sms Subscribers", "LIST_Sms Subscribers"): (
            "unknown",
            "consent email sent (joins when confirmed)",
        ),
        ("list_add", "Preview List", "UCLIST_Preview List"): ("unknown", "member"),
    }

    nobody = _run(env, "audit", "--json", "--customer", "not-synced")
    assert nobody.exit_code == 0
    assert nobody.stdout.strip() == ""


def test_errors_resolve_profile_settles_an_identity_conflict(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    email, phone = "conflict@example.com", "+14155550142"
    by_email = sandbox.sandbox.create_profile({"email": email, "first_name": "Email"})
    by_phone = sandbox.sandbox.create_profile({"phone_number": phone, "first_name": "Phone"})
    record = ada(Id="conflicted", EmailAddress=email, Phone="(415) 555-0142")
    path = _customers(tmp_path, record)

    mark = _mark(sandbox)
    first = _run(env, "sync", str(path), "--strict")
    assert first.exit_code == 3, "a conflict is the customer's, for a person to settle"
    assert "conflict" in first.output
    assert _writes(sandbox, mark) == []
    [failure] = _open_failures(env)
    assert (failure["customer_id"], failure["kind"]) == ("conflicted", "conflict")
    assert set(failure["detail"]["candidates"]) == {by_email.id, by_phone.id}

    stranger = sandbox.sandbox.create_profile({"email": "stranger@example.com"})
    wrong = _run(env, "errors", "resolve", str(failure["id"]), "--profile", stranger.id)
    assert wrong.exit_code == 1
    assert f"profile {stranger.id} is not one of the profiles in conflict" in _flat(wrong.stderr)
    assert by_email.id in wrong.stderr
    assert by_phone.id in wrong.stderr
    assert [f["id"] for f in _open_failures(env)] == [failure["id"]], "still open"
    with Store.open(env["KLAVIYO_SYNC_STORE"]) as store:
        assert store.get_link("conflicted") is None

    right = _run(env, "errors", "resolve", str(failure["id"]), "--profile", by_email.id)
    assert right.exit_code == 0, right.output
    assert f"resolved; linked to profile {by_email.id}" in right.output
    assert _open_failures(env) == []
    with Store.open(env["KLAVIYO_SYNC_STORE"]) as store:
        link = store.get_link("conflicted")
        assert link is not None
        assert link.profile_id == by_email.id

    after = _run(env, "sync", str(path), "--json")
    assert after.exit_code == 0, after.output
    [outcome, _summary] = _json_lines(after)
    assert (outcome["outcome"], outcome["profile_id"]) == ("updated", by_email.id)
    assert any("phone" in str(note) for note in outcome["detail"].get("notes", [])), outcome
    chosen = sandbox.sandbox.get_profile(by_email.id)
    assert (chosen.first_name, chosen.external_id) == ("Ada", "conflicted")
    assert chosen.phone_number is None, "the phone belongs to the other profile"
    other = sandbox.sandbox.get_profile(by_phone.id)
    assert (other.first_name, other.phone_number) == ("Phone", phone)


def test_errors_retry_force_applies_parked_guardrail_failures(
    single_opt_in: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = single_opt_in
    customers = _group("retry-guard-", MANY)
    path = _customers(tmp_path, *customers)
    assert _run(env, "sync", str(path)).exit_code == 0
    emails = [str(c["EmailAddress"]) for c in customers]
    unmapped = _without_subscribe_profile(env, tmp_path)
    assert _run(unmapped, "sync", str(path)).exit_code == 1
    assert {f["kind"] for f in _open_failures(unmapped)} == {"guardrail"}

    mark = _mark(sandbox)
    again = _run(unmapped, "errors", "retry", "--kind", "guardrail", "--all")
    assert again.exit_code == 1
    assert "refused" in again.stderr
    assert _writes(sandbox, mark) == []
    assert {_consent(sandbox, e) for e in emails} == {"SUBSCRIBED"}

    forced = _run(unmapped, "errors", "retry", "--kind", "guardrail", "--all", "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.output.count("updated") == MANY
    assert {_consent(sandbox, e) for e in emails} == {"UNSUBSCRIBED"}
    assert _open_failures(unmapped) == []
