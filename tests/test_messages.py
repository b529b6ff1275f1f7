"""Messages in plain words: each says what is wrong, where, and what to do, in this project's
words rather than a library's (issue 15, point 9)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from klaviyo_sandbox import RunningSandbox
from rich.console import Console

from klaviyo_sync.cli import main
from klaviyo_sync.cli.plan_view import print_plan
from klaviyo_sync.cli.report import plural, print_retries, print_summary
from klaviyo_sync.config import load_settings
from klaviyo_sync.engine import PlanReport, RunSummary
from klaviyo_sync.exceptions import (
    ConfigError,
    KlaviyoAuthError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
)
from klaviyo_sync.klaviyo import (
    KlaviyoClient,
    RetryPolicy,
    error_from_response,
    error_from_transport,
)
from klaviyo_sync.mapping import (
    Collection,
    Collections,
    MappingRow,
    PhoneSettings,
    check_collections,
)
from klaviyo_sync.operations import RetryResult
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import CSVSource, open_source
from klaviyo_sync.store import FailureRecord
from tests.conftest import CLI_KEY

JINJA_WORDS = ("end of template", "token", "Input should", "TemplateSyntaxError")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)


def _mapping(tmp_path: Path, **rows: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(
        "".join(
            f"[[rows]]\ndestination = \"{name}\"\nkind = \"formula\"\nsource = '''{source}'''\n"
            for name, source in rows.items()
        )
    )
    return path


BASE = (
    MappingRow("Type", "static", "profile"),
    MappingRow("Id", "formula", "link()"),
    MappingRow("Email", "field", "EmailAddress"),
    MappingRow("SubscribeProfile", "static", True),
)


def _check(*rows: MappingRow) -> list[str]:
    """``check``'s findings about ``rows`` (in add, beside rows that raise none)."""
    named = {row.destination: row for row in (*BASE, *rows)}
    collections = Collections(Collection("add", tuple(named.values())), Collection("update", BASE))
    messages = check_collections(collections, phone=PhoneSettings())
    return [str(m) for m in messages if m.severity != "info"]


# -- a. formula syntax errors --------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_check_says_an_incomplete_formula_is_incomplete_once(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, Nick="(FirstName ~")
    result = CliRunner().invoke(
        main, ["check", "--offline"], env={"KLAVIYO_SYNC_MAPPING": str(mapping)}
    )
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert (
        "error: [add] 'Nick': formula '(FirstName ~' is incomplete: it ends where more was "
        "expected: '~' at position 12 needs a value after it and the '(' at position 1 is never "
        "closed"
    ) in flat
    assert "collection 'add' row 'Nick'" not in flat, "the row is named once"
    for word in JINJA_WORDS:
        assert word not in flat


@pytest.mark.parametrize(
    ("formula", "says"),
    [
        ("EmailAddress |", "'|' at position 14 needs a filter name after it, such as lower"),
        ("e164(Phone", "the '(' at position 5 is never closed"),
        ("[1, 2", "the '[' at position 1 is never closed"),
        ("x if y else", "'else' at position 8 needs a value after it"),
        ("'abc", "has quoted text that is never closed: the ' at position 1 needs a matching '"),
        ("FirstName $ LastName", "has '$' at position 11, which formulas do not use"),
        ("a && b", "has '&' at position 3, which formulas do not use: write and"),
        ("a || b", "has '||' at position 3: write or"),
        ("FirstName LastName", "goes on after a complete expression: 'LastName' at position 11"),
        ("FirstName ~ ~ LastName", "has '~' at position 13 where a value was expected"),
        ("custom('x'))", "has ')' at position 12, which closes no bracket"),
        ("(a]", "has ']' at position 3 where the '(' at position 1 should be closed first"),
        ("a | 5", "'|' at position 3 followed by '5': it needs a filter name"),
        ("billing.", "ends with '.' at position 8: it needs a field name after it"),
        ("{{ FirstName }}", "a formula is the expression alone, without {{ and }}"),
        ("a = 1", "'=' at position 3 (to compare, write ==)"),
        ("e146(Phone)", "e146(...) calls something that is not a helper: did you mean e164(...)?"),
        ("Phone | e164", "e164 is a helper, not a filter: write e164(value)"),
        (
            "FirstName | lowr",
            "the filter 'lowr' is not available in formulas; did you mean 'lower'?",
        ),
    ],
)
def test_formula_syntax_errors_in_plain_words(formula: str, says: str) -> None:
    [error] = [m for m in _check(MappingRow("Nick", "formula", formula)) if m.startswith("error")]
    assert error.startswith(f"error: [add] 'Nick': formula {formula!r}")
    assert says in error
    for word in JINJA_WORDS:
        assert word not in error


