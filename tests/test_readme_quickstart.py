"""The README's Quick start, typed as a newcomer types it: its commands are read from the
README itself (so the two cannot drift), run in a shell in an empty folder against a fresh
`klaviyo-sync sandbox` over loopback, and held to what the README says they do.

The one change made to them: the sandbox's port, 8765 in the README, is a free one here, so
that the test can run beside anything else on the machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Runs the README's Quick start in a shell, command by command.
pytestmark = pytest.mark.slow

README = (Path(__file__).parents[1] / "README.md").read_text()
BIN = Path(sys.executable).parent
MARK = "::quickstart-exit::"


def quick_start_blocks() -> list[str]:
    """The ```sh blocks of the README's Quick start section, up to its account part."""
    section = README.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    section = section.split("**Against your Klaviyo account**", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@dataclass
class Step:
    command: str
    status: int
    output: str


@dataclass
class QuickStart:
    steps: list[Step]
    base_url: str
    folder: Path

    def step(self, starting: str) -> Step:
        [found] = [s for s in self.steps if s.command.startswith(starting)]
        return found

    def admin(self, path: str = "") -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/__sandbox__{path}", timeout=5) as answer:
            found: dict[str, Any] = json.loads(answer.read())
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(folder: Path) -> dict[str, str]:
    """A newcomer's shell: the installed `klaviyo-sync` on PATH, no settings of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(folder)
    env["COLUMNS"] = "100"
    return env


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickStart]:
    """Run both terminals of the Quick start; yield each command's status and output, with
    the sandbox still running and the folder the commands ran in, for the assertions."""
    sandbox_block, commands_block = quick_start_blocks()
    port = str(_free_port())
    folder = tmp_path_factory.mktemp("quickstart")
    env = _environment(folder)
    [sandbox_line] = [line for line in sandbox_block.splitlines() if line.strip()]
    sandbox = subprocess.Popen(
        f"{sandbox_line} --port {port}",
        shell=True,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base_url)
        steps = _run_lines(commands_block.replace("8765", port), folder, env)
        yield QuickStart(steps, base_url, folder)
    finally:
        os.killpg(sandbox.pid, signal.SIGTERM)
        sandbox.wait(timeout=30)


def _wait_for(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/__sandbox__", timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _run_lines(block: str, folder: Path, env: dict[str, str]) -> list[Step]:
    """Each line of ``block`` in one shell, as typed (so `export` carries on), with its exit
    status and output."""
    lines = [line for line in block.splitlines() if line.strip()]
    script = "".join(f'{line}\necho "{MARK}$?"\n' for line in lines)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    parts = re.split(rf"{re.escape(MARK)}(\d+)\n", done.stdout)
    outputs, statuses = parts[0::2], [int(s) for s in parts[1::2]]
    assert len(statuses) == len(lines), (done.stdout, done.stderr)
    runs = zip(lines, statuses, outputs[: len(lines)], strict=True)
    return [Step(line, status, out) for line, status, out in runs]


def test_the_readme_has_the_two_terminals() -> None:
    sandbox_block, commands_block = quick_start_blocks()
    assert sandbox_block.strip() == "klaviyo-sync sandbox"
    assert "KLAVIYO_BASE_URL=http://127.0.0.1:8765" in commands_block


def test_every_command_exits_0(quick_start: QuickStart) -> None:
    for step in quick_start.steps:
        assert step.status == 0, f"{step.command!r} exited {step.status}:\n{step.output}"
    commands = [s.command.split()[1] for s in quick_start.steps if s.command.startswith("klaviyo")]
    assert commands == ["example", "create-lists", "check", "plan", "sync", "sync-one", "audit"]


def test_create_lists_makes_the_templates_lists(quick_start: QuickStart) -> None:
    output = quick_start.step("klaviyo-sync create-lists").output
    assert "created 'Sms Subscribers' (double opt in)" in output
    assert "created 'Preview List' (single opt in)" in output
    assert quick_start.admin()["lists"] == 2


def test_plan_shows_nine_creates_and_two_failures(quick_start: QuickStart) -> None:
    output = quick_start.step("klaviyo-sync plan").output
    assert re.search(r"create a new profile\s*│\s*9 │", output), output
    assert re.search(r"would fail: nothing sent\s*│\s*2 │", output), output
    assert "no_identifier 1" in output
    assert "invalid_record 1" in output


WITH_IDENTIFIER = ["1002", "1003", "1004", "1006", "1007", "1008", "1009", "1010", "55260"]


def test_sync_creates_every_customer_with_an_identifier(quick_start: QuickStart) -> None:
    output = quick_start.step("klaviyo-sync sync customers.jsonl").output
    assert re.search(r"created\s*│\s*9 │", output), output
    assert re.search(r"failed\s*│\s*2 │", output), output
    assert "no_identifier" in output
    assert "invalid_record" in output
    profiles = quick_start.admin("/profiles")["data"]
    assert sorted(p["external_id"] for p in profiles) == sorted(WITH_IDENTIFIER)


def test_the_store_links_them_in_the_folder(quick_start: QuickStart) -> None:
    store = quick_start.folder / "klaviyo-sync.db"
    with sqlite3.connect(store) as db:
        linked = sorted(row[0] for row in db.execute("SELECT customer_id FROM links"))
        open_kinds = sorted(
            row[0] for row in db.execute("SELECT kind FROM failures WHERE resolved_at IS NULL")
        )
    assert linked == sorted(WITH_IDENTIFIER)
    assert open_kinds == ["invalid_record", "no_identifier", "phone_rejected"]


def test_sync_one_reads_the_configured_source(quick_start: QuickStart) -> None:
    output = quick_start.step("klaviyo-sync sync-one 55260").output
    assert "route" in output
    assert '"external_id": "55260"' in output


def test_the_audit_records_only_what_happened(quick_start: QuickStart) -> None:
    """Nothing is confirmed yet: the double opt-in list and the subscriptions are pending, and
    the Manual Sync of an unchanged customer changed nothing, so it added nothing."""
    audit = " ".join(quick_start.step("klaviyo-sync audit").output.split())
    assert "unknown → consent email sent (joins when confirmed)" in audit
    assert "new → consent email sent (subscribed when confirmed)" in audit
    with sqlite3.connect(quick_start.folder / "klaviyo-sync.db") as db:
        entries = list(db.execute("SELECT run_id, row, before, after FROM audit"))
    assert entries
    assert all(before != after for _, _, before, after in entries)
    double_opt_in = [(b, a) for _, row, b, a in entries if row == "LIST_Sms Subscribers"]
    assert double_opt_in
    assert all("member" not in (b + a) for b, a in double_opt_in)
    assert {run for run, *_ in entries} == {1}, "sync-one (run 2) changed no consent"
