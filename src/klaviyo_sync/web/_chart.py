"""The overview's chart: outcomes per hour (or day), stacked by kind, drawn by the server.

Pure functions: runs in, buckets out (:func:`bucket_runs`), then buckets in, SVG geometry out
(:func:`layout`). The template draws the shapes; there is no chart library and no CDN, because
the machine serving the dashboard may be offline. A run counts in the bucket it started in: a
long backfill shows up as one tall bar at its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from ..store import RunRecord
from ._monitor_models import OUTCOME_KINDS, Chart, ChartBucket

__all__ = ["RANGES", "ChartLayout", "Range", "bucket_runs", "layout", "window_start"]

Range = Literal["24h", "14d"]
# range → (unit, buckets)
RANGES: dict[Range, tuple[Literal["hour", "day"], int]] = {"24h": ("hour", 24), "14d": ("day", 14)}

WIDTH = 720
HEIGHT = 240
_LEFT = 44  # room for the y-axis figures
_BOTTOM = 24  # room for the time labels
_TOP = 8
_GAP = 0.2  # share of a slot left empty between bars


def _floor(moment: datetime, unit: Literal["hour", "day"]) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def _step(unit: Literal["hour", "day"]) -> timedelta:
    return timedelta(days=1) if unit == "day" else timedelta(hours=1)


def window_start(now: datetime, span: Range) -> datetime:
    """The start of the chart's first bucket."""
    unit, count = RANGES[span]
    return _floor(now, unit) - _step(unit) * (count - 1)


def bucket_runs(
    runs: Iterable[RunRecord], *, now: datetime, span: Range, complete: bool = True
) -> Chart:
    """Sum each run's counts into the bucket of its start; runs outside the window are ignored.

    ``complete`` is passed through: the caller knows whether it read every run in the window.
    """
    unit, count = RANGES[span]
    first = window_start(now, span)
    step = _step(unit)
    buckets = [ChartBucket(start=first + step * i, counts={}) for i in range(count)]
    counted = 0
    for run in runs:
        index = int((_floor(run.started_at, unit) - first) / step)
        if not 0 <= index < count or not run.counts:
            continue
        counted += 1
        counts = buckets[index].counts
        for kind, n in run.counts.items():
            counts[kind] = counts.get(kind, 0) + n
    return Chart(unit=unit, buckets=buckets, runs_counted=counted, complete=complete)


@dataclass(slots=True, frozen=True)
class Segment:
    """One kind's share of one bar."""

    x: float
    y: float
    width: float
    height: float
    kind: str
    title: str


@dataclass(slots=True, frozen=True)
class Tick:
    position: float
    label: str


@dataclass(slots=True)
class ChartLayout:
    """Everything the SVG needs, in its own coordinates (``WIDTH`` × ``HEIGHT``)."""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    baseline: float = HEIGHT - _BOTTOM
    segments: list[Segment] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    """the kinds that occur, in legend order"""
    total: int = 0


def _nice_max(value: int) -> int:
    """The smallest of 2, 4, 10 × 10ⁿ at or above ``value``: its half, the middle tick, is a
    whole number too (counts of customers have no halves)."""
    magnitude = 1
    while True:
        for factor in (2, 4, 10):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10


def _kinds(chart: Chart) -> list[str]:
    seen = {kind for bucket in chart.buckets for kind, n in bucket.counts.items() if n}
    known = [kind for kind in OUTCOME_KINDS if kind in seen]
    return known + sorted(seen - set(known))


def _label(moment: datetime, unit: Literal["hour", "day"]) -> str:
    return moment.strftime("%d %b") if unit == "day" else moment.strftime("%H:%M")


def layout(chart: Chart) -> ChartLayout:
    """Stacked bars, a y axis at round figures and a time label every few bars."""
    result = ChartLayout(kinds=_kinds(chart))
    heights = [sum(b.counts.values()) for b in chart.buckets]
    result.total = sum(heights)
    top = _nice_max(max(heights, default=0))
    plot_height = result.baseline - _TOP
    slot = (WIDTH - _LEFT) / max(len(chart.buckets), 1)
    scale = plot_height / top
    for value in (0, top // 2, top):
        result.y_ticks.append(Tick(result.baseline - value * scale, f"{value:,}"))
    every = max(1, len(chart.buckets) // 6)
    for i, bucket in enumerate(chart.buckets):
        x = _LEFT + i * slot
        if i % every == 0:
            result.x_ticks.append(Tick(x + slot / 2, _label(bucket.start, chart.unit)))
        y = result.baseline
        for kind in result.kinds:
            n = bucket.counts.get(kind, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            title = f"{_label(bucket.start, chart.unit)}: {n:,} {kind.replace('_', ' ')}"
            result.segments.append(
                Segment(x + slot * _GAP / 2, y, slot * (1 - _GAP), height, kind, title)
            )
    return result
