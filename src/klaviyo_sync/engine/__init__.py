"""The sync engine: planner (reads), writer (writes), and runs that tie them to the store."""

from __future__ import annotations

from ._plan import BatchPlan, BatchResult, Planned, Route
from ._run import Engine, EngineOptions, RunSummary

__all__ = [
    "BatchPlan",
    "BatchResult",
    "Engine",
    "EngineOptions",
    "Planned",
    "Route",
    "RunSummary",
]
