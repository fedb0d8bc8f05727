"""Kiosk mode: a tablet bound to a counter that resets for the next citizen."""

from __future__ import annotations

import re

from sqlalchemy import select

from survey.extensions import db
from survey.models import Response


def _post(client, url: str, answers: dict[str, str]):
    html = client.get(url).get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))
    return client.post(url, data={**hidden, **answers})


def test_kiosk_page_resets_itself_after_idle_time(make_app, make_counter) -> None:
    app = make_app(SIPAS_KIOSK_IDLE_SECONDS=45)
    make_counter("Q1")
    page = app.test_client().get("/k/Q1?lang=en")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    # A static script (the Content-Security-Policy allows no inline script), set up by its tag.
    script = re.search(r'<script src="/static/kiosk.js"([^>]*)></script>', html)
    assert script is not None
    assert 'data-idle-ms="45000"' in script.group(1)
    assert 'data-reset-url="/k/Q1?lang=vi"' in script.group(1)  # the next citizen: Vietnamese
    assert 'autocomplete="off"' in html


def test_counter_page_has_no_script(client, make_counter) -> None:
    make_counter("Q1")
    assert "<script" not in client.get("/s/Q1").get_data(as_text=True)


def test_kiosk_submission_is_stored_and_thanks_page_returns_to_the_form(
    app, client, make_counter
) -> None:
    make_counter("Q1")
    result = _post(client, "/k/Q1", {"e1_1": "5", "field": "unknown"})
    assert result.status_code == 303
    assert result.headers["Location"].endswith("/k/Q1/thanks")
    with app.app_context():
        rows = list(db.session.scalars(select(Response)))
        assert [r.channel for r in rows] == ["kiosk"]
    thanks = client.get(result.headers["Location"]).get_data(as_text=True)
    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+);url=([^"]+)">', thanks)
    assert refresh is not None
    assert 0 < int(refresh.group(1)) <= 15
    assert refresh.group(2) == "/k/Q1?lang=vi"
    assert "Màn hình sẽ tự chuyển sang phiếu khảo sát mới" in thanks


def test_plain_thanks_page_does_not_refresh(client, make_counter) -> None:
    make_counter("Q1")
    assert 'http-equiv="refresh"' not in client.get("/thanks").get_data(as_text=True)


def test_kiosk_of_unknown_counter_is_404(client) -> None:
    assert client.get("/k/NOPE").status_code == 404
    assert client.get("/k/NOPE/thanks").status_code == 404
