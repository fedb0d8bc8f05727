"""The officials' report pages in Chromium: sign in through the form, read each page at laptop
(1280 px) and phone (375 px) width, filter with JavaScript off, download a CSV, print (and save a
PDF), and an official refused another district's unit.

One server on a SQLite database of its own, seeded once for the module with a few hundred
responses (the report pages build their tables on every request, so page loads are kept few);
one signed-in analyst context is shared by the page tests. Screenshots and the PDF go to
``tests/output/reports/``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from survey import create_app
from survey.migrations import upgrade
from tests.survey.browser.conftest import LiveServer, served
from tests.survey.conftest import app_config, dispose_engines
from tests.survey.report_province import ANALYST, OFFICIAL, OTHER, OWN, PASSWORD, seed_province

OUTPUT = Path(__file__).parents[2] / "output" / "reports"
NOW = datetime.now(UTC)
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 60_000  # a report page builds its tables per request: seconds on a busy machine

# name, path, what must be visible on it
PAGES = {
    "overview": "/reports/",
    "unit": f"/reports/units/{OWN}",
    "field": "/reports/fields/HO_TICH",
    "par": "/reports/par",
    "method": "/reports/method",
}
FIGURE = re.compile(r"^\d{1,3}\.\d$")
INTERVAL = re.compile(r"^\d{1,3}\.\d–\d{1,3}\.\d$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app (CSRF on) on a SQLite file of this module, with the seeded province."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reports-browser') / 'sipas.db'}"
    assert make_url(url).get_backend_name() == "sqlite"
    upgrade(url)
    app = create_app(app_config(url, WTF_CSRF_ENABLED=True))
    seed_province(app, 300, now=NOW)
    with served(app) as server:
        yield server
    dispose_engines(app)


@pytest.fixture(scope="module")
def output() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def new_context(browser: Any, *, javascript: bool = True, viewport: dict | None = None) -> Any:
    context = browser.new_context(
        viewport=viewport or LAPTOP, java_script_enabled=javascript, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


def sign_in(page: Any, site: LiveServer, username: str, path: str = "/reports/") -> None:
    """Open ``path`` signed out, get sent to the sign-in form, sign in, land back on ``path``."""
    page.goto(f"{site.url}{path}")
    assert "/login?next=" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button.send")
    page.wait_for_url(f"{site.url}{path}")


@pytest.fixture(scope="module")
def analyst(browser: Any, site: LiveServer) -> Iterator[Any]:
    """A laptop-sized Chromium context signed in as the analyst through the form."""
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, site, ANALYST)
    page.close()
    yield context
    context.close()


def watched(context: Any) -> tuple[Any, list[str]]:
    """A new page and the list its console errors and uncaught exceptions are collected in."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0 when it does not scroll sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def shoot(page: Any, output: Path, name: str) -> None:
    path = output / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000


