"""The command line is thin, documented, and turns domain errors into clean exits."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from klaviyo_sync.cli import _domain_errors, main
from klaviyo_sync.exceptions import ConfigError


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
