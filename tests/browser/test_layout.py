"""The dashboard's layout in headless Chromium, at desktop (1280 px) and phone (390 px) width: the
chart opens at the current hour, the Runs table fits with every outcome badge whole, the
resolution note is wider than its text, the favicon is there, and a retry that was not
performed is a warning, not a success."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from klaviyo_sync.store import Store

from .conftest import DESKTOP, PHONE, SCREENSHOTS, TOKEN, Served, playwright_api
from .test_dashboard import customer, failed_transfer, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect

Shoot = Callable[[Any, str], Path]
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
EVERY_OUTCOME = {
    "created": 12_345,
    "updated": 23_456,
    "matched_email": 3_456,
    "matched_phone": 456,
    "unchanged": 98_765,
    "conflict": 12,
    "failed": 1_234,
}
LONG_SOURCE = (
    "postgresql+psycopg://reports:***@warehouse-replica-02.internal.example.com:5432/"
    "crm_customers_export"
)


def post(served: Served, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(
        served.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


def synced_this_hour(served: Served, customer_id: str) -> None:
    """A Manual Sync now, so the chart's newest bar (the current hour) has something in it."""
    served.set_customer(customer(customer_id))
    for _ in range(2):  # twice at most: once more if the hour turned in between
        post(served, "/api/sync", {"customer_id": customer_id})
        if served.api("/api/overview")["chart"]["buckets"][-1]["counts"]:
            return
    raise AssertionError("the current hour's bucket stays empty after a Manual Sync")


def chart_geometry(page: Page) -> dict[str, Any]:
    """Where the plot's visible box is, where the drawing is, and the newest bar's segments."""
    found: dict[str, Any] = page.evaluate(
        """() => {
            const plot = document.querySelector('.plot');
            const svg = plot.querySelector('svg');
            const box = plot.getBoundingClientRect();
            const left = box.left + plot.clientLeft;
            const visible = {left: left, right: left + plot.clientWidth};
            const rects = [...svg.querySelectorAll('rect')];
            const newestX = Math.max(...rects.map(r => r.x.baseVal.value));
            const newest = rects
                .filter(r => r.x.baseVal.value === newestX)
                .map(r => r.getBoundingClientRect())
                .map(b => ({left: b.left, right: b.right, width: b.width}));
            const s = svg.getBoundingClientRect();
            return {
                visible: visible,
                svg: {left: s.left, right: s.right},
                scrolls: plot.scrollWidth > plot.clientWidth,
                newest: newest,
                newestTitle: rects.find(r => r.x.baseVal.value === newestX)
                    .querySelector('title').textContent,
            };
        }"""
    )
    return found


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_chart_opens_at_the_current_hour(
    served: Served, browser: BrowserContext, shoot: Shoot, width: str
) -> None:
    synced_this_hour(served, f"7100{len(width)}")
    newest_bucket = served.api("/api/overview")["chart"]["buckets"][-1]["start"]
    hour = newest_bucket[11:16]  # "2026-12-03T19:00:00Z" → "19:00", as the bars' titles
    page = browser.new_page()
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, served)

    chart = chart_geometry(page)

    assert chart["newestTitle"].startswith(f"{hour}: "), "the newest bar is the current hour's"
    visible = chart["visible"]
    assert abs(chart["svg"]["right"] - visible["right"]) <= 1, "scrolled to the newest end"
    for bar in chart["newest"]:
        assert bar["width"] > 0
        assert visible["left"] - 0.5 <= bar["left"] <= bar["right"] <= visible["right"] + 0.5
        assert bar["right"] <= WIDTHS[width]["width"], "and on the screen"
    if width == "phone":
        assert chart["scrolls"], "the chart is wider than a phone: the test means something"
    else:
        assert not chart["scrolls"], "a desktop shows the whole chart"
    shoot(page, f"chart-{width}")
    # The chart alone, as the screen shows it (a full-page shot is too small to read it in).
    page.locator("figure.chart").screenshot(path=str(SCREENSHOTS / f"chart-figure-{width}.png"))


