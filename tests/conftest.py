from __future__ import annotations

from pathlib import Path

import pytest

from tests.world import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An in-process sandbox, a SQLite store and settings pointing at both."""
    return World.make(tmp_path)
