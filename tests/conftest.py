from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from klaviyo_sandbox import RunningSandbox, SandboxConfig, running_sandbox

from tests.world import World

CLI_KEY = "pk_clitest000000000000"
"""The API key of the ``sandbox`` fixture, which ``env`` hands the command."""

# CI runs each property test on the same examples every time (derandomized), so a run on a
# clean checkout passes or fails on the code alone; a developer's runs keep exploring new
# examples, and a case they find becomes an explicit @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An in-process sandbox, a SQLite store and settings pointing at both."""
    return World.make(tmp_path)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A sandbox over loopback HTTP, one per test module, with the template's two lists."""
    with running_sandbox(SandboxConfig(api_key=CLI_KEY, rate_limits=False)) as running:
        running.sandbox.create_list("Sms Subscribers", "double_opt_in")
        running.sandbox.create_list("Preview List", "single_opt_in")
        yield running


@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a command run against ``sandbox`` with a store of its own; the
    settings this machine's environment may hold are taken away, so they cannot leak in."""
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)
    return {
        "KLAVIYO_API_KEY": CLI_KEY,
        "KLAVIYO_BASE_URL": sandbox.base_url,
        "KLAVIYO_SYNC_STORE": f"sqlite:///{tmp_path / 'store.db'}",
    }
