"""The overview's chart: runs summed per hour or day, then stacked bars in SVG coordinates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from klaviyo_sync.store import RunRecord
from klaviyo_sync.web._chart import HEIGHT, bucket_runs, layout, window_start

NOW = datetime(2026, 7, 15, 14, 35, tzinfo=UTC)


def run(started: datetime, **counts: int) -> RunRecord:
    return RunRecord(
        id=1, kind="sync", source=None, started_at=started, finished_at=started, counts=counts
    )


def test_runs_are_summed_into_the_hour_they_started() -> None:
    runs = [
        run(NOW, created=2, failed=1),
        run(NOW.replace(minute=0), created=3),
        run(NOW - timedelta(hours=1), updated=4),
        run(NOW - timedelta(hours=23, minutes=35), unchanged=5),  # 15:00 yesterday: first bucket
        run(NOW - timedelta(hours=24), created=100),  # 14:35 yesterday: before the window
        run(NOW, **{}),  # still running: no counts yet
    ]

    chart = bucket_runs(runs, now=NOW, span="24h")

    assert chart.unit == "hour"
    assert len(chart.buckets) == 24
    assert chart.buckets[0].start == datetime(2026, 7, 14, 15, tzinfo=UTC)
    assert chart.buckets[-1].start == datetime(2026, 7, 15, 14, tzinfo=UTC)
    assert chart.buckets[-1].counts == {"created": 5, "failed": 1}
    assert chart.buckets[-2].counts == {"updated": 4}
    assert chart.buckets[0].counts == {"unchanged": 5}
    assert chart.runs_counted == 4
    assert chart.complete


def test_fourteen_days_are_summed_per_day() -> None:
    chart = bucket_runs(
        [run(NOW, created=1), run(NOW - timedelta(days=13), failed=2)],
        now=NOW,
        span="14d",
        complete=False,
    )

    assert chart.unit == "day"
    assert chart.buckets[0].start == window_start(NOW, "14d") == datetime(2026, 7, 2, tzinfo=UTC)
    assert (chart.buckets[0].counts, chart.buckets[-1].counts) == ({"failed": 2}, {"created": 1})
    assert not chart.complete


def test_bars_stack_each_kind_in_legend_order_to_a_round_top() -> None:
    chart = bucket_runs(
        [run(NOW, failed=3, created=5), run(NOW - timedelta(hours=2), updated=2)],
        now=NOW,
        span="24h",
    )

    drawn = layout(chart)

    assert drawn.kinds == ["created", "updated", "failed"]
    assert drawn.total == 10
    assert [t.label for t in drawn.y_ticks] == ["0", "5", "10"]
    assert all(t.label.isdigit() for t in drawn.y_ticks)
    created, failed = [s for s in drawn.segments if s.title.startswith("14:00")]
    assert created.kind == "created"
    assert failed.kind == "failed"
    assert created.y + created.height == pytest.approx(drawn.baseline), "the first sits on the axis"
    assert failed.y + failed.height == pytest.approx(created.y), "the next sits on top of it"
    assert created.height / failed.height == pytest.approx(5 / 3)
    assert failed.title == "14:00: 3 failed"
    [updated] = [s for s in drawn.segments if s.kind == "updated"]
    assert updated.x < created.x
    assert all(s.y >= 0 and s.y + s.height <= HEIGHT for s in drawn.segments)
    assert [t.label for t in drawn.x_ticks][:2] == ["15:00", "19:00"]


def test_an_empty_chart_has_axes_and_no_bars() -> None:
    drawn = layout(bucket_runs([], now=NOW, span="24h"))

    assert drawn.segments == []
    assert drawn.total == 0
    assert [t.label for t in drawn.y_ticks] == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 2), (1, 2), (3, 4), (5, 10), (10, 10), (11, 20), (4001, 10000)]
)
def test_the_axis_ends_at_two_four_or_ten_times_a_power_of_ten(value: int, top: int) -> None:
    chart = bucket_runs([run(NOW, created=value)] if value else [], now=NOW, span="24h")

    assert layout(chart).y_ticks[-1].label == f"{top:,}"
