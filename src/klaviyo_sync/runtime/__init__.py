"""The long-running processes: ``serve`` (the web app and an in-process worker) and the workers
that drain the queue of triggered customers through the engine.

Above the web app and the operations, below the command line.
"""

from __future__ import annotations

from .service import run_workers, serve, shown_store
from .worker import Worker, WorkerOptions

__all__ = ["Worker", "WorkerOptions", "run_workers", "serve", "shown_store"]
