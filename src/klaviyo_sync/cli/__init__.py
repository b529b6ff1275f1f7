"""The command line: ``klaviyo-sync`` and its commands (``commands``), and how runs, plans,
failures and the audit print (``report``, ``plan_view``); the narrated demo (``demo``).

The top layer: it calls the operations, the runtime and the web app, and nothing below calls it.
"""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
