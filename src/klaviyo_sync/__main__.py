"""``python -m klaviyo_sync``: the same as the ``klaviyo-sync`` command."""

from __future__ import annotations

from .cli import main

main()
