"""The citizen form in Chromium at its edges: a 320 px phone (no word broken inside, radio circles
level, nothing wider than the screen) and a browser that keeps no cookies.

Screenshots go to ``tests/output/`` (not committed) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.survey.browser.test_citizen_browser import _answers, _responses, tap

OUTPUT = Path(__file__).resolve().parents[2] / "output"

# For every option label of the rating and expectation questions: the words of its text that a
# line break cuts in two (a word inside one text node whose characters sit on more than one line).
BROKEN_WORDS = """() => {
  const broken = [];
  for (const span of document.querySelectorAll('fieldset.q .opts label span')) {
    const text = span.firstChild;
    const re = /\\S+/g;
    let m;
    while ((m = re.exec(text.data)) !== null) {
      const range = document.createRange();
      range.setStart(text, m.index);
      range.setEnd(text, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return broken;
}"""

# Per question: the options that share a row (same top edge) whose radio circles are not level.
UNEVEN_RADIOS = """() => {
  const uneven = [];
  for (const q of document.querySelectorAll('fieldset.q.r, fieldset.q.c')) {
    const rows = new Map();
    for (const label of q.querySelectorAll('.opts label')) {
      const top = Math.round(label.getBoundingClientRect().top);
      const r = label.querySelector('input').getBoundingClientRect();
      rows.set(top, [...(rows.get(top) || []), Math.round(r.top + r.height / 2)]);
    }
    for (const centres of rows.values()) {
      if (new Set(centres).size > 1) uneven.push(q.id);
    }
  }
  return uneven;
}"""


@pytest.mark.parametrize("width", [320, 360, 412])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_form_on_narrow_phones(browser, serve, make_counter, lang, width) -> None:
    server = serve()
    make_counter("Q1", field=None)
    context = browser.new_context(
        viewport={"width": width, "height": 640}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(f"{server.url}/s/Q1?lang={lang}")
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"form-{width}-{lang}.png"), full_page=False)
        page.locator("#q-e1_1").scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT / f"form-{width}-{lang}-ratings.png"))
        page.locator("#q-x1").scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT / f"form-{width}-{lang}-expectations.png"))
        assert page.evaluate(BROKEN_WORDS) == []
        assert page.evaluate(UNEVEN_RADIOS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # Every option is still a comfortable touch target.
        heights = page.evaluate(
            "[...document.querySelectorAll('.opts label')].map(l => l.offsetHeight)"
        )
        assert min(heights) >= 44
    finally:
        context.close()


def test_a_browser_that_blocks_cookies_submits(browser, serve, make_counter) -> None:
    """Every response's Set-Cookie is dropped and the jar is emptied before the submit: the POST
    carries no Cookie header, and the response is stored once."""
    server = serve()
    make_counter("Q1")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    dropped: list[str] = []

    def without_cookies(route) -> None:
        response = route.fetch(max_redirects=0)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        if len(headers) != len(response.headers):
            dropped.append(route.request.url)
        route.fulfill(response=response, headers=headers)

    try:
        context.route("**/*", without_cookies)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/s/Q1")
        tap(page, "e1_1", "4 Hài lòng")
        tap(page, "e2_1", "2 Không hài lòng")
        page.select_option("#field", "unknown")
        context.clear_cookies()
        posts = []
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
        page.get_by_role("button", name="Gửi câu trả lời").click()
        page.wait_for_url(re.compile(r"/thanks$"))
        assert "Xin cảm ơn!" in page.locator("h1").inner_text()
        assert len(posts) == 1 and "cookie" not in posts[0].all_headers()
        assert context.cookies() == []
        assert dropped == []  # the citizen pages set no cookie at all
        rows = _responses(server.app)
        assert len(rows) == 1
        assert _answers(server.app, rows[0]) == {"e1_1": 4, "e2_1": 2}
        # Back and send the same page again (from the history): still one response.
        page.go_back()
        page.wait_for_url(re.compile(r"/s/Q1$"))
        assert len(_responses(server.app)) == 1
    finally:
        context.close()


def test_the_form_page_arrives_compressed(browser, serve, make_counter) -> None:
    """Chromium's own count of the bytes on the wire for the form page, with and without
    compression (printed with ``-s``; the figures are in docs/deploy.md)."""
    sizes = {}
    for compress in (False, True):
        server = serve(SIPAS_COMPRESS=compress)
        make_counter(f"Q{int(compress)}", field=None)
        context = browser.new_context(viewport={"width": 360, "height": 740})
        try:
            page = context.new_page()
            response = page.goto(f"{server.url}/s/Q{int(compress)}")
            assert response is not None and response.ok
            wire = response.request.sizes()["responseBodySize"]
            sizes[compress] = (wire, len(response.body()), response.headers.get("content-encoding"))
        finally:
            context.close()
    print("form page bytes (wire, html, encoding):", sizes)
    (plain, html, encoding), (packed, _html, packed_encoding) = sizes[False], sizes[True]
    assert encoding is None and plain >= html
    assert packed_encoding in ("zstd", "br", "gzip")
    assert packed < html / 4
