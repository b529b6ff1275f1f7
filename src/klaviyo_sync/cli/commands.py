"""The ``klaviyo-sync`` command line: a thin layer over the library.

Each command calls one library function; a ``KlaviyoSyncError`` becomes a one-line message on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .. import __version__
from ..config import load_settings
from ..exceptions import ConfigError, KlaviyoSyncError
from ..outcome import Outcome

if TYPE_CHECKING:  # imported by the commands that need them, to keep start-up quick
    from ..config import Settings
    from ..engine import PlanEntry
    from ..sources import Source

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DATA_FAILURES = 3

# Failures a customer's own record causes: they come back, unchanged, on every run until the
# source is fixed (or a person chooses, for a conflict), so they must not fail a scheduled run
# that did everything it could; the error log keeps them. Every other kind (Klaviyo down or
# throttled past the retries, a key refused, a list the account lacks, a guardrail) means the
# run did not do its work, and a scheduler should say so.
DATA_FAILURE_KINDS = frozenset(
    {"invalid_record", "formula_error", "no_identifier", "phone_rejected", "invalid", "conflict"}
)

_strict_option = click.option(
    "--strict",
    is_flag=True,
    help="Exit 3 when customers failed for their own data (otherwise such a run exits 0).",
)


def _run_exit_status(failures: Mapping[str, int], *, strict: bool) -> int:
    """The exit status of a run that completed, from its failures by kind: 1 when any is not
    the customer's own data, else 3 with ``strict`` when there are any, else 0."""
    kinds = {kind for kind, count in failures.items() if count}
    if kinds - DATA_FAILURE_KINDS:
        return EXIT_ERROR
    return EXIT_DATA_FAILURES if kinds and strict else 0


def _domain_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's errors into a clear message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KlaviyoSyncError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="klaviyo-sync")
def main() -> None:
    """Keep Klaviyo profiles in step with customer records, without wiping good data."""


_config_option = click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Settings file (TOML); the environment wins over it.",
)
_source_options = [
    click.option("--query", default=None, help="SQL query, when the source is a database URL."),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["jsonl", "json", "csv", "sql"]),
        default=None,
        help="Source format, when the file name does not say.",
    ),
]


def _with_source_options(func: Callable[P, R]) -> Callable[P, R]:
    for option in reversed(_source_options):
        func = option(func)
    return func


@main.command()
@click.argument("source")
@_config_option
@_with_source_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per customer.")
@click.option("--full", is_flag=True, help="Send every customer, changed or not.")
@click.option(
    "--strategy",
    type=click.Choice(["auto", "bulk", "per-record"]),
    default=None,
    help="How profiles are written: bulk import jobs, one request each, or auto (bulk for "
    "large batches; the default, or KLAVIYO_SYNC_STRATEGY).",
)
@click.option("--force", is_flag=True, help="Apply a run the guardrails would refuse.")
@click.option("--plan", "show_plan", is_flag=True, help="Print the plan first and ask to go on.")
@click.option("--yes", is_flag=True, help="With --plan: go on without asking.")
@_strict_option
@_domain_errors
def sync(
    source: str,
    config: Path | None,
    query: str | None,
    fmt: str | None,
    as_json: bool,
    full: bool,
    strategy: str | None,
    force: bool,
    show_plan: bool,
    yes: bool,
    strict: bool,
) -> None:
    """Sync every customer in SOURCE (a .jsonl/.json/.csv file or a database URL) to Klaviyo.

    Exit status: 0 when the run did its work (customers that failed for their own data, such as
    no email and no phone, are in the error log); 1 when it could not (refused by the
    guardrails, Klaviyo unreachable, or customers failed for reasons not their own); 3 with
    --strict when customers failed for their own data. With --plan, shows what the run would
    change and asks before applying it.
    """
    from ..operations import sync_source
    from ..sources import open_source
    from .report import outcome_json, print_summary, summary_json

    settings = load_settings(config)
    if strategy is not None:
        settings = settings.model_copy(update={"strategy": strategy})
    customers = open_source(source, query=query, format=fmt)
    console = Console(stderr=as_json)
    if show_plan:
        force = _confirm_plan(console, settings, customers, full=full, force=force, yes=yes)
    with _progress(console, enabled=not as_json) as advance:

        def on_outcome(outcome: Outcome) -> None:
            advance()
            if as_json:
                click.echo(outcome_json(outcome))

        summary = asyncio.run(
            sync_source(settings, customers, full=full, force=force, on_outcome=on_outcome)
        )
    if as_json:
        click.echo(summary_json(summary))
    else:
        print_summary(console, summary)
    # A profile written without a field Klaviyo left out counts as its failure's kind.
    sys.exit(_run_exit_status(summary.failures, strict=strict))


