"""The sync, sync-one and check commands over real loopback HTTP against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from klaviyo_sandbox import RunningSandbox

from klaviyo_sync.cli import main
from tests.conftest import CLI_KEY


def _customers(tmp_path: Path, *records: dict[str, object]) -> Path:
    path = tmp_path / "customers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_sync_prints_a_summary_and_exits_0(env: dict[str, str], tmp_path: Path) -> None:
    path = _customers(tmp_path, {"Id": 1, "EmailAddress": "cli1@example.com"})
    result = CliRunner().invoke(main, ["sync", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    assert ": 1 customer" in result.output
    assert "1 customers" not in result.output


def test_a_customer_failing_for_its_own_data_does_not_fail_the_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A scheduled sync alerting on 1 is not woken every run by one customer with no email and
    no phone; --strict says so with 3; the failure is in the JSON and the error log either way."""
    path = _customers(
        tmp_path, {"Id": 2, "EmailAddress": "cli2@example.com"}, {"Id": 3, "Phone": "x"}
    )
    result = CliRunner().invoke(main, ["sync", str(path), "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("outcome") for line in lines[:2]] == ["created", "failed"]
    assert lines[1]["failure"]["kind"] == "no_identifier"
    assert lines[2]["outcomes"] == {"created": 1, "failed": 1}
    strict = CliRunner().invoke(main, ["sync", str(path), "--strict"], env=env)
    assert strict.exit_code == 3, strict.output
    assert "no_identifier" in strict.output
    plan = CliRunner().invoke(main, ["plan", str(path)], env=env)
    assert plan.exit_code == 0, plan.output
    assert CliRunner().invoke(main, ["plan", str(path), "--strict"], env=env).exit_code == 3


@pytest.mark.slow  # waits out the retries' backoff
def test_a_run_that_could_not_do_its_work_exits_1(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A list the account lacks is the configuration's fault, not the customer's: exit 1,
    though the profile was written; so is Klaviyo failing past the retries."""
    from klaviyo_sandbox import FaultRule

    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[[rows]]\ndestination = "LIST_Nope"\nkind = "static"\nsource = true\n')
    path = _customers(tmp_path, {"Id": 4, "EmailAddress": "cli4@example.com"})
    listless = CliRunner().invoke(
        main, ["sync", str(path)], env={**env, "KLAVIYO_SYNC_MAPPING": str(mapping)}
    )
    assert listless.exit_code == 1, listless.output
    assert "unknown_list" in listless.output
    assert "created" in listless.output, "the profile was written: its outcome says so"
    assert "1 profile written, but with a failure" in " ".join(listless.output.split())
    other = _customers(tmp_path, {"Id": 5, "EmailAddress": "cli5@example.com"})
    sandbox.sandbox.set_faults([FaultRule(operation="create_profile", status=503, times=10)])
    try:
        down = CliRunner().invoke(main, ["sync", str(other)], env=env)
    finally:
        sandbox.sandbox.set_faults([])
    assert down.exit_code == 1, down.output
    assert "klaviyo_unavailable" in down.output


def test_sync_one_shows_route_payload_and_profile(env: dict[str, str], tmp_path: Path) -> None:
    path = _customers(tmp_path, {"Id": 55260, "EmailAddress": "ada-cli@example.com"})
    result = CliRunner().invoke(main, ["sync-one", "55260", "--source", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "route      create" in result.output
    assert '"external_id": "55260"' in result.output
    assert "profile    01" in result.output
    missing = CliRunner().invoke(main, ["sync-one", "404", "--source", str(path)], env=env)
    assert missing.exit_code == 1
    assert "customer '404' is not in" in missing.output


def test_sync_one_reads_klaviyo_sync_source_when_no_source_is_named(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = _customers(tmp_path, {"Id": 2001, "EmailAddress": "manual-2001@example.com"})
    configured = {**env, "KLAVIYO_SYNC_SOURCE": str(path)}
    result = CliRunner().invoke(main, ["sync-one", "2001"], env=configured)
    assert result.exit_code == 0, result.output
    assert '"external_id": "2001"' in result.output
    unset = CliRunner().invoke(main, ["sync-one", "2001"], env=env)
    assert unset.exit_code == 2, "a usage error"
    assert "--source" in unset.output
    assert "KLAVIYO_SYNC_SOURCE" in unset.output


def test_check_passes_with_the_templates_and_fails_on_an_unknown_list(
    env: dict[str, str], tmp_path: Path
) -> None:
    ok = CliRunner().invoke(main, ["check"], env=env)
    assert ok.exit_code == 0, ok.output
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[[rows]]\ndestination = "LIST_Nope"\nkind = "static"\nsource = true\n')
    bad = CliRunner().invoke(main, ["check"], env={**env, "KLAVIYO_SYNC_MAPPING": str(mapping)})
    assert bad.exit_code == 1
    assert "Nope" in bad.output


def test_a_bad_setting_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    path = _customers(tmp_path, {"Id": 1, "EmailAddress": "x@example.com"})
    result = CliRunner().invoke(
        main, ["sync", str(path)], env={**env, "KLAVIYO_SYNC_PHONE_REGION": "Narnia"}
    )
    assert result.exit_code == 1
    assert "error: invalid settings" in result.output
    assert "KLAVIYO_SYNC_PHONE_REGION" in result.output
    assert "Traceback" not in result.output


def test_errors_retry_with_nothing_named_is_a_usage_error_that_mentions_all(
    env: dict[str, str],
) -> None:
    result = CliRunner().invoke(main, ["errors", "retry"], env=env)
    assert result.exit_code == 2, "a usage error, as documented"
    assert "--all" in result.output
    assert "klaviyo-sync errors list" in result.output


@pytest.mark.slow  # waits out the retries' backoff
def test_errors_list_show_retry_resolve(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    from klaviyo_sandbox import FaultRule

    path = _customers(
        tmp_path,
        {"Id": 10, "EmailAddress": "e10@example.com"},
        {"Id": 11, "EmailAddress": "e11@example.com", "Phone": "(555) 010-0199"},
    )
    # Each customer's create is tried 5 times by the client before it gives up.
    sandbox.sandbox.set_faults([FaultRule(operation="create_profile", status=503, times=10)])
    env = {**env, "KLAVIYO_SYNC_MAX_ATTEMPTS": "3"}
    try:
        first = CliRunner().invoke(main, ["sync", str(path)], env=env)
    finally:
        sandbox.sandbox.set_faults([])
    assert first.exit_code == 1

    listed = CliRunner().invoke(main, ["errors", "list", "--json"], env=env)
    assert listed.exit_code == 0
    failures = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {f["kind"] for f in failures} == {"klaviyo_unavailable"}
    table = CliRunner().invoke(main, ["errors", "list"], env=env)
    assert "klaviyo_unavailable" in table.output
    assert "retrying" in table.output

    first_id = str(failures[0]["id"])
    shown = CliRunner().invoke(main, ["errors", "show", first_id], env=env)
    assert shown.exit_code == 0
    assert "payload sent" in shown.output
    assert "customer record" in shown.output
    assert CLI_KEY not in shown.output

    retried = CliRunner().invoke(main, ["errors", "retry", "--all"], env=env)
    assert retried.exit_code == 1, "customer 11's phone is rejected once Klaviyo answers"
    assert "created" in retried.output
    assert "phone_rejected" in retried.output
    remaining = CliRunner().invoke(main, ["errors", "list", "--json"], env=env)
    [left] = [json.loads(line) for line in remaining.stdout.splitlines()]
    assert (left["customer_id"], left["kind"]) == ("11", "phone_rejected")

    resolved = CliRunner().invoke(main, ["errors", "resolve", str(left["id"])], env=env)
    assert resolved.exit_code == 0
    assert "resolved" in resolved.output
    empty = CliRunner().invoke(main, ["errors", "list", "--json"], env=env)
    assert empty.stdout.strip() == ""
    missing = CliRunner().invoke(main, ["errors", "show", "99999"], env=env)
    assert missing.exit_code == 1
    assert "no failure 99999" in missing.output


def test_example_writes_the_sample_once(tmp_path: Path) -> None:
    path = tmp_path / "customers.jsonl"
    first = CliRunner().invoke(main, ["example", str(path)])
    assert first.exit_code == 0, first.output
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert f"wrote {len(records)} sample customers" in first.output
    assert records[0]["Id"] == 55260
    again = CliRunner().invoke(main, ["example", str(path)])
    assert again.exit_code == 1
    assert "exists" in again.output


def test_create_lists_dry_run_and_a_list_of_another_opt_in_process(
    env: dict[str, str], tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'template = "none"\n'
        '[[rows]]\ndestination = "UCLIST_Sms Subscribers"\nkind = "static"\nsource = true\n'
        '[[rows]]\ndestination = "LIST_Dry Run Only"\nkind = "static"\nsource = true\n'
    )
    configured = {**env, "KLAVIYO_SYNC_MAPPING": str(mapping)}
    result = CliRunner().invoke(main, ["create-lists", "--dry-run"], env=configured)
    assert result.exit_code == 0, result.output
    assert "would create 'Dry Run Only' (double opt in)" in result.output
    assert "warning: 'Sms Subscribers' exists but is double opt in" in result.output
    check = CliRunner().invoke(main, ["check"], env=configured)
    assert "Dry Run Only" in check.output, "the dry run created nothing"
    assert check.exit_code == 1


@pytest.mark.slow  # waits out the retries' backoff
def test_errors_retry_of_a_customer_gone_from_the_source_uses_the_kept_record(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    from klaviyo_sandbox import FaultRule

    path = _customers(tmp_path, {"Id": 8001, "EmailAddress": "gone-8001@example.com"})
    sandbox.sandbox.set_faults([FaultRule(operation="create_profile", status=503, times=10)])
    try:
        assert CliRunner().invoke(main, ["sync", str(path)], env=env).exit_code == 1
    finally:
        sandbox.sandbox.set_faults([])
    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps({"Id": 1, "EmailAddress": "someone-else@example.com"}) + "\n")
    configured = {**env, "KLAVIYO_SYNC_SOURCE": str(export)}
    retried = CliRunner().invoke(main, ["errors", "retry", "--all"], env=configured)
    assert retried.exit_code == 0, retried.output
    text = " ".join(retried.output.split())
    assert "created" in text
    assert "retried with the record kept with the failure" in text
    listed = CliRunner().invoke(main, ["errors", "list", "--resolved", "--json"], env=env)
    [failure] = [json.loads(line) for line in listed.stdout.splitlines()]
    again = CliRunner().invoke(main, ["errors", "retry", str(failure["id"])], env=configured)
    assert "not retried" in again.output
    assert "already resolved" in again.output
