"""The pytest plugin: installing klaviyo-sandbox gives every test suite the fixture
``klaviyo_sandbox`` (registered through the ``pytest11`` entry point; nothing to import).

```python
def test_creates_a_profile(klaviyo_sandbox):
    response = httpx.post(
        f"{klaviyo_sandbox.base_url}/api/profiles",
        headers=klaviyo_sandbox.headers(),   # the key, today's revision, JSON:API
        json={"data": {"type": "profile", "attributes": {"email": "ada@example.com"}}},
    )
    assert response.status_code == 201
    [request] = klaviyo_sandbox.requests(operation_id="create_profile")
```

The value is a ``klaviyo_sandbox.testing.LiveSandbox``: ``base_url``, ``api_key``, the admin
surface as methods (``requests()``, ``emails()``, ``confirm()``, ``set_faults()``,
``set_behaviour()``, ``profiles()``, ``lists()``, ``reset()``) and, for Python tests, the
in-process state as ``sandbox``.

One sandbox serves a whole test session on a free loopback port (starting and stopping a server
takes a fifth of a second); it is reset before each test, so every test starts with an empty
account, no faults, and the configured behaviour. What a reset keeps: ids count on, and a
``ManualClock`` keeps its time. To serve a different sandbox, override the session-scoped
fixture ``klaviyo_sandbox_config`` in a ``conftest.py``:

```python
@pytest.fixture(scope="session")
def klaviyo_sandbox_config():
    return SandboxConfig(api_key="pk_mine123", rate_limits=False)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the sandbox is imported only when a test asks for it
    from ._config import SandboxConfig
    from .testing import LiveSandbox

__all__ = ["DEFAULT_API_KEY", "klaviyo_sandbox", "klaviyo_sandbox_config"]

DEFAULT_API_KEY = "pk_klaviyosandbox0000000000000000"
"""the key the fixture's sandbox accepts, unless ``klaviyo_sandbox_config`` names another"""


@pytest.fixture(scope="session")
def klaviyo_sandbox_config() -> SandboxConfig:
    """How the session's sandbox is set up: Klaviyo as it behaves today, its rate limits
    enforced, accepting ``DEFAULT_API_KEY`` only. Override it (session-scoped) to change that."""
    from ._config import SandboxConfig

    return SandboxConfig(api_key=DEFAULT_API_KEY)


@pytest.fixture(scope="session")
def klaviyo_sandbox_server(klaviyo_sandbox_config: SandboxConfig) -> Iterator[LiveSandbox]:
    """The session's sandbox, serving on a free loopback port, never reset by the plugin:
    ask for ``klaviyo_sandbox`` instead, unless a test means to see what earlier tests left."""
    from ._serve import running_sandbox
    from .testing import LiveSandbox

    with running_sandbox(klaviyo_sandbox_config) as running:
        # A sandbox that accepts any key shaped like a private key accepts this one too.
        key = klaviyo_sandbox_config.api_key or DEFAULT_API_KEY
        live = LiveSandbox(running.base_url, key, running.sandbox)
        try:
            yield live
        finally:
            live.close()


@pytest.fixture
def klaviyo_sandbox(klaviyo_sandbox_server: LiveSandbox) -> LiveSandbox:
    """A live sandbox on loopback with a fresh, empty account for this test."""
    assert klaviyo_sandbox_server.sandbox is not None
    klaviyo_sandbox_server.sandbox.reset()
    return klaviyo_sandbox_server
