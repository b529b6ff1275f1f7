"""The command line is thin, documented, and turns domain errors into clean exits."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from klaviyo_sync.cli import main
from klaviyo_sync.cli.commands import _domain_errors
from klaviyo_sync.exceptions import ConfigError
from klaviyo_sync.store import NotFoundError, StoreError


def _commands() -> list[str]:
    return sorted(main.commands)


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in _commands():
        assert name in result.output


@pytest.mark.parametrize("name", _commands())
def test_every_command_has_help_text(name: str) -> None:
    command = main.commands[name]
    assert command.help, f"{name} has no help text"
    assert command.help.strip(), f"{name} has blank help text"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    # Click wraps help text, so compare with whitespace folded.
    assert command.help.splitlines()[0] in " ".join(result.output.split())


def test_domain_error_becomes_message_and_exit_1() -> None:
    @click.command()
    @_domain_errors
    def broken() -> None:
        raise ConfigError("KLAVIYO_API_KEY is not set")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 1
    assert "error: KLAVIYO_API_KEY is not set" in result.output
    assert "Traceback" not in result.output


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "error",
    [
        StoreError("cannot open the store at sqlite:///x.db: unable to open database file"),
        NotFoundError("no failure 7 in the store at sqlite:///x.db"),
    ],
    ids=type,
)
def test_a_store_error_is_a_domain_error_too(error: Exception) -> None:
    @click.command()
    @_domain_errors
    def broken() -> None:
        raise error

    result = CliRunner().invoke(broken, [])
    assert (result.exit_code, result.stderr) == (1, f"error: {error}\n")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///{tmp}/missing/store.db", "unable to open database file"),
        # Nothing listens on port 1: the driver's message has a second line, a hint.
        ("postgresql+psycopg://nobody@127.0.0.1:1/store", "Is the server running"),
    ],
    ids=["sqlite", "postgresql"],
)
def test_a_store_that_cannot_be_opened_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    _clean(monkeypatch)
    store = url.format(tmp=tmp_path)
    result = CliRunner().invoke(main, ["errors", "list"], env={"KLAVIYO_SYNC_STORE": store})
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot open the store at {store}: ")
    assert reason in line
    assert result.stdout == ""


def test_resolving_a_failure_the_store_lacks_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean(monkeypatch)
    env = {"KLAVIYO_SYNC_STORE": f"sqlite:///{tmp_path / 'store.db'}"}
    result = CliRunner().invoke(main, ["errors", "resolve", "99999"], env=env)
    assert (result.exit_code, result.stderr) == (
        1,
        "error: there is no failure 99999 in the error log\n",
    )
