"""The README's Install section holds: both wheels build from a checkout and install into fresh
virtual environments with their dependencies, and the installed commands work there, away from
the checkout (klaviyo-sync's templates, sample customers and dashboard files travel in its wheel).

The two distributions stand apart: klaviyo-sandbox installs and works alone (its command, its
package and its pytest fixture, used by a test outside both packages), klaviyo-sync's wheel
carries no sandbox code and says how to install klaviyo-sandbox when a command needs it, and the
extra ``klaviyo-sync[sandbox]`` takes klaviyo-sandbox from its folder's wheel."""

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
SANDBOX = ROOT / "klaviyo-sandbox"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SANDBOX_VERSION = tomllib.loads((SANDBOX / "pyproject.toml").read_text())["project"]["version"]


def _run(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both wheels, built from the checkout: distribution name → wheel."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, ROOT, SANDBOX)
    [sync] = out.glob("klaviyo_sync-*.whl")
    [sandbox] = out.glob("klaviyo_sandbox-*.whl")
    return {"klaviyo-sync": sync, "klaviyo-sandbox": sandbox}


@pytest.fixture(scope="module")
def wheel(wheels: dict[str, Path]) -> Path:
    return wheels["klaviyo-sync"]


def _venv(tmp_path_factory: pytest.TempPathFactory, *requirements: str | Path) -> Path:
    """The `bin` folder of a fresh venv with ``requirements`` installed (dependencies from the
    index, or pip's cache)."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-compile", *requirements)
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """klaviyo-sync alone, as `pipx install ./klaviyo-sync` installs it."""
    return _venv(tmp_path_factory, wheel)


@pytest.fixture(scope="module")
def sandbox_alone(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """klaviyo-sandbox alone, and pytest to run a test of another project with its fixture."""
    return _venv(tmp_path_factory, wheels["klaviyo-sandbox"], "pytest")


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


def test_klaviyo_syncs_wheel_carries_no_sandbox(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.startswith("klaviyo_sync/sandbox/")]
    assert not [name for name in names if name.startswith("klaviyo_sandbox/")]
    [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
    requires = [
        line
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist: klaviyo-sandbox")
    ]
    # Only through the extras: klaviyo-sync installs without it.
    assert requires
    assert all("extra ==" in line for line in requires), requires


def test_the_sandbox_wheel_carries_its_command_and_plugin(wheels: dict[str, Path]) -> None:
    wheel = wheels["klaviyo-sandbox"]
    assert wheel.name == f"klaviyo_sandbox-{SANDBOX_VERSION}-py3-none-any.whl"
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for needed in (
        "klaviyo_sandbox/__init__.py",
        "klaviyo_sandbox/limits.py",
        "klaviyo_sandbox/pytest_plugin.py",
        "klaviyo_sandbox/py.typed",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "klaviyo_sync/")) for name in names)
    [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert "klaviyo-sandbox = klaviyo_sandbox.cli:main" in text
    assert "[pytest11]" in text
    assert "klaviyo_sandbox = klaviyo_sandbox.pytest_plugin" in text


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


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_without_the_sandbox_the_commands_say_how_to_install_it(
    installed: Path, tmp_path: Path, command: str
) -> None:
    done = _run(installed / "klaviyo-sync", command, cwd=tmp_path, check=False)
    assert done.returncode == 1, done
    message = " ".join(done.stderr.split())
    assert message.startswith("error: the sandbox is not installed"), done.stderr
    assert "-m pip install ./klaviyo-sandbox" in message
    assert "Traceback" not in done.stderr


def test_klaviyo_sandbox_installs_and_runs_alone(sandbox_alone: Path, tmp_path: Path) -> None:
    helped = _run(sandbox_alone / "klaviyo-sandbox", "--help", cwd=tmp_path)
    assert helped.stdout.startswith("usage: klaviyo-sandbox")
    for option in ("--port", "--no-rate-limits", "--api-key", "--invalid-phone"):
        assert option in helped.stdout, option
    version = _run(sandbox_alone / "klaviyo-sandbox", "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"klaviyo-sandbox {SANDBOX_VERSION}"
    python = sandbox_alone / "python"
    _run(python, "-c", "import klaviyo_sandbox", cwd=tmp_path)
    # Its dependencies came with it: the app builds and the limits table is there.
    _run(
        python,
        "-c",
        "from klaviyo_sandbox import SandboxConfig, create_app; create_app(SandboxConfig()); "
        "from klaviyo_sandbox.limits import LIMITS; assert LIMITS['create_profile'].burst == 75",
        cwd=tmp_path,
    )
    missing = _run(python, "-c", "import klaviyo_sync", cwd=tmp_path, check=False)
    assert missing.returncode == 1
    assert "No module named 'klaviyo_sync'" in missing.stderr


OUTSIDE_TEST = """
import json
import urllib.request


def test_a_profile_is_created(klaviyo_sandbox):
    body = {"data": {"type": "profile", "attributes": {"email": "ada@example.com"}}}
    headers = dict(klaviyo_sandbox.headers(), **{"Content-Type": "application/vnd.api+json"})
    request = urllib.request.Request(
        klaviyo_sandbox.base_url + "/api/profiles",
        data=json.dumps(body).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
        created = json.loads(answer.read())["data"]
    [sent] = klaviyo_sandbox.requests(operation_id="create_profile")
    assert sent["status"] == 201
    assert [p["id"] for p in klaviyo_sandbox.profiles()] == [created["id"]]


def test_the_next_test_starts_empty(klaviyo_sandbox):
    assert klaviyo_sandbox.profiles() == []
"""


def test_another_projects_test_uses_the_fixture(sandbox_alone: Path, tmp_path: Path) -> None:
    """A test of some other project, in a folder of its own, with only klaviyo-sandbox and
    pytest installed: the fixture comes from the plugin, the calls are plain urllib."""
    (tmp_path / "test_outside.py").write_text(OUTSIDE_TEST)
    done = _run(
        sandbox_alone / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path
    )
    assert "2 passed" in done.stdout, done.stdout


def test_the_sandbox_extra_takes_the_folders_wheel(
    wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """`pip install ./klaviyo-sandbox './klaviyo-sync[sandbox]'`, with wheels: the extra is
    met by the local klaviyo-sandbox, and the demo runs against it."""
    sync = wheels["klaviyo-sync"]
    both = _venv(tmp_path_factory, wheels["klaviyo-sandbox"], f"{sync}[sandbox]")
    demo = _run(both / "klaviyo-sync", "demo", cwd=tmp_path)
    assert "Klaviyo sandbox on http://127.0.0.1:" in demo.stdout
    assert "Profiles in Klaviyo:" in demo.stdout