# -- f. names a formula reads ---------------------------------------------------------------------


def test_check_warns_of_a_name_that_is_no_known_field_and_suggests_one() -> None:
    messages = _check(
        MappingRow("Nick", "formula", "Emial | lower"),
        MappingRow("City", "formula", "billing.Cty"),
        MappingRow("Tier", "field", "customfields.Tier"),
        MappingRow("Points", "formula", "LoyaltyPoints"),
    )
    warnings = [m for m in messages if m.startswith("warning")]
    assert (
        "warning: [add] 'Nick': 'Emial' is not a known customer field: it is empty unless your "
        "records carry a key named 'Emial'; did you mean 'EmailAddress'? (names are "
        "case-sensitive)"
    ) in warnings
    assert any(
        "'billing.Cty' is not a known address field" in w and "'City'" in w for w in warnings
    )
    assert any("'customfields'" in w and "did you mean 'CustomFields'" in w for w in warnings)
    # An unknown top-level key is legal: a warning, with no guess when nothing is close.
    [points] = [w for w in warnings if "'Points'" in w]
    assert "did you mean" not in points
    assert not [m for m in messages if m.startswith("error")]


def test_check_errs_on_names_that_can_never_work() -> None:
    messages = _check(
        MappingRow("Id", "formula", "link"),
        MappingRow("PhoneNumber", "formula", "e146(Phone)"),
    )
    errors = [m for m in messages if m.startswith("error")]
    assert "error: [add] 'Id': link is a helper and must be called: write link(...)" in errors
    assert any("'PhoneNumber'" in e and "did you mean e164(...)" in e for e in errors)


def test_known_names_and_helpers_are_not_flagged() -> None:
    messages = _check(
        MappingRow("Id", "formula", "link()"),
        MappingRow("PhoneNumber", "formula", "e164(coalesce(Phone, billing.PhoneNumber))"),
        MappingRow("Nick", "formula", "(FirstName ~ ' ' ~ customer.LastName) | trim"),
        MappingRow("Tier", "formula", "custom('Tier', 'none') | upper"),
        MappingRow("Ship", "formula", "shipping.City"),
    )
    assert not [m for m in messages if m.startswith(("error", "warning"))], messages


