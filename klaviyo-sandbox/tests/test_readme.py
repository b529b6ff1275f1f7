"""The README stays true: it documents every option of the command, every admin route and every
member of the fixture's value."""

from __future__ import annotations

import inspect
from pathlib import Path

from starlette.routing import Route

from klaviyo_sandbox import LiveSandbox, SandboxConfig, create_app
from klaviyo_sandbox.cli import parser
from klaviyo_sandbox.pytest_plugin import DEFAULT_API_KEY

README = (Path(__file__).parents[1] / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_option_is_in_the_table() -> None:
    table = _section("Run it")
    for action in parser()._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help", "--version"):
                assert f"| `{option}" in table, option


def test_every_admin_route_is_in_the_table() -> None:
    table = _section("The admin surface")
    app = create_app(SandboxConfig())
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert paths
    for path in paths:
        assert f"{path}`" in table, path


def test_every_member_of_the_fixtures_value_is_in_the_table() -> None:
    table = _section("The pytest fixture")
    public = [
        name
        for name, _ in inspect.getmembers(LiveSandbox, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    ]
    for name in [*public, "base_url", "api_key", "sandbox"]:
        assert f"`{name}" in table or f", `{name}(" in table, name
    assert DEFAULT_API_KEY in table
