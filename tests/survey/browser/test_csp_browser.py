"""The Content-Security-Policy in real Chromium: no page breaks a rule (no inline script or
style is refused), and what moved out of inline attributes still looks the same."""

from __future__ import annotations

import pytest

from survey import repository

PASSWORD = "a-long-password-for-tests"


def csp_violations(page, url: str) -> list[str]:
    """Open ``url`` and return the policy violations the page reported."""
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(url)
    page.wait_for_load_state("load")
    found = page.evaluate("window.__csp")
    return [*found, *(m for m in messages if "Content Security Policy" in m)]


@pytest.mark.parametrize("path", ["/s/Q1", "/k/Q1", "/thanks", "/login", "/s/NOPE"])
def test_pages_break_no_rule(serve, new_page, make_counter, path) -> None:
    server = serve()
    make_counter("Q1")
    page = new_page(javascript=True)
    assert csp_violations(page, f"{server.url}{path}") == []


def test_login_fields_keep_their_size(serve, new_page) -> None:
    server = serve()
    page = new_page(javascript=True)
    page.goto(f"{server.url}/login")
    for field in ("#username", "#password"):
        box = page.locator(field).bounding_box()
        form = page.locator("form.card").bounding_box()
        inner = page.evaluate(
            "f => { const s = getComputedStyle(f); return f.clientWidth"
            " - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }",
            page.locator("form.card").element_handle(),
        )
        assert box["width"] == pytest.approx(inner, abs=1)
        assert box["height"] >= 48 and box["width"] < form["width"]


@pytest.mark.parametrize(("size", "agency_px"), [("a4", 20 * 96 / 72), ("a6", 11 * 96 / 72)])
def test_served_qr_sheet_keeps_its_stylesheet(serve, new_page, make_counter, size, agency_px):
    server = serve()
    make_counter("Q1")
    with server.app.app_context():
        repository.create_user("canbo", PASSWORD, role="admin")
    page = new_page(javascript=True)
    page.goto(f"{server.url}/login")
    page.fill("#username", "canbo")
    page.fill("#password", PASSWORD)
    page.locator("button.send").click()
    page.wait_for_url(f"{server.url}/reports/**")
    assert csp_violations(page, f"{server.url}/admin/counters/Q1/sheet?size={size}") == []
    font = page.evaluate("getComputedStyle(document.querySelector('.agency')).fontSize")
    assert float(font.removesuffix("px")) == pytest.approx(agency_px, abs=0.1)
    family = page.evaluate("getComputedStyle(document.querySelector('body')).fontFamily")
    assert "Arial" in family