def _confirm_plan(
    console: Console, settings: Settings, customers: Source, *, full: bool, force: bool, yes: bool
) -> bool:
    """Print the plan of syncing ``customers``; go on when the person agrees (or ``yes``).

    Returns whether to force: a person agreeing, at the prompt, to a plan the guardrails would
    refuse makes the informed decision ``--force`` stands for; ``--yes`` asks no one, so it
    does not. Exits when the answer is no, or no one can be asked.
    """
    from ..operations import plan_source
    from .plan_view import print_plan

    report = asyncio.run(plan_source(settings, customers, full=full, force=force))
    print_plan(console, report, source=customers.name, live=False)
    if yes:
        return force
    if not (sys.stdin.isatty() and console.is_terminal):
        click.echo("not applied: no terminal to ask on; pass --yes to apply after a plan")
        sys.exit(EXIT_ERROR)
    if not click.confirm("Apply this run?", default=False):
        click.echo("not applied")
        sys.exit(EXIT_ERROR)
    return force or bool(report.problems)


@main.command()
@click.argument("source")
@_config_option
@_with_source_options
@click.option("--live", is_flag=True, help="Diff against Klaviyo's profiles now, not the store.")
@click.option("--show", "show", default=None, metavar="ID", help="One customer's full plan.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per customer, then a summary.")
@click.option("--full", is_flag=True, help="Plan as sync --full: resend unchanged customers.")
@_strict_option
@_domain_errors
def plan(
    source: str,
    config: Path | None,
    query: str | None,
    fmt: str | None,
    live: bool,
    show: str | None,
    as_json: bool,
    full: bool,
    strict: bool,
) -> None:
    """Show what syncing SOURCE would change, customer by customer, without writing anything.

    Per customer: the route (create, update, matched by email or phone), the exact payload and
    a field-level diff against what was last applied (or, with --live, against the profile as
    Klaviyo holds it now). Lookups in Klaviyo are made: they are reads. Exits as the sync
    would: 1 when it would refuse the run, 0 when customers would fail only for their own data
    (3 with --strict).
    """
    from ..operations import plan_source
    from ..sources import open_source
    from .plan_view import plan_entry_json, plan_summary_json, print_plan, print_plan_entry

    settings = load_settings(config)
    customers = open_source(source, query=query, format=fmt)
    console = Console()

    def on_entry(entry: PlanEntry) -> None:
        if as_json:
            click.echo(plan_entry_json(entry))
        elif show is not None:
            print_plan_entry(console, entry)

    report = asyncio.run(
        plan_source(settings, customers, only=show, live=live, full=full, on_entry=on_entry)
    )
    if as_json:
        click.echo(plan_summary_json(report))
    elif show is None:
        print_plan(console, report, source=customers.name, live=live)
    if report.problems:
        sys.exit(EXIT_ERROR)
    sys.exit(_run_exit_status(report.failures, strict=strict))