# -- b. settings ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_a_bad_trigger_names_the_variable_the_value_and_the_choices() -> None:
    result = CliRunner().invoke(
        main, ["check", "--offline"], env={"KLAVIYO_SYNC_TRIGGERS": "created,bogus"}
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: invalid settings: KLAVIYO_SYNC_TRIGGERS (config file key triggers): 'bogus' is "
        "not a trigger; use created, updated (several comma-separated: created,updated)"
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("ACCOUNT_OPT_IN", "triple", "'triple' is not an opt-in process; use double_opt_in, "),
        ("STRATEGY", "fast", "'fast' is not a strategy; use auto, bulk, per-record"),
        ("BATCH_SIZE", "ten", "'ten' is not a whole number; use a whole number from 1 to 10,000"),
        ("BATCH_SIZE", "1.5", "'1.5' is not a whole number; use a whole number from 1 to 10,000"),
        ("BATCH_SIZE", "0", "'0' is out of range; use a whole number from 1 to 10,000"),
        ("CONCURRENCY", "100", "'100' is out of range; use a whole number from 1 to 64"),
        ("POLL_SECONDS", "x", "'x' is not a number; use a number above 0, up to 60"),
        ("POLL_SECONDS", "0", "'0' is out of range; use a number above 0, up to 60"),
        ("LEASE_SECONDS", "inf", "'inf' is not a finite number; use a number above 0"),
        ("MAX_UNSUBSCRIBE_SHARE", "5", "'5' is out of range; use a number from 0 to 1"),
        ("MAX_CLEARED_FIELDS", "-1", "'-1' is out of range; use a whole number of 0 or more"),
        ("PHONE_STRICT", "maybe", "'maybe' is not true or false; use true or false"),
        ("PHONE_REGION", "Narnia", "'Narnia' is not a region code like US, GB or DE"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_every_kind_of_bad_setting_in_plain_words(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    variable = f"KLAVIYO_SYNC_{name}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid settings: {variable} (config file key {name.lower()}): ")
    assert says in message
    assert "Input should" not in message


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('triggers = ["created", "x"]', "triggers in {}: 'x' is not a trigger; use created, "),
        ("triggers = 5", 'triggers in {}: 5 is not a list; use a list, such as ["created"'),
        ("batch_size = 2.5", "batch_size in {}: 2.5 is not a whole number; use a whole number"),
        ("base_url = 5", "base_url in {}: 5 is not text; write it in quotes"),
        ('store = ["postgresql://u:secret@h/db"]', "store in {}: the value given is not text"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_a_bad_config_file_value_names_the_key_and_the_file(
    tmp_path: Path, line: str, says: str
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert says.format(config) in str(caught.value)
    assert "secret" not in str(caught.value)


# -- c. a key Klaviyo refuses ----------------------------------------------------------------------


def _response(status: int, code: str, detail: str) -> httpx.Response:
    body = {"errors": [{"id": "e1", "status": status, "code": code, "detail": detail}]}
    request = httpx.Request(
        "GET",
        "https://a.klaviyo.com/api/lists",
        headers={"Authorization": "Klaviyo-API-Key pk_secret_never_shown"},
    )
    return httpx.Response(status, json=body, request=request)


def test_a_401_says_to_check_the_api_key_without_showing_it() -> None:
    error = error_from_response(
        _response(401, "not_authenticated", "Missing or invalid private key.")
    )
    assert isinstance(error, KlaviyoAuthError)
    assert str(error) == (
        "GET /api/lists failed with 401 (not_authenticated): Missing or invalid private key. "
        "[request e1]. Klaviyo did not accept the API key: check KLAVIYO_API_KEY (a private API "
        "key of this Klaviyo account, starting pk_, not revoked)"
    )
    assert "pk_secret" not in str(error)


def test_a_403_names_the_scopes_the_key_needs() -> None:
    error = error_from_response(_response(403, "permission_denied", "You do not have permission."))
    assert isinstance(error, KlaviyoAuthError)
    message = str(error)
    assert "KLAVIYO_API_KEY" in message
    assert "profiles, lists and subscriptions scopes" in message
    assert "pk_secret" not in message


def test_check_with_a_wrong_key_says_so(env: dict[str, str]) -> None:
    wrong = "pk_wrongkey0000000000000"
    result = CliRunner().invoke(main, ["check"], env={**env, "KLAVIYO_API_KEY": wrong})
    assert result.exit_code == 1
    assert "Klaviyo did not accept the API key: check KLAVIYO_API_KEY" in result.output
    assert wrong not in result.output
    assert CLI_KEY not in result.output


# -- d. Klaviyo out of reach -----------------------------------------------------------------------


def test_an_unreachable_klaviyo_names_where_and_what_to_check() -> None:
    request = httpx.Request("GET", "http://user:pw@127.0.0.1:9/api/lists")
    error = error_from_transport(
        httpx.ConnectError("[Errno 111] Connection refused", request=request), "GET", "/api/lists"
    )
    assert isinstance(error, KlaviyoUnavailableError)
    assert str(error) == (
        "GET /api/lists could not reach Klaviyo at http://127.0.0.1:9 (ConnectError: [Errno 111] "
        "Connection refused): check KLAVIYO_BASE_URL and the network, and that the sandbox is "
        "running there (klaviyo-sync sandbox)"
    )
    assert "pw" not in str(error)


def test_a_real_klaviyo_out_of_reach_does_not_mention_the_sandbox() -> None:
    request = httpx.Request("GET", "https://a.klaviyo.com/api/lists")
    error = error_from_transport(httpx.ConnectError("boom", request=request), "GET", "/api/lists")
    assert "at https://a.klaviyo.com" in str(error)
    assert "KLAVIYO_BASE_URL" in str(error)
    assert "sandbox" not in str(error)
    timeout = error_from_transport(httpx.ReadTimeout("slow", request=request), "GET", "/api/lists")
    assert isinstance(timeout, KlaviyoTimeoutError)
    assert str(timeout).startswith("GET /api/lists timed out: Klaviyo at https://a.klaviyo.com")


async def test_the_client_gives_up_naming_its_base_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    async with KlaviyoClient(
        "pk_test",
        base_url="http://127.0.0.1:9",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=1, patient_attempts=1),
    ) as client:
        with pytest.raises(KlaviyoUnavailableError) as caught:
            [_ async for _ in client.iter_lists()]
    assert "could not reach Klaviyo at http://127.0.0.1:9" in str(caught.value)
    assert "check KLAVIYO_BASE_URL" in str(caught.value)


# -- e. a file klaviyo-sync cannot tell the type of ------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_an_unknown_file_type_mentions_format(tmp_path: Path) -> None:
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"")
    result = CliRunner().invoke(main, ["plan", str(path)])
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert f"cannot read customers from {path}: '.xlsx' is not a file type" in flat
    for suffix in (".jsonl", ".ndjson", ".json", ".csv", ".gz"):
        assert suffix in flat
    assert "add --format jsonl|json|csv" in flat
    with pytest.raises(ConfigError, match="--format"):
        open_source(tmp_path / "customers")


# -- g. CSV columns that look like known ones ------------------------------------------------------


def test_a_csv_header_with_near_miss_columns_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("Id,email,phone,first_name,LoyaltyPoints\n1,a@example.com,555,Ada,12\n")
    source = CSVSource(path)
    with caplog.at_level(logging.WARNING, logger="klaviyo_sync.sources"):
        first = list(source)
        list(source)
        source.get("1")
    assert source.notes == [
        f"{path}: column 'email' is not a known column, so it is only kept for formulas; did you "
        "mean 'EmailAddress'? Column names are case-sensitive",
        f"{path}: column 'phone' is not a known column, so it is only kept for formulas; did you "
        "mean 'Phone'? Column names are case-sensitive",
        f"{path}: column 'first_name' is not a known column, so it is only kept for formulas; did "
        "you mean 'FirstName'? Column names are case-sensitive",
    ]
    assert [r.getMessage() for r in caplog.records] == [f"warning: {n}" for n in source.notes]
    # Legal still: the columns are kept, and LoyaltyPoints (nothing like a known one) is quiet.
    assert first[0].raw["email"] == "a@example.com"  # type: ignore[union-attr]


@pytest.mark.slow  # a klaviyo-sync process
def test_the_command_line_prints_the_csv_warning_on_stderr(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("Id,email\n1,a@example.com\n")
    done = subprocess.run(
        [sys.executable, "-m", "klaviyo_sync", "plan", str(path)],
        env={**os.environ, **env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "warning:" in done.stderr
    assert "column 'email' is not a known column" in done.stderr
    assert "did you mean 'EmailAddress'?" in done.stderr
    assert done.stderr.count("column 'email'") == 1
    assert "no_identifier" in done.stdout, "the customer has no email: why the warning matters"


# -- h. one and many -------------------------------------------------------------------------------


def test_counts_of_one_are_singular() -> None:
    assert (plural(1, "customer"), plural(2, "customer"), plural(0, "failure")) == (
        "1 customer",
        "2 customers",
        "0 failures",
    )
    console = Console(width=80, record=True, color_system=None)
    print_summary(console, RunSummary(5, Counter({"created": 1})))
    now = datetime(2025, 12, 1, tzinfo=UTC)
    failure = FailureRecord(
        1, "c1", "write", "invalid", "bad", False, {}, 1, now, now, None, None, 5
    )
    print_retries(console, [RetryResult(failure, Outcome("c1", "updated", "P1", "update"))])
    print_plan(console, PlanReport(routes=Counter({"create": 1})), source="one.jsonl", live=False)
    text = console.export_text()
    assert "Run 5: 1 customer" in text
    assert "Retried 1 failure" in text
    assert "1 failures" not in text
    assert "Plan for one.jsonl: 1 customer, nothing written" in text
    assert "1 customers" not in text


# -- i. Klaviyo's refusal of a value ---------------------------------------------------------------


def test_a_klaviyo_refusal_reads_without_a_doubled_word() -> None:
    body = {
        "errors": [
            {
                "id": "r1",
                "code": "invalid",
                "title": "Invalid input.",
                "detail": "Invalid phone number format",
                "source": {"pointer": "/data/attributes/phone_number"},
            }
        ]
    }
    request = httpx.Request("POST", "https://a.klaviyo.com/api/profiles/")
    error = error_from_response(httpx.Response(400, json=body, request=request))
    assert str(error) == (
        "POST /api/profiles/ failed with 400 (invalid): Invalid phone number format "
        "(at /data/attributes/phone_number) [request r1]"
    )
