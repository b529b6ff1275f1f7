"""The benchmark's tables, in Markdown so they can go into the README as printed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Measured


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _s(value: float) -> str:
    return f"{value:,.1f} s"


def _extrapolated(m: Measured, n: int) -> tuple[float, float]:
    """Wall time and floor of ``m``'s run scaled to ``n`` customers."""
    from .run import rate_limit_floor

    scale = n / m.customers
    floor = rate_limit_floor({op: round(c * scale) for op, c in m.requests.items()})
    efficiency = m.efficiency
    wall = floor / efficiency if efficiency else m.wall * scale
    return wall, floor


def _outcomes(m: Measured) -> str:
    return " · ".join(f"{k} {_n(v)}" for k, v in sorted(m.outcomes.items()))


def _table(title: str, bulk: Measured, per: Measured, n: int) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    per_note = ""
    if per.customers != n:
        wall_n, floor_n = _extrapolated(per, n)
        per_note = f" (extrapolated to {_n(n)}: {_s(wall_n)}, floor {_s(floor_n)})"
    rows.append(("customers", _n(bulk.customers), _n(per.customers)))
    rows.append(("wall time", _s(bulk.wall), _s(per.wall) + per_note))
    rows.append(
        ("customers per second", _n(bulk.customers / bulk.wall), _n(per.customers / per.wall))
    )
    rows.append(("requests", _n(bulk.total), _n(per.total)))
    rows.append(
        ("requests per 1,000 customers", f"{bulk.per_thousand:,.1f}", f"{per.per_thousand:,.1f}")
    )
    rows.append(("write requests", _n(bulk.writes), _n(per.writes)))
    rows.append(
        ("429s received", _n(sum(bulk.throttled.values())), _n(sum(per.throttled.values())))
    )
    rows.append(("rate-limit floor of this mix", _s(bulk.floor), _s(per.floor)))
    rows.append(("efficiency (floor ÷ wall)", _ratio(bulk.efficiency), _ratio(per.efficiency)))
    rows.append(
        ("peak RSS of the engine", f"{bulk.peak_rss_mb:,.0f} MB", f"{per.peak_rss_mb:,.0f} MB")
    )
    rows.append(("outcomes", _outcomes(bulk), _outcomes(per)))
    for op in sorted(set(bulk.requests) | set(per.requests)):
        rows.append((f"`{op}`", _n(bulk.requests.get(op, 0)), _n(per.requests.get(op, 0))))
    lines = [f"#### {title}", "", "| | bulk | per-record |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append(_comparison(bulk, per))
    return lines


_JOBS = "bulk_import_profiles"
_PER_RECORD = ("create_profile", "update_profile")


def _invalid_emails(clean: Measured, invalid: Measured) -> list[str]:
    """The initial sync beside the same one with one email in 1,000 that Klaviyo refuses."""

    def failures(m: Measured) -> str:
        return " · ".join(f"{k} {_n(v)}" for k, v in sorted(m.failures.items())) or "none"

    def jobs(m: Measured) -> str:
        return f"{_n(m.requests.get(_JOBS, 0))} ({_n(m.refused.get(_JOBS, 0))} refused at submit)"

    def profile_requests(m: Measured) -> str:
        return _n(sum(m.requests.get(op, 0) for op in _PER_RECORD))

    rows = [
        ("customers", _n(clean.customers), _n(invalid.customers)),
        (
            "requests per 1,000 customers",
            f"{clean.per_thousand:,.1f}",
            f"{invalid.per_thousand:,.1f}",
        ),
        ("requests", _n(clean.total), _n(invalid.total)),
        ("bulk import jobs submitted", jobs(clean), jobs(invalid)),
        ("profile requests, one customer each", profile_requests(clean), profile_requests(invalid)),
        ("wall time", _s(clean.wall), _s(invalid.wall)),
        ("outcomes", _outcomes(clean), _outcomes(invalid)),
        ("failures", failures(clean), failures(invalid)),
    ]
    lines = [
        "#### initial sync, 1 row in 1,000 with an invalid email (bulk)",
        "",
        "| | initial sync | 1 in 1,000 invalid emails |",
        "|---|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [
        "",
        "Klaviyo refuses a whole job at submit for one bad row and names every bad row; the "
        "rows it names fail and the rest go again as one job (the generated data's phones "
        "Klaviyo rejects refuse jobs of the initial sync too).",
    ]
    return lines


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _comparison(bulk: Measured, per: Measured) -> str:
    parts = []
    if bulk.per_thousand and per.per_thousand:
        parts.append(f"{per.per_thousand / bulk.per_thousand:,.1f}× fewer requests per customer")
    bulk_rate, per_rate = bulk.customers / bulk.wall, per.customers / per.wall
    if bulk.writes and per.writes:
        parts.append(f"{bulk_rate / per_rate:,.1f}× the customers per second")
    return "Bulk vs per-record in this run: " + (", ".join(parts) or "no writes either way") + "."


def print_report(
    results: dict[str, list[Measured]],
    local: dict[str, Any],
    *,
    n: int,
    per_record_n: int,
    machine: str,
) -> None:
    from .run import SCENARIOS

    out = [f"### Benchmark: {_n(n)} customers (per-record: {_n(per_record_n)})", ""]
    out.append(f"Machine: {machine}. Sandbox over loopback, published rate limits on.")
    out.append("")
    for index, (title, _) in enumerate(SCENARIOS):
        out += _table(title, results["bulk"][index], results["per-record"][index], n)
        out.append("")
        if index == 0 and results.get("invalid-emails"):
            out += _invalid_emails(results["bulk"][0], results["invalid-emails"][0])
            out.append("")
    out += [
        "#### Local throughput (one core, Klaviyo out of the picture)",
        "",
        "| stage | customers per second |",
        "|---|---:|",
        f"| mapping + phone normalization + fingerprint | {_n(local['map_per_s'])} |",
        f"| JSON parsing + customer model | {_n(local['parse_per_s'])} |",
        f"| both | {_n(local['both_per_s'])} |",
        "",
        f"({_n(local['customers'])} customers.)",
        "",
    ]
    out += _targets(results, local, n)
    print("\n".join(out))


def _targets(results: dict[str, list[Measured]], local: dict[str, Any], n: int) -> list[str]:
    initial, unchanged, _, everything = results["bulk"]
    rows = [
        (
            "initial sync ≤ 30 requests per 1,000",
            f"{initial.per_thousand:.1f}",
            initial.per_thousand <= 30,
        ),
        (
            "resync, all changed ≤ 15 per 1,000",
            f"{everything.per_thousand:.1f}",
            everything.per_thousand <= 15,
        ),
        ("nothing changed: 0 write requests", _n(unchanged.writes), unchanged.writes == 0),
        (
            "efficiency ≥ 0.8 (initial sync; the target is for N = 100,000)",
            _ratio(initial.efficiency),
            (initial.efficiency or 0) >= 0.8,
        ),
        ("local throughput ≥ 25,000/s", _n(local["map_per_s"]), local["map_per_s"] >= 25_000),
        (
            "peak RSS ≤ 300 MB",
            f"{max(m.peak_rss_mb for m in results['bulk']):,.0f} MB",
            max(m.peak_rss_mb for m in results["bulk"]) <= 300,
        ),
    ]
    invalid = results.get("invalid-emails")
    if invalid:
        rows.insert(
            1,
            (
                "initial sync, 1 in 1,000 invalid emails ≤ 30 requests per 1,000",
                f"{invalid[0].per_thousand:.1f}",
                invalid[0].per_thousand <= 30,
            ),
        )
    lines = [
        f"#### Targets at N = {_n(n)} (bulk)",
        "",
        "| target | measured | met |",
        "|---|---:|:-:|",
    ]
    lines += [f"| {a} | {b} | {'yes' if ok else 'no'} |" for a, b, ok in rows]
    if unchanged.writes:
        failed = unchanged.outcomes.get("failed", 0)
        lines += [
            "",
            f"Every write of the nothing-changed resync retries one of the {_n(failed)} "
            "customers whose previous transfer failed (a failed customer keeps no fingerprint, "
            "so each run tries it again); unchanged customers cost no request.",
        ]
    return lines
