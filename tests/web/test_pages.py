"""The dashboard's pages without JavaScript: each renders, is labelled and escaped, and every
form works as a plain post (retry, resolve, Manual Sync, link search, sign out)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from .dashboard import BAD_PHONE, GOOD_PHONE, Dashboard, customer


class Controls(HTMLParser):
    """Form controls, labels and ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []
        self.viewport = False
        self.skip_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append(found)
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))
        if tag == "meta" and found.get("name") == "viewport":
            self.viewport = True
        if tag == "a" and found.get("href") == "#main":
            self.skip_link = True

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            c
            for c in self.controls
            if c.get("id") not in self.label_for and not c.get("aria-label")
        ]


def parsed(html: str) -> Controls:
    controls = Controls()
    controls.feed(html)
    return controls


async def every_page(dashboard: Dashboard) -> dict[str, httpx.Response]:
    failure_id = await dashboard.fail("c1")
    await dashboard.world.sync(customer("2"))
    pages = {
        "overview": "/",
        "overview daily": "/?range=14d",
        "error logs": "/failures",
        "error logs filtered": "/failures?kind=phone_rejected&text=c1&include_resolved=true",
        "failure": f"/failures/{failure_id}",
        "manual sync": "/sync",
        "links": "/links",
        "links by email": "/links?by=email&q=c2@example.com",
        "runs": "/runs",
        "run": "/runs/1",
        "run filtered": "/runs/1?kind=failed",
    }
    return {name: await dashboard.client.get(path) for name, path in pages.items()}


async def test_every_page_renders_labelled_with_a_viewport_and_a_skip_link(
    dashboard: Dashboard,
) -> None:
    await dashboard.sign_in()

    for name, page in (await every_page(dashboard)).items():
        assert page.status_code == 200, name
        found = parsed(page.text)
        assert found.viewport, name
        assert found.skip_link, name
        assert "main" in found.ids, name
        assert found.unlabelled() == [], name
        assert len(found.ids) == len(set(found.ids)), f"{name}: duplicate ids"
        assert "<script>" not in page.text, f"{name}: no inline script (the CSP forbids it)"
        assert " style=" not in page.text, f"{name}: no inline style (the CSP forbids it)"


async def test_pages_are_sent_with_a_strict_content_security_policy(
    dashboard: Dashboard,
) -> None:
    login = await dashboard.client.get("/login?next=/")
    await dashboard.sign_in()
    page = await dashboard.client.get("/")

    for answer in (page, login):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


async def test_the_page_assets_are_served_from_the_app_itself(dashboard: Dashboard) -> None:
    css = await dashboard.client.get("/static/dashboard.css")
    js = await dashboard.client.get("/static/dashboard.js")
    await dashboard.sign_in()
    html = (await dashboard.client.get("/")).text

    assert css.status_code == js.status_code == 200
    assert ":focus-visible" in css.text
    assert "@media (max-width" in css.text
    assert "X-CSRF-Token" in js.text
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing from another host"
    assert "<svg" in html, "the chart is drawn by the server"


async def test_what_customers_and_klaviyo_send_is_escaped(dashboard: Dashboard) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    dashboard.set_customer(customer(hostile, Phone=BAD_PHONE, FirstName=hostile))
    await dashboard.world.sync(dashboard.customers[hostile])
    await dashboard.sign_in()
    [failure] = dashboard.store.list_failures()

    pages = [
        await dashboard.client.get("/failures"),
        await dashboard.client.get(f"/failures/{failure.id}"),
        await dashboard.client.get("/"),
    ]

    for page in pages:
        assert hostile not in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


async def test_a_missing_failure_or_a_bad_filter_is_an_html_page(dashboard: Dashboard) -> None:
    await dashboard.sign_in()

    missing = await dashboard.client.get("/failures/987654")
    bad_kind = await dashboard.client.get("/failures?kind=<b>")
    bad_range = await dashboard.client.get("/?range=1y")

    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "there is no failure 987654" in missing.text
    assert bad_kind.status_code == bad_range.status_code == 400  # a bad request, for a browser
    assert "&lt;b&gt;" in bad_kind.text
    assert "<b>" not in bad_kind.text.split("<main", 1)[1]


async def test_the_error_log_pages_through_with_links_that_keep_the_filter(
    dashboard: Dashboard,
) -> None:
    for n in range(5):
        await dashboard.fail(f"zoe{n}")
    await dashboard.sign_in()

    first = await dashboard.client.get("/failures?kind=phone_rejected&limit=2")
    second = await dashboard.client.get("/failures?kind=phone_rejected&limit=2&offset=2")
    last = await dashboard.client.get("/failures?kind=phone_rejected&limit=2&offset=4")

    assert "1–2 of 5 open failures" in first.text
    assert 'href="/failures?kind=phone_rejected&amp;limit=2&amp;offset=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    assert "3–4 of 5 open failures" in second.text
    assert 'href="/failures?kind=phone_rejected&amp;limit=2" rel="prev"' in second.text
    assert "5–5 of 5 open failures" in last.text
    assert 'rel="next"' not in last.text


