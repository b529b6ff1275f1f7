"""The ``klaviyo-sync`` command line: a thin layer over the library.

Each command calls one library function; a ``KlaviyoSyncError`` becomes a one-line message on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from . import __version__
from .exceptions import KlaviyoSyncError

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
    """Start the sandbox in-process and show, step by step, that it behaves like Klaviyo."""
    from .demo import run_demo

    run_demo(click.echo)
