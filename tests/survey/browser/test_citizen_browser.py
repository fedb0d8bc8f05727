"""The citizen's path in a real headless Chromium: scan, answer, submit, thank-you, stored.

Run with ``pytest -m browser``. Each flow runs with JavaScript on and off where it matters.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from survey import repository
from survey.extensions import db
from survey.models import Response
from survey.tokens import issue_dossier_token


def _responses(app) -> list[Response]:
    with app.app_context():
        rows = list(db.session.scalars(select(Response).order_by(Response.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _answers(app, row: Response) -> dict[str, int]:
    with app.app_context():
        stored = repository.get_response(row.uuid)
        assert stored is not None
        return stored.answers


def tap(page, key: str, name: str) -> None:
    """Tap the option of question ``key`` whose accessible name is ``name``."""
    page.locator(f"#q-{key}").get_by_role("radio", name=name, exact=True).click()


def _answer_some(page) -> None:
    """Answer a few questions the way a citizen would."""
    tap(page, "e1_1", "4 Hài lòng")
    tap(page, "e1_2", "Không áp dụng")
    tap(page, "e3_1", "5 Rất hài lòng")
    tap(page, "sex", "Nữ")
    page.select_option("#field", "unknown")
    page.fill("#comment", "Cán bộ hướng dẫn tận tình")


def test_scan_answer_submit_and_thank_you(serve, phone, make_counter, javascript) -> None:
    server = serve()
    make_counter("Q1")
    phone.goto(f"{server.url}/s/Q1")
    assert phone.locator("html").get_attribute("lang") == "vi"
    assert phone.locator("h1").inner_text().startswith("Phiếu khảo sát")
    _answer_some(phone)
    phone.get_by_role("button", name="Gửi câu trả lời").click()
    phone.wait_for_url(re.compile(r"/thanks$"))
    assert "Xin cảm ơn!" in phone.locator("h1").inner_text()
    rows = _responses(server.app)
    assert len(rows) == 1
    assert rows[0].channel == "counter_qr"
    assert rows[0].comment == "Cán bộ hướng dẫn tận tình"
    assert _answers(server.app, rows[0]) == {"e1_1": 4, "e1_2": 0, "e3_1": 5, "sex": 2}


def test_going_back_and_resubmitting_does_not_duplicate(serve, phone, make_counter) -> None:
    server = serve()
    make_counter("Q1", field=None)
    phone.goto(f"{server.url}/s/Q1")
    phone.select_option("#field", "unknown")
    tap(phone, "e1_1", "3 Bình thường")
    phone.get_by_role("button", name="Gửi câu trả lời").click()
    phone.wait_for_url(re.compile(r"/thanks$"))
    phone.go_back()  # no-store: the form comes back fresh, with a new UUID
    phone.wait_for_url(re.compile(r"/s/Q1$"))
    assert phone.locator("#q-e1_1 input:checked").count() == 0
    assert len(_responses(server.app)) == 1


def test_the_field_picker_is_required_even_without_javascript(serve, phone, make_counter) -> None:
    server = serve()
    make_counter("Q1")
    phone.goto(f"{server.url}/s/Q1")
    phone.get_by_role("button", name="Gửi câu trả lời").click()
    phone.wait_for_timeout(300)
    assert phone.url.endswith("/s/Q1")  # the browser asked for a field first
    assert phone.evaluate("document.querySelector('#field').validity.valueMissing") is True
    assert _responses(server.app) == []


def test_invalid_post_rerenders_with_answers_in_the_browser(serve, new_page, make_counter) -> None:
    server = serve()
    make_counter("Q1")
    page = new_page(javascript=True)
    page.goto(f"{server.url}/s/Q1")
    page.select_option("#field", "unknown")
    tap(page, "e2_1", "5 Rất hài lòng")
    # A tampered option value (as a broken client might send) is refused and explained.
    page.evaluate("document.querySelector('input[name=e1_1][value=\"5\"]').value = '9'")
    tap(page, "e1_1", "5 Rất hài lòng")
    page.get_by_role("button", name="Gửi câu trả lời").click()
    page.wait_for_selector("[role=alert]")
    assert "Vui lòng chọn một trong các phương án." in page.locator("#q-e1_1").inner_text()
    assert page.locator("input[name=e2_1][value='5']").is_checked()
    assert _responses(server.app) == []


def test_language_switch_keeps_the_page(serve, phone, make_counter, make_field) -> None:
    server = serve()
    make_field("HT", name_vi="Hộ tịch", name_en="Civil status")
    make_counter("Q1")
    phone.goto(f"{server.url}/s/Q1?f=HT")
    phone.get_by_role("link", name="English").click()
    phone.wait_for_url(re.compile(r"/s/Q1\?f=HT&lang=en$"))
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_role("button", name="Send my answers").is_visible()
    assert "Civil status" in phone.content()
    phone.goto(f"{server.url}/s/Q1")  # the cookie remembers the choice
    assert phone.locator("html").get_attribute("lang") == "en"
    phone.get_by_role("link", name="Tiếng Việt").click()
    assert phone.locator("html").get_attribute("lang") == "vi"


def test_kiosk_returns_to_a_fresh_form_after_submit(serve, phone, make_counter) -> None:
    server = serve(SIPAS_KIOSK_THANKS_SECONDS=1)
    make_counter("Q1")
    phone.goto(f"{server.url}/k/Q1?lang=en")
    first_uuid = phone.locator("input[name=response_uuid]").get_attribute("value")
    phone.select_option("#field", "unknown")
    tap(phone, "e1_1", "4 Satisfied")
    phone.get_by_role("button", name="Send my answers").click()
    phone.wait_for_url(re.compile(r"/k/Q1/thanks$"))
    phone.wait_for_url(re.compile(r"/k/Q1\?lang=vi$"), timeout=10_000)  # meta refresh, no JS
    assert phone.locator("html").get_attribute("lang") == "vi"
    assert phone.locator("input[name=response_uuid]").get_attribute("value") != first_uuid
    assert phone.locator("input:checked").count() == 0
    assert [r.channel for r in _responses(server.app)] == ["kiosk"]


def test_kiosk_resets_after_inactivity(serve, new_page, make_counter) -> None:
    server = serve(SIPAS_KIOSK_IDLE_SECONDS=1)
    make_counter("Q1")
    page = new_page(javascript=True)
    page.goto(f"{server.url}/k/Q1")
    first_uuid = page.locator("input[name=response_uuid]").get_attribute("value")
    tap(page, "e1_1", "3 Bình thường")
    page.wait_for_function(
        "uuid => document.querySelector('input[name=response_uuid]').value !== uuid",
        arg=first_uuid,
        timeout=10_000,
    )
    assert page.locator("input:checked").count() == 0
    assert _responses(server.app) == []


def test_dossier_qr_once_then_kind_page(serve, phone, make_agency, make_field) -> None:
    server = serve()
    make_agency("STP", name_vi="Sở Tư pháp")
    make_field("HT", name_vi="Hộ tịch")
    token = issue_dossier_token(
        server.app.config["SECRET_KEY"],
        agency_code="STP",
        field_code="HT",
        procedure_code=None,
        dossier_code="H56-0001",
    )
    phone.goto(f"{server.url}/d/{token}")
    assert "Sở Tư pháp" in phone.content()
    tap(phone, "e1_1", "5 Rất hài lòng")
    phone.get_by_role("button", name="Gửi câu trả lời").click()
    phone.wait_for_url(re.compile(r"/thanks$"))
    response = phone.goto(f"{server.url}/d/{token}")
    assert response is not None and response.status == 409
    assert "Anh/Chị đã gửi đánh giá" in phone.locator("h1").inner_text()
    forged = phone.goto(f"{server.url}/d/{token[:-4]}AAAA")
    assert forged is not None and forged.status == 400
    assert "Mã QR này không hợp lệ" in phone.locator("h1").inner_text()


def test_form_page_transfers_under_50_kb(serve, new_page, make_counter, make_field) -> None:
    server = serve()
    for n in range(12):
        make_field(f"F{n}", name_vi=f"Lĩnh vực thủ tục hành chính số {n}")
    make_counter("Q1")
    page = new_page(javascript=True)
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{server.url}/s/Q1", wait_until="load")
    total = sum(len(r.body()) for r in responses if r.status == 200)
    urls = sorted(r.url.replace(server.url, "") for r in responses)
    assert urls == ["/s/Q1", "/static/sipas.css"]
    assert total < 50 * 1024, total


def test_phone_layout_has_large_targets_and_no_sideways_scroll(
    serve, new_page, make_counter, tmp_path: Path
) -> None:
    server = serve()
    make_counter("Q1")
    page = new_page(javascript=True)
    for lang in ("en", "vi"):  # long English words must wrap, not widen the page
        page.goto(f"{server.url}/s/Q1?lang={lang}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, lang
    for selector in ("#q-e1_1 label", "#q-sex label", "button.send", "#field", "header a"):
        for box in (el.bounding_box() for el in page.locator(selector).all()):
            assert box is not None and box["height"] >= 44, (selector, box)
    shot = tmp_path / "form.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes().startswith(b"\x89PNG")