@main.command("sync-one")
@click.argument("customer_id")
@click.option(
    "--source",
    "source",
    default=None,
    help="Where to read the customer from (default: $KLAVIYO_SYNC_SOURCE, as the dashboard's "
    "Manual Sync and errors retry read it).",
)
@_config_option
@_with_source_options
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_domain_errors
def sync_one_command(
    customer_id: str,
    source: str | None,
    config: Path | None,
    query: str | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Manual Sync: transfer one customer, by its id (for example 55260), now.

    Prints the route taken, which identifier matched, the payload sent and the profile id.
    """
    from ..operations import sync_one
    from ..sources import open_source
    from .report import outcome_json, print_manual_sync

    settings = load_settings(config)
    spec = source or settings.source
    if spec is None:
        raise click.UsageError(
            "name where to read the customer from: --source FILE_OR_URL, or set "
            "KLAVIYO_SYNC_SOURCE (the dashboard's Manual Sync reads it too)"
        )
    # The configured source comes with its configured query, as for the dashboard and retries.
    query = query if source is not None else query or settings.source_query
    customers = open_source(spec, query=query, format=fmt)
    outcome = asyncio.run(sync_one(settings, customer_id, customers))
    if as_json:
        click.echo(outcome_json(outcome))
    else:
        print_manual_sync(Console(), outcome)
    # A profile written without a field Klaviyo left out is an error to look at too.
    if outcome.kind == "failed" or (outcome.failure is not None and outcome.kind != "conflict"):
        sys.exit(EXIT_ERROR)


@main.command()
@_config_option
@click.option("--offline", is_flag=True, help="Do not ask Klaviyo for its lists.")
@_domain_errors
def check(config: Path | None, offline: bool) -> None:
    """Validate the mapping: formulas, destinations, SubscribeProfile, list names.

    Exits 1 when there is an error.
    """
    from ..operations import check_configuration
    from .report import print_check

    settings = load_settings(config)
    console = Console()
    if not offline and settings.klaviyo_api_key is None:
        console.print("[yellow]KLAVIYO_API_KEY is not set: checking offline.[/]")
        offline = True
    messages = asyncio.run(check_configuration(settings, offline=offline))
    print_check(console, messages, consulted=not offline)
    if any(m.severity == "error" for m in messages):
        sys.exit(EXIT_ERROR)


@main.command("create-lists")
@_config_option
@click.option("--dry-run", is_flag=True, help="Only say which lists would be created.")
@_domain_errors
def create_lists_command(config: Path | None, dry_run: bool) -> None:
    """Create the Klaviyo lists the mapping names (LIST_ and UCLIST_ rows) that the account
    lacks: double opt-in for LIST_ (Klaviyo emails the consent request), single opt-in for
    UCLIST_. Lists that exist are left as they are."""
    from ..operations import create_lists

    settings = load_settings(config)
    settings.require_api_key()
    results = asyncio.run(create_lists(settings, dry_run=dry_run))
    if not results:
        click.echo("the mapping names no lists (no LIST_ or UCLIST_ rows): nothing to create")
    for result in results:
        click.echo(
            _list_line(result.name, result.opt_in_process, result.status, result.existing_opt_in)
        )


def _list_line(name: str, opt_in: str, status: str, existing: str | None) -> str:
    process = opt_in.replace("_", " ")
    if status == "created":
        return f"created {name!r} ({process})"
    if status == "would_create":
        return f"would create {name!r} ({process})"
    if status == "exists":
        return f"{name!r} exists ({process})"
    have = (existing or "unknown").replace("_", " ")
    return (
        f"warning: {name!r} exists but is {have}, and its rows need {process}; it is left as "
        "it is: change it in Klaviyo (List settings), or see `klaviyo-sync check`"
    )


@main.command("example")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@_domain_errors
def example_command(path: Path) -> None:
    """Write sample customers to PATH (JSON lines), to try the tool with: among them a
    customer with only a phone, one with no usable identifier and a record with no Id."""
    from importlib import resources

    if path.exists():
        raise ConfigError(f"{path} exists: name a new file, or remove it first")
    sample = resources.files("klaviyo_sync") / "demo_data" / "customers.jsonl"
    data = sample.read_bytes()
    path.write_bytes(data)
    click.echo(f"wrote {len(data.splitlines())} sample customers to {path}")


@main.group()
def errors() -> None:
    """The error log: every transfer failure, kept until resolved."""


@errors.command("list")
@_config_option
@click.option("--kind", default=None, help="Only failures of this kind (e.g. phone_rejected).")
@click.option("--text", default=None, help="Only failures whose message or customer id has this.")
@click.option("--resolved", is_flag=True, help="Include resolved failures.")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_domain_errors
def errors_list(
    config: Path | None,
    kind: str | None,
    text: str | None,
    resolved: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List failures, newest first: open, retrying, parked (out of automatic retries)."""
    from ..store import FailureFilter, Store
    from .report import failure_json, print_failures

    settings = load_settings(config)
    where = FailureFilter(kind=kind, text=text, include_resolved=resolved)
    with Store.open(settings.store_url) as store:
        found = store.list_failures(where, limit=limit)
        total = store.count_failures(where)
    if as_json:
        for failure in found:
            click.echo(json.dumps(failure_json(failure), ensure_ascii=False, sort_keys=True))
        return
    print_failures(Console(), found, total=total, max_attempts=settings.max_attempts)


@errors.command("show")
@click.argument("failure_id", type=int)
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_domain_errors
def errors_show(failure_id: int, config: Path | None, as_json: bool) -> None:
    """Show one failure: Klaviyo's answer, the payload sent, the customer record."""
    from ..store import Store
    from .report import failure_json, print_failure

    settings = load_settings(config)
    with Store.open(settings.store_url) as store:
        failure = store.get_failure(failure_id)
    if failure is None:
        raise ConfigError(f"there is no failure {failure_id} in the error log")
    if as_json:
        click.echo(json.dumps(failure_json(failure), ensure_ascii=False, sort_keys=True))
    else:
        print_failure(Console(), failure, max_attempts=settings.max_attempts)


@errors.command("retry")
@click.argument("failure_ids", type=int, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Retry every open failure (of --kind).")
@click.option("--kind", default=None, help="With --all: only failures of this kind.")
@click.option("--source", default=None, help="Re-read customers from here (else the record kept).")
@click.option("--force", is_flag=True, help="Apply even past the guardrails (kind guardrail).")
@_config_option
@_domain_errors
def errors_retry(
    failure_ids: tuple[int, ...],
    every: bool,
    kind: str | None,
    source: str | None,
    force: bool,
    config: Path | None,
) -> None:
    """Run failed customers again, with their latest state; a success resolves the failure.

    Exits 1 when a retried customer failed again.
    """
    from ..operations import configured_source, retry_failures
    from .report import print_retries

    if failure_ids and every:
        raise click.UsageError("name failures or use --all, not both")
    if not failure_ids and not every:
        raise click.UsageError(
            "name the failures to retry (ids from `klaviyo-sync errors list`), or retry every "
            "open one with --all (--kind KIND for one kind)"
        )
    settings = load_settings(config)
    results = asyncio.run(
        retry_failures(
            settings,
            failure_ids,
            every=every,
            kind=kind,
            source=configured_source(settings, source),
            force=force,
        )
    )
    print_retries(Console(), results)
    if any(r.outcome is not None and r.outcome.failure is not None for r in results):
        sys.exit(EXIT_ERROR)


@errors.command("resolve")
@click.argument("failure_id", type=int)
@click.option("--note", default=None, help="Why (default: resolved by hand).")
@click.option(
    "--profile",
    default=None,
    metavar="PROFILE_ID",
    help="Settle an identity conflict: link the customer to this one of its profiles.",
)
@_config_option
@_domain_errors
def errors_resolve(
    failure_id: int, note: str | None, profile: str | None, config: Path | None
) -> None:
    """Mark a failure resolved (it leaves the open error log and automatic retries).

    With --profile, an identity conflict is settled: its customer is linked to that profile,
    and the next run updates it (identifiers that belong to the other profiles stay off it).
    """
    from ..operations import resolve_failure

    settings = load_settings(config)
    failure = resolve_failure(settings, failure_id, note=note, profile=profile)
    linked = f"; linked to profile {profile}" if profile else ""
    click.echo(
        f"failure {failure.id} ({failure.kind}, customer {failure.customer_id}) resolved{linked}"
    )


@main.command()
@_config_option
@click.option("--customer", default=None, metavar="ID", help="Only this customer's changes.")
@click.option("--run", "run_id", type=int, default=None, help="Only this run's changes.")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_domain_errors
def audit(
    config: Path | None, customer: str | None, run_id: int | None, limit: int, as_json: bool
) -> None:
    """Every consent and list change made: customer, profile, before, after, mapping row, run."""
    from ..store import Store
    from .plan_view import audit_json, print_audit

    settings = load_settings(config)
    with Store.open(settings.store_url) as store:
        records = store.list_audit(customer_id=customer, run_id=run_id, limit=limit)
        total = store.count_audit(customer_id=customer, run_id=run_id)
    if as_json:
        for record in records:
            click.echo(audit_json(record))
        return
    print_audit(Console(), records, total=total)


@main.command()
@_config_option
@click.option("--processes", default=1, show_default=True, help="Worker processes to run.")
@_domain_errors
def worker(config: Path | None, processes: int) -> None:
    """Drain the queue of triggered customers until stopped (Ctrl-C or SIGTERM)."""
    from ..runtime.service import run_workers

    settings = load_settings(config)
    settings.require_api_key()
    run_workers(settings, processes=processes, config=config)


@main.command()
@_config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Only receive events; separate workers send.")
@_domain_errors
def serve(config: Path | None, host: str, port: int, no_worker: bool) -> None:
    """Receive customer events (POST /hooks/customers) and transfer them with a worker."""
    from ..runtime.service import serve as run_server

    settings = load_settings(config)
    problem = settings.dashboard_token_problem() or _webhook_secret_problem(settings)
    if problem is not None:
        # A usage error: nothing starts, as with a bad option.
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    run_server(settings, host=host, port=port, worker=not no_worker)


def _webhook_secret_problem(settings: Settings) -> str | None:
    """Why the webhook secret may not be used, or None (unset: webhooks are refused)."""
    from ..web import WebhookSecretError, signing_key

    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    try:
        if secret:
            signing_key(secret)
    except WebhookSecretError as err:
        return str(err)
    return None


@contextmanager
def _progress(console: Console, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A live count of customers on a terminal; silent when output is piped."""
    if not (enabled and console.is_terminal):
        yield lambda: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("syncing: {task.completed} customers"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("syncing", total=None)
        yield lambda: progress.advance(task)


def _sandbox_missing() -> str | None:
    """Why the sandbox cannot run here, or None when klaviyo-sandbox is installed."""
    try:
        import klaviyo_sandbox  # noqa: F401
    except ImportError:
        return (
            "the sandbox is not installed: it is a package of its own, klaviyo-sandbox, in the "
            "klaviyo-sandbox folder of the klaviyo-sync checkout. Install it into this "
            f"environment from there: {sys.executable} -m pip install ./klaviyo-sandbox "
            "(or, for a pipx install: pipx inject klaviyo-sync ./klaviyo-sandbox)"
        )
    return None


def _require_sandbox() -> None:
    problem = _sandbox_missing()
    if problem is not None:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_ERROR)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--no-rate-limits", is_flag=True, help="Do not enforce Klaviyo's published rate limits."
)
@click.option(
    "--api-key",
    envvar="KLAVIYO_API_KEY",
    default=None,
    help="Accept only this key (default: $KLAVIYO_API_KEY, else any key shaped pk_…).",
)
@click.option(
    "--invalid-phone",
    type=click.Choice(["drop", "refuse"]),
    help="An invalid phone beside another identifier: dropped with a 2xx and "
    "X-Klaviyo-Partial-Failure (Klaviyo today), or refused with a 400 (Klaviyo before).",
)
@click.option(
    "--bulk-import-validation",
    type=click.Choice(["submit", "row"]),
    help="A bulk import job with bad rows: refused whole at submit, or its bad rows failed "
    "one by one.",
)
@click.option(
    "--bulk-import-null",
    type=click.Choice(["ignore", "clear"]),
    help="A null in a bulk import row: ignored (Klaviyo's guide) or clearing the field.",
)
@click.option(
    "--default-opt-in",
    type=click.Choice(["double_opt_in", "single_opt_in"]),
    help="The account's opt-in process, for new lists and subscriptions that name no list.",
)
@_domain_errors
def sandbox(
    host: str, port: int, no_rate_limits: bool, api_key: str | None, **behaviour: str | None
) -> None:
    """Run the local Klaviyo API emulator (every revision Klaviyo serves today) until
    interrupted. Unset behaviour options keep the sandbox's defaults. Needs klaviyo-sandbox."""
    _require_sandbox()
    from klaviyo_sandbox import Behaviour, SandboxConfig, serve

    chosen = Behaviour().updated({k: v for k, v in behaviour.items() if v is not None})
    config = SandboxConfig(api_key=api_key, rate_limits=not no_rate_limits, behaviour=chosen)
    click.echo(f"Klaviyo sandbox on http://{host}:{port} (admin: /__sandbox__/profiles)")
    serve(config, host=host, port=port)


@main.command()
@_domain_errors
def demo() -> None:
    """Run the whole flow against a sandbox started in-process, and narrate it. Needs
    klaviyo-sandbox."""
    _require_sandbox()
    from .demo import run_demo

    run_demo()