async def test_retry_selected_without_javascript_shows_a_results_page(
    dashboard: Dashboard,
) -> None:
    fixed, broken = await dashboard.fail("c1"), await dashboard.fail("c2")
    dashboard.set_customer(customer("c1", Phone=GOOD_PHONE))
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post(
        "/failures/retry",
        data={"csrf_token": csrf, "id": [str(fixed), str(broken)], "back": "/failures"},
    )

    assert answer.status_code == 200
    assert "1 resolved, 1 failed again, 0 not retried; 1 still open." in answer.text
    assert '<p class="notice error" role="status">' in answer.text
    # The retry's result, and beside it the failure's own state (one of the error log's).
    assert '<span class="retry retry-resolved">resolved</span>' in answer.text
    assert '<span class="retry retry-failed">failed again</span>' in answer.text
    assert f'data-state-of="{fixed}">resolved<' in answer.text
    assert f'data-state-of="{broken}">open<' in answer.text
    assert '<a href="/failures">Back</a>' in answer.text


async def test_a_retry_not_performed_is_a_warning_with_its_reason_not_a_success(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")
    await dashboard.api("POST", f"/api/failures/{failure_id}/resolve", json={"note": "by hand"})
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post(
        "/failures/retry", data={"csrf_token": csrf, "id": str(failure_id), "back": "/failures"}
    )

    assert answer.status_code == 200
    assert "0 resolved, 0 failed again, 1 not retried; 0 still open." in answer.text
    assert '<p class="notice warn" role="status">' in answer.text
    assert "notice good" not in answer.text
    assert '<span class="retry retry-not_retried">not retried</span>' in answer.text
    assert "not retried: already resolved" in answer.text
    assert f'data-state-of="{failure_id}">resolved<' in answer.text


async def test_a_retry_with_the_record_kept_shows_its_note(dashboard: Dashboard) -> None:
    failure_id = await dashboard.fail("c1")
    dashboard.customers.clear()
    dashboard.set_customer(customer("someone-else"))  # c1 has left the source since
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post(
        "/failures/retry", data={"csrf_token": csrf, "id": str(failure_id), "back": "/failures"}
    )

    assert answer.status_code == 200
    assert "0 resolved, 1 failed again, 0 not retried" in answer.text, "the kept record ran"
    note = re.search(r'<span class="retry-note">Note: ([^<]*)</span>', answer.text)
    assert note is not None, "the note is shown with the result"
    assert note.group(1).startswith("not in ")
    assert note.group(1).endswith("customers.jsonl: retried with the record kept with the failure")


async def test_retry_all_of_a_kind_without_javascript(dashboard: Dashboard) -> None:
    await dashboard.fail("c1")
    dashboard.set_customer(customer("c1", Phone=GOOD_PHONE))
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post(
        "/failures/retry", data={"csrf_token": csrf, "all": "1", "kind": "phone_rejected"}
    )
    nothing = await dashboard.client.post("/failures/retry", data={"csrf_token": csrf})

    assert "1 resolved, 0 failed again" in answer.text
    assert nothing.status_code == 422
    assert "select at least one failure" in nothing.text


async def test_resolve_without_javascript_returns_to_the_resolved_failure(
    dashboard: Dashboard,
) -> None:
    failure_id = await dashboard.fail("c1")
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post(
        f"/failures/{failure_id}/resolve", data={"csrf_token": csrf, "note": "fixed in Klaviyo"}
    )
    page = await dashboard.client.get(answer.headers["location"])

    assert answer.status_code == 303
    assert "resolved</span>" in page.text
    assert "fixed in Klaviyo" in page.text
    assert "Retry now" not in page.text


async def test_manual_sync_form_shows_route_payload_and_profile(dashboard: Dashboard) -> None:
    dashboard.set_customer(customer("55260", FirstName="Ada"))
    csrf = await dashboard.sign_in()

    answer = await dashboard.client.post("/sync", data={"csrf_token": csrf, "customer_id": "55260"})
    again = await dashboard.client.post("/sync", data={"csrf_token": csrf, "customer_id": "55260"})
    unknown = await dashboard.client.post("/sync", data={"csrf_token": csrf, "customer_id": "1"})
    empty = await dashboard.client.post("/sync", data={"csrf_token": csrf, "customer_id": " "})

    profile = dashboard.world.by_email("c55260@example.com")
    assert profile is not None
    assert 'Customer 55260: <span class="badge k-created">created</span>' in answer.text
    assert "create</strong>: created a new profile" in answer.text
    assert f"<code data-profile-id>{profile.id}</code>" in answer.text
    assert "&#34;first_name&#34;: &#34;Ada&#34;" in answer.text
    assert "update</strong>: patched the linked profile" in again.text
    assert unknown.status_code == 404
    assert "customer &#39;1&#39; is not in" in unknown.text
    assert 'value="1"' in unknown.text, "the form keeps the id to correct it"
    assert empty.status_code == 422
    assert "Enter a customer id" in empty.text
    overview = (await dashboard.client.get("/")).text
    assert "2 customers in 2 runs, per hour" in overview, "two Manual Syncs of one customer"


@pytest.mark.parametrize("by", ["customer_id", "email", "profile_id"])
async def test_links_search_form(dashboard: Dashboard, by: str) -> None:
    [outcome] = await dashboard.world.sync(customer("7"))
    await dashboard.sign_in()
    query = {"customer_id": "7", "email": "c7@example.com", "profile_id": outcome.profile_id}[by]

    page = await dashboard.client.get("/links", params={"by": by, "q": query})

    assert page.status_code == 200
    assert f"<code>{outcome.profile_id}</code>" in page.text
    assert "created by a sync" in page.text


def test_counts_of_one_are_singular() -> None:
    from klaviyo_sync.web._pages import _count

    assert _count(1, "customer") == "1 customer"
    assert _count(0, "run") == "0 runs"
    assert _count(12345, "customer") == "12,345 customers"
