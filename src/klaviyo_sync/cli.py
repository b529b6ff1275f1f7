"""The ``klaviyo-sync`` command line: a thin layer over the library.

Each command calls one library function; a ``KlaviyoSyncError`` becomes a one-line message on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import __version__
from .config import load_settings
from .exceptions import KlaviyoSyncError
from .outcome import Outcome

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_USAGE = 2


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
@_domain_errors
def sync(
    source: str,
    config: Path | None,
    query: str | None,
    fmt: str | None,
    as_json: bool,
    full: bool,
) -> None:
    """Sync every customer in SOURCE (a .jsonl/.json/.csv file or a database URL) to Klaviyo.

    Exits 1 when any customer failed; failures stay in the error log.
    """
    from .report import outcome_json, print_summary, summary_json
    from .sources import open_source
    from .sync import sync_source

    settings = load_settings(config)
    customers = open_source(source, query=query, format=fmt)
    console = Console(stderr=as_json)
    with _progress(console, enabled=not as_json) as advance:

        def on_outcome(outcome: Outcome) -> None:
            advance()
            if as_json:
                click.echo(outcome_json(outcome))

        summary = asyncio.run(sync_source(settings, customers, full=full, on_outcome=on_outcome))
    if as_json:
        click.echo(summary_json(summary))
    else:
        print_summary(console, summary)
    if summary.failed:
        sys.exit(EXIT_ERROR)


@main.command("sync-one")
@click.argument("customer_id")
@click.option("--source", "source", required=True, help="Where to read the customer from.")
@_config_option
@_with_source_options
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_domain_errors
def sync_one_command(
    customer_id: str,
    source: str,
    config: Path | None,
    query: str | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Manual Sync: transfer one customer, by its id (for example 55260), now.

    Prints the route taken, which identifier matched, the payload sent and the profile id.
    """
    from .report import outcome_json, print_manual_sync
    from .sources import open_source
    from .sync import sync_one

    settings = load_settings(config)
    customers = open_source(source, query=query, format=fmt)
    outcome = asyncio.run(sync_one(settings, customer_id, customers))
    if as_json:
        click.echo(outcome_json(outcome))
    else:
        print_manual_sync(Console(), outcome)
    if outcome.kind == "failed":
        sys.exit(EXIT_ERROR)


@main.command()
@_config_option
@click.option("--offline", is_flag=True, help="Do not ask Klaviyo for its lists.")
@_domain_errors
def check(config: Path | None, offline: bool) -> None:
    """Validate the mapping: formulas, destinations, SubscribeProfile, list names.

    Exits 1 when there is an error.
    """
    from .report import print_check
    from .sync import check_configuration

    settings = load_settings(config)
    console = Console()
    if not offline and settings.klaviyo_api_key is None:
        console.print("[yellow]KLAVIYO_API_KEY is not set: checking offline.[/]")
        offline = True
    messages = asyncio.run(check_configuration(settings, offline=offline))
    print_check(console, messages, consulted=not offline)
    if any(m.severity == "error" for m in messages):
        sys.exit(EXIT_ERROR)


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
@_domain_errors
def sandbox(host: str, port: int, no_rate_limits: bool, api_key: str | None) -> None:
    """Run the local Klaviyo API emulator (revision 2026-07-15) until interrupted."""
    from .sandbox import SandboxConfig, serve

    click.echo(f"Klaviyo sandbox on http://{host}:{port} (admin: /__sandbox__/profiles)")
    serve(SandboxConfig(api_key=api_key, rate_limits=not no_rate_limits), host=host, port=port)


@main.command()
@_domain_errors
def demo() -> None:
    """Run the whole flow against a sandbox started in-process, and narrate it."""
    from .demo import run_demo

    run_demo()
