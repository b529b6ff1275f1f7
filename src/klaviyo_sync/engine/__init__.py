"""The sync engine: planner (reads), writer (writes), and runs that tie them to the store;
plans (what a run would do) and the guardrails that refuse a harmful run."""

from __future__ import annotations

from ._diff import Before, ConsentChange, Diff, FieldChange, ListChange
from ._guard import WORKER_ADVICE, WORKER_WINDOW, Guard, Guardrails, Tally
from ._plan import BatchPlan, BatchResult, Planned, Route
from ._preview import CHANGES, ROUTES, PlanEntry, PlanReport, PlanRoute
from ._run import Engine, EngineOptions, RunSummary

__all__ = [
    "CHANGES",
    "ROUTES",
    "WORKER_ADVICE",
    "WORKER_WINDOW",
    "BatchPlan",
    "BatchResult",
    "Before",
    "ConsentChange",
    "Diff",
    "Engine",
    "EngineOptions",
    "FieldChange",
    "Guard",
    "Guardrails",
    "ListChange",
    "PlanEntry",
    "PlanReport",
    "PlanRoute",
    "Planned",
    "Route",
    "RunSummary",
    "Tally",
]