def test_sign_in_through_the_form(browser, site) -> None:
    context = new_context(browser, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{site.url}/reports/par")
        assert "/login?next=" in page.url
        page.fill("#username", ANALYST)
        page.fill("#password", "not the password")
        page.click("button.send")
        assert "/login" in page.url
        assert page.locator(".alert").is_visible()
        page.fill("#username", ANALYST)
        page.fill("#password", PASSWORD)
        page.click("button.send")
        page.wait_for_url(f"{site.url}/reports/par")
        assert page.locator("nav.staffnav").is_visible()
        assert page.locator("h1").is_visible()
        assert overflow(page) <= 0
    finally:
        context.close()


def expect_content(page: Any, name: str) -> None:
    """The page's key content is there and visible: figures with intervals, the design
    sentence, the charts' SVG (the method page: its sections)."""
    assert page.locator("h1").is_visible()
    if name == "method":
        assert page.locator(".prose h2").count() >= 6
        return
    design = page.locator("p.design")
    assert design.is_visible() and "Thiết kế" in design.inner_text()
    assert page.locator("a[href='/reports/method']").first.is_visible()
    estimate = page.locator("table .est").first
    assert estimate.is_visible()
    assert FIGURE.match(estimate.locator("b").inner_text())
    assert INTERVAL.match(estimate.locator(".ci").inner_text())
    if name != "par":
        headline = page.locator(".headline .big .est")
        assert headline.is_visible() and FIGURE.match(headline.locator("b").inner_text())
        charts = page.locator("figure.chart svg")
        assert charts.count() >= 1
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_shows_its_figures_at_laptop_and_phone_width(site, analyst, output, name) -> None:
    page, errors = watched(analyst)
    try:
        response = page.goto(f"{site.url}{PAGES[name]}")
        assert response is not None and response.status == 200
        expect_content(page, name)
        assert overflow(page) <= 0
        shoot(page, output, f"{name}-1280")
        page.set_viewport_size(PHONE)
        assert overflow(page) <= 0, f"{name} scrolls sideways at 375 px"
        # Unit names in a wide table keep a readable width (the table scrolls in its box)...
        names = page.eval_on_selector_all(
            ".scroll th[scope=row]", "cells => cells.map(c => c.getBoundingClientRect().width)"
        )
        assert all(width >= 120 for width in names), names
        # ...and a chart's 18-unit text on its 500-unit view box stays at least 11 px.
        charts = page.eval_on_selector_all(
            "figure.chart svg", "svgs => svgs.map(s => s.getBoundingClientRect().width)"
        )
        assert all(width >= 11 * 500 / 18 for width in charts), charts
        shoot(page, output, f"{name}-375")
        assert errors == []
    finally:
        page.close()


def test_the_filter_form_works_without_javascript(browser, site, output) -> None:
    context = new_context(browser, javascript=False, viewport=PHONE)
    try:
        page, errors = watched(context)
        sign_in(page, site, ANALYST, "/reports/par")
        page.locator("details.filters summary").click()
        form = page.locator("form.filterform")
        assert form.is_visible()
        assert overflow(page) <= 0, "the open filter form scrolls sideways at 375 px"
        shoot(page, output, "filters-375-nojs")
        start = f"{NOW.year - 1}-{NOW.month:02d}"
        form.locator("input[name=from]").fill(start)
        form.locator("select[name=channel]").select_option("counter_qr")
        form.locator("select[name=level]").select_option("0.9")
        form.locator("button[type=submit]").click()
        page.wait_for_url("**/reports/par?**")
        assert f"from={start}" in page.url
        assert "channel=counter_qr" in page.url and "level=0.9" in page.url
        assert "90" in page.locator("p.design").inner_text()
        assert page.locator("details.filters summary").inner_text().count("counter_qr") == 1
        assert errors == []
    finally:
        context.close()


def test_the_csv_download_link(site, analyst, output) -> None:
    page, _errors = watched(analyst)
    try:
        page.goto(f"{site.url}/reports/fields/HO_TICH")
        with page.expect_download() as info:
            page.locator("p.downloads a", has_text="CSV").click()
        download = info.value
        assert download.suggested_filename.endswith(".csv")
        saved = output / download.suggested_filename
        download.save_as(str(saved))
        with saved.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.reader(file))
        header = rows[0]
        assert header[:6] == [
            "field_code",
            "field_name",
            "agency_code",
            "agency_name",
            "level",
            "indicator",
        ]
        assert {"estimate", "ci_low", "ci_high", "n", "suppressed", "rank"} <= set(header)
        assert {row[0] for row in rows[1:]} == {"HO_TICH"}
        assert len(rows) > 10 and all(len(row) == len(header) for row in rows)
    finally:
        page.close()


def test_the_print_view_and_a_pdf(site, analyst, output) -> None:
    page, errors = watched(analyst)
    try:
        page.goto(f"{site.url}/reports/units/{OWN}")
        page.locator("p.downloads a", has_text="A4").click()
        page.wait_for_url("**format=print**")
        assert page.locator("body.print").count() == 1
        assert page.locator("nav.staffnav").is_hidden()
        assert page.locator("details.filters").is_hidden()
        assert page.locator("p.design").is_visible()
        assert page.locator("figure.chart svg").first.is_visible()
        page.emulate_media(media="print")
        assert page.locator("p.downloads").is_hidden()
        assert page.locator("header.top").is_hidden()
        assert overflow(page) <= 0
        shoot(page, output, "unit-print")
        pdf = output / "unit-print.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(data) > 20_000
        # The widest page, the overview with a column per factor, fits the width of A4 paper
        # less its margins (182 mm = 688 CSS px) when printed.
        page.set_viewport_size({"width": 688, "height": 1000})
        page.goto(f"{site.url}/reports/?format=print")
        assert overflow(page) <= 0, "the overview is wider than A4 paper"
        widths = page.eval_on_selector_all(
            "table", "tables => tables.map(t => t.getBoundingClientRect().right)"
        )
        assert max(widths) <= 688, widths
        shoot(page, output, "overview-print")
        page.pdf(path=str(output / "overview-print.pdf"), format="A4", print_background=True)
        assert errors == []
    finally:
        page.close()


def test_an_official_gets_404_on_another_district(browser, site) -> None:
    context = new_context(browser, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, site, OFFICIAL, f"/reports/units/{OWN}")
        assert page.locator(".headline").is_visible()
        response = page.goto(f"{site.url}/reports/units/{OTHER}")
        assert response is not None and response.status == 404
        assert OTHER not in page.content() or "404" in page.content()
    finally:
        context.close()
