"""The README's Install section holds: the wheel builds from a checkout, installs into a fresh
virtual environment with its dependencies, and the installed command works there, away from
the checkout (its templates, sample customers and dashboard files travel in the wheel)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

# Each test builds the wheel or installs it into a fresh venv.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, ROOT)
    [built] = out.glob("klaviyo_sync-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` folder of a fresh venv with the wheel installed (dependencies from the index,
    or pip's cache)."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    return venv / "bin"


def test_the_wheel_is_named_for_the_version_and_carries_its_data(wheel: Path) -> None:
    assert wheel.name == f"klaviyo_sync-{VERSION}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "klaviyo_sync/mapping/templates/default.toml",
        "klaviyo_sync/demo_data/customers.jsonl",
        "klaviyo_sync/web/templates/base.html",
        "klaviyo_sync/py.typed",
    ):
        assert needed in names, needed
    assert not any(name.startswith("tests/") for name in names)


def test_the_installed_command_says_its_version(installed: Path, tmp_path: Path) -> None:
    done = _run(installed / "klaviyo-sync", "--version", cwd=tmp_path)
    assert done.stdout.strip() == f"klaviyo-sync, version {VERSION}"


def test_the_installed_command_works_away_from_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    """Run where neither the checkout nor its .venv is: the templates and the sample come from
    the installed package."""
    example = _run(installed / "klaviyo-sync", "example", "customers.jsonl", cwd=tmp_path)
    assert "sample customers" in example.stdout
    assert (tmp_path / "customers.jsonl").read_text().startswith('{"Id": 55260')
    check = _run(installed / "klaviyo-sync", "check", "--offline", cwd=tmp_path)
    assert "SubscribeProfile" in check.stdout
    where = _run(installed / "python", "-c", "import klaviyo_sync; print(klaviyo_sync.__file__)")
    assert str(ROOT) not in where.stdout
