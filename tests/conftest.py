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


# Test tiers (README, "Development"): `make unit` runs -m "not slow and not postgres and not
# browser". Everything under tests/browser is marked browser here; PostgreSQL tests carry their
# marker where their backends are parametrized (tests/postgres.py); slow ones are marked in place.
BROWSER = Path(__file__).parent / "browser"


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(BROWSER):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Keep the test being run, for ``require_postgres``'s check of its marker; before any of
    its fixtures are set up, and kept through its teardown."""
    from tests.postgres import running  # here, to keep this file's imports as they are

    running[:] = [item]
