"""The README's signing examples work: each one, run as written (only the address changed),
gets its event queued by a real server, with a secret made by the README's own command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from klaviyo_sync.store import Store
from klaviyo_sync.web import WEBHOOK_PATH, create_app

from .conftest import settings
from .test_loopback import serving

README = (Path(__file__).parents[2] / "README.md").read_text()
DOCUMENTED_URL = f"http://127.0.0.1:8080{WEBHOOK_PATH}"


def _section() -> str:
    start = README.index("### Signing webhooks")
    end = README.index("\n## ", start)
    return README[start:end]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), re.S)


@pytest.fixture(scope="module")
def secret() -> str:
    (maker, _curl) = _blocks("sh")
    made = subprocess.run(
        ["sh", "-c", maker.replace("python ", f"{sys.executable} ", 1)],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


@pytest.fixture
def served(store: Store, secret: str) -> Iterator[str]:
    with serving(create_app(settings(secret=secret), store)) as base_url:
        yield f"{base_url}{WEBHOOK_PATH}"


def _receipt(output: str) -> dict[str, object]:
    receipt: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return receipt


def _environment(secret: str) -> dict[str, str]:
    return {**os.environ, "KLAVIYO_SYNC_WEBHOOK_SECRET": secret}


def test_the_secret_maker_makes_a_whsec_secret(secret: str) -> None:
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)


@pytest.mark.parametrize("which", ["standardwebhooks", "standard library"])
def test_the_python_examples_get_their_event_queued(
    served: str, secret: str, store: Store, which: str
) -> None:
    examples = _blocks("python")
    assert len(examples) == 2
    code = examples[0 if which == "standardwebhooks" else 1]
    assert DOCUMENTED_URL in code

    ran = subprocess.run(
        [sys.executable, "-c", code.replace(DOCUMENTED_URL, served)],
        env=_environment(secret),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert ran.returncode == 0, ran.stderr
    assert _receipt(ran.stdout)["status"] == "queued"
    assert store.queue_depth() == 1


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("openssl", "curl", "base64", "od")),
    reason="the shell example needs openssl, curl, base64 and od",
)
def test_the_shell_example_gets_its_event_queued(served: str, secret: str, store: Store) -> None:
    (_maker, script) = _blocks("sh")
    assert DOCUMENTED_URL in script

    ran = subprocess.run(
        ["bash", "-c", script.replace(DOCUMENTED_URL, served)],
        env=_environment(secret),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert ran.returncode == 0, ran.stderr
    assert _receipt(ran.stdout)["status"] == "queued"
    assert store.queue_depth() == 1
