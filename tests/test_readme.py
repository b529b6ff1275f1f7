"""The README stays true: its mapping example loads, and it documents every command."""

from __future__ import annotations

import re
from pathlib import Path

from klaviyo_sync.cli import main
from klaviyo_sync.mapping import default_collections, load_collections

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    opening = "\n".join(README.splitlines()[:8])
    assert "make demo" in opening
    assert "make test" in opening


def test_the_mapping_example_loads(tmp_path: Path) -> None:
    [example] = re.findall(r"```toml\n(.*?)```", README, re.S)
    path = tmp_path / "mapping.toml"
    path.write_text(example)
    collections = load_collections(path)
    assert collections.add.row("FirstName") is not None
    assert collections.update.row("FirstName") is None
    assert collections.add.row("Loyalty Tier") is not None


def test_the_template_table_lists_the_shipped_rows() -> None:
    for row in default_collections().add.rows:
        assert f"| `{row.destination}` | {row.kind} |" in README, row.destination


def test_every_command_is_documented() -> None:
    for name in main.commands:
        assert f"klaviyo-sync {name}" in README, name
