"""The ``klaviyo-sandbox`` command: serve the emulator until interrupted.

argparse, not click: the sandbox needs no other command-line library. The options are those of
``klaviyo-sync sandbox``, which serves the same app.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from ._config import Behaviour, SandboxConfig

__all__ = ["main", "parser"]


def _version() -> str:
    try:
        return version("klaviyo-sandbox")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    """The command's options; ``--help`` prints them."""
    made = argparse.ArgumentParser(
        prog="klaviyo-sandbox",
        description="Run the local Klaviyo API emulator (profiles, lists, subscriptions, bulk "
        "import jobs; every revision Klaviyo serves today) until interrupted. Unset behaviour "
        "options keep the sandbox's defaults: Klaviyo as it behaves today.",
        epilog="Admin surface (no key): GET /__sandbox__, /__sandbox__/requests, "
        "/__sandbox__/emails, /__sandbox__/profiles; POST /__sandbox__/confirm, "
        "/__sandbox__/faults, /__sandbox__/behaviour, /__sandbox__/reset.",
    )
    made.add_argument(
        "--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)."
    )
    made.add_argument(
        "--port", type=int, default=8765, help="Port to listen on (default: %(default)s)."
    )
    made.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="Do not enforce Klaviyo's published rate limits.",
    )
    made.add_argument(
        "--api-key",
        default=os.environ.get("KLAVIYO_API_KEY") or None,
        help="Accept only this key (default: $KLAVIYO_API_KEY, else any key shaped pk_…).",
    )
    made.add_argument(
        "--invalid-phone",
        choices=["drop", "refuse"],
        help="An invalid phone beside another identifier: dropped with a 2xx and "
        "X-Klaviyo-Partial-Failure (Klaviyo today), or refused with a 400 (Klaviyo before).",
    )
    made.add_argument(
        "--bulk-import-validation",
        choices=["submit", "row"],
        help="A bulk import job with bad rows: refused whole at submit, or its bad rows failed "
        "one by one.",
    )
    made.add_argument(
        "--bulk-import-null",
        choices=["ignore", "clear"],
        help="A null in a bulk import row: ignored (Klaviyo's guide) or clearing the field.",
    )
    made.add_argument(
        "--default-opt-in",
        choices=["double_opt_in", "single_opt_in"],
        help="The account's opt-in process, for new lists and subscriptions that name no list.",
    )
    made.add_argument("--version", action="version", version=f"klaviyo-sandbox {_version()}")
    return made


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox the parsed options describe."""
    names = ("invalid_phone", "bulk_import_validation", "bulk_import_null", "default_opt_in")
    chosen = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return SandboxConfig(
        api_key=args.api_key,
        rate_limits=not args.no_rate_limits,
        behaviour=Behaviour().updated(chosen),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and serve until interrupted."""
    from . import _serve

    args = parser().parse_args(argv)
    config = config_from(args)
    print(
        f"Klaviyo sandbox on http://{args.host}:{args.port} (admin: /__sandbox__/profiles)",
        flush=True,
    )
    _serve.serve(config, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