def badges_outside_their_box(page: Page) -> list[str]:
    """Outcome badges on the page not wholly inside the visible part of their scroll box (or
    the viewport), described; none is the answer wanted."""
    found: list[str] = page.evaluate(
        """() => {
            const out = [];
            for (const badge of document.querySelectorAll('.scroll .badge')) {
                const box = badge.closest('.scroll');
                const b = badge.getBoundingClientRect();
                const c = box.getBoundingClientRect();
                const left = c.left + box.clientLeft, top = c.top + box.clientTop;
                const inside = b.left >= left - 0.5 && b.right <= left + box.clientWidth + 0.5
                    && b.top >= top - 0.5 && b.bottom <= top + box.clientHeight + 0.5
                    && b.right <= window.innerWidth + 0.5 && b.width > 0;
                if (!inside) out.push(badge.textContent + ' at ' + Math.round(b.left) + '–'
                    + Math.round(b.right) + ' in ' + Math.round(left) + '–'
                    + Math.round(left + box.clientWidth));
            }
            return out;
        }"""
    )
    return found


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_runs_table_fits_and_every_outcome_badge_is_whole(
    served: Served, browser: BrowserContext, shoot: Shoot, width: str
) -> None:
    # The widest row there can be: every outcome, large counts, a long source.
    with Store.open(served.store_url) as store:
        run_id = store.start_run("sync", source=LONG_SOURCE)
        store.finish_run(run_id, EVERY_OUTCOME)
    synced_this_hour(served, "71010")
    page = browser.new_page()
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, served, "/runs")

    sizes = page.evaluate(
        """() => {
            const box = document.querySelector('.scroll');
            const table = box.querySelector('table');
            return {table: table.getBoundingClientRect().width, box: box.clientWidth,
                    scroll: box.scrollWidth, page: document.documentElement.scrollWidth};
        }"""
    )
    row = page.locator("tbody tr", has_text=f"#{run_id}")

    assert sizes["table"] <= sizes["box"] + 1, sizes
    assert sizes["scroll"] <= sizes["box"] + 1, f"nothing to scroll sideways to: {sizes}"
    assert sizes["page"] <= WIDTHS[width]["width"], sizes
    expect(row.locator(".badge")).to_have_count(len(EVERY_OUTCOME))
    expect(row).to_contain_text("98,765")
    assert badges_outside_their_box(page) == []
    shoot(page, f"runs-every-outcome-{width}")

    # The Overview's last runs show the same badges.
    page.goto(served.base_url + "/")
    assert badges_outside_their_box(page) == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_resolution_note_is_wider_than_its_text(
    served: Served, browser: BrowserContext, shoot: Shoot, width: str
) -> None:
    failure_id = failed_transfer(served, f"7102{len(width)}")
    page = browser.new_page()
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, served, f"/failures/{failure_id}")

    note = page.get_by_label("Resolution note")
    expect(note).to_have_value("resolved in the dashboard")
    fits = note.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")

    assert fits["scroll"] <= fits["client"], f"the default text is cut off: {fits}"
    box = note.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= WIDTHS[width]["width"]
    assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
    shoot(page, f"resolution-note-{width}")


def test_the_favicon_answers_without_a_token_and_the_browser_draws_it(
    served: Served, browser: BrowserContext
) -> None:
    anonymous = httpx.get(served.base_url + "/favicon.ico", timeout=10)

    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"].startswith("image/")

    page = browser.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    sign_in(page, served)
    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_attribute("href", "/favicon.ico")
    drawn = page.evaluate(
        """() => new Promise(done => {
            const image = new Image();
            image.onload = () => done(image.naturalWidth);
            image.onerror = () => done(0);
            image.src = document.querySelector('link[rel="icon"]').href;
        })"""
    )

    assert drawn > 0, "the icon is an image the browser can draw (and the CSP lets it load)"
    assert missing == []


def test_a_retry_that_was_not_performed_is_a_warning_not_a_success(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    failure_id = failed_transfer(served, "71030")
    page = browser.new_page()
    sign_in(page, served, f"/failures/{failure_id}")
    # Someone else resolves it while the page is open; then Retry now here.
    post(served, f"/api/failures/{failure_id}/resolve", {"note": "fixed in Klaviyo"})

    page.get_by_role("button", name="Retry now").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text("0 resolved, 0 failed again, 1 not retried")
    expect(status).to_contain_text("not retried: already resolved")
    expect(status).to_have_class("status warn")
    expect(page.locator(f"[data-state-of='{failure_id}']")).to_have_text("resolved")
    expect(page.get_by_role("button", name="Retry now")).to_be_hidden()
    shoot(page, "retry-not-retried-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "retry-not-retried-phone")


def test_a_retry_with_the_record_kept_shows_its_note(
    served: Served, browser: BrowserContext
) -> None:
    failure_id = failed_transfer(served, "71040")
    del served.customers["71040"]
    served.set_customer(customer("71041"))  # 71040 has left the source since
    page = browser.new_page()
    sign_in(page, served, f"/failures/{failure_id}")

    page.get_by_role("button", name="Retry now").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text("0 resolved, 1 failed again, 0 not retried")
    expect(status).to_contain_text("customers.jsonl: retried with the record kept with the failure")
    expect(status).to_have_class("status error")
    expect(page.locator(f"[data-state-of='{failure_id}']")).to_have_text("open")
