"""Citizen pages through the Flask test client: counter and dossier QR, every bad input."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from survey import repository
from survey.extensions import db
from survey.models import Response
from survey.tokens import issue_dossier_token

TEST_SECRET = "test-secret-key-not-for-production"  # the one tests/survey/conftest.py uses
HIDDEN = ("csrf_token", "form_id", "form_version", "response_uuid", "started", "confirm_empty")


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a form page."""
    found = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))
    return {name: found[name] for name in HIDDEN if name in found}


def post_form(client, url: str, answers: dict[str, str], *, page: str | None = None, **kw):
    """Open ``url`` (unless ``page`` HTML is given), then post ``answers`` and its hidden inputs."""
    html = page if page is not None else client.get(url).get_data(as_text=True)
    data = {**hidden_fields(html), **answers}
    return client.post(url, data=data, **kw)


def stored(app) -> list[Response]:
    with app.app_context():
        rows = list(db.session.scalars(select(Response).order_by(Response.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def stored_answers(app, response_uuid: uuid.UUID) -> dict[str, int]:
    with app.app_context():
        found = repository.get_response(response_uuid)
        assert found is not None
        return found.answers


class _Inputs(HTMLParser):
    """Collects inputs, labels, fieldsets and legends to check the page's accessibility."""

    def __init__(self) -> None:
        super().__init__()
        self.label_depth = 0
        self.radios_outside_labels = 0
        self.radios = 0
        self.fieldsets = 0
        self.legends = 0
        self.label_for: set[str] = set()
        self.ids_needing_labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"] or "")
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1
        elif tag == "input" and a.get("type") == "radio":
            self.radios += 1
            if self.label_depth == 0:
                self.radios_outside_labels += 1
        elif tag in ("select", "textarea") or (tag == "input" and a.get("type") == "text"):
            self.ids_needing_labels.append(a.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


# --- the counter page -------------------------------------------------------------------------


def test_counter_page_in_vietnamese_with_every_item(client, make_counter) -> None:
    make_counter("Q1")
    page = client.get("/s/Q1")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Phiếu khảo sát sự hài lòng" in html
    assert "Gửi câu trả lời" in html
    assert "Quầy số" in html
    form = repository.load_form("sipas-counter")
    for key in form.item_keys:
        assert f'name="{key}"' in html
    assert html.count('name="e1_1"') == 6  # 5 levels and "not applicable"
    assert "Không áp dụng" in html
    assert set(hidden_fields(html)) == set(HIDDEN) - {"confirm_empty"}  # only once asked
    uuid.UUID(hidden_fields(html)["response_uuid"])
    assert " required" not in html.replace('<select id="field" name="field" required', "")


def test_every_input_is_labelled_and_grouped(client, make_counter) -> None:
    make_counter("Q1")
    parser = _Inputs()
    parser.feed(client.get("/s/Q1").get_data(as_text=True))
    form = repository.load_form("sipas-counter")
    assert parser.radios > 100
    assert parser.radios_outside_labels == 0
    assert parser.fieldsets == parser.legends == len(form.item_keys)
    assert parser.ids_needing_labels  # the field picker, the comment and the honeypot
    for element_id in parser.ids_needing_labels:
        assert element_id in parser.label_for


def test_honeypot_is_hidden_from_people_and_assistive_technology(client, make_counter) -> None:
    make_counter("Q1")
    html = client.get("/s/Q1").get_data(as_text=True)
    match = re.search(r'<div class="hp" aria-hidden="true">.*?</div>', html, re.S)
    assert match is not None
    assert 'tabindex="-1"' in match.group(0)
    assert 'name="website"' in match.group(0)


def test_each_page_gets_a_fresh_uuid(client, make_counter) -> None:
    make_counter("Q1")
    first = hidden_fields(client.get("/s/Q1").get_data(as_text=True))["response_uuid"]
    second = hidden_fields(client.get("/s/Q1").get_data(as_text=True))["response_uuid"]
    assert first != second


def test_field_is_fixed_by_the_counter_or_the_qr(client, make_counter, make_field) -> None:
    make_field("HT", name_vi="Hộ tịch")
    make_field("DD", name_vi="Đất đai")
    make_counter("Q1", field="HT")
    make_counter("Q2")
    fixed = client.get("/s/Q1").get_data(as_text=True)
    assert 'name="field"' not in fixed
    assert "Hộ tịch" in fixed
    by_qr = client.get("/s/Q2?f=DD").get_data(as_text=True)
    assert 'name="field"' not in by_qr
    assert "Đất đai" in by_qr
    picker = client.get("/s/Q2?f=NOPE").get_data(as_text=True)
    assert '<select id="field" name="field" required>' in picker
    assert '<option value="unknown"' in picker
    assert "Không rõ" in picker
    assert "Hộ tịch" in picker and "Đất đai" in picker


@pytest.mark.parametrize("path", ["/s/NOPE", "/k/NOPE", "/s/OLD"])
def test_unknown_or_inactive_counter_is_a_vietnamese_404(client, make_counter, path) -> None:
    make_counter("OLD", active=False)
    page = client.get(path)
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Mã quầy này hiện không được sử dụng" in html
    assert "Traceback" not in html


# --- submitting -------------------------------------------------------------------------------


def test_submit_stores_the_response_and_redirects_to_thanks(app, client, make_counter) -> None:
    make_counter("Q1")
    page = client.get("/s/Q1").get_data(as_text=True)
    answers = {"e1_1": "4", "e1_2": "0", "x1": "3", "sex": "2", "field": "unknown"}
    result = post_form(client, "/s/Q1", {**answers, "comment": "  Rất tốt  "}, page=page)
    assert result.status_code == 303
    assert result.headers["Location"].endswith("/thanks")
    rows = stored(app)
    assert len(rows) == 1
    row = rows[0]
    assert str(row.uuid) == hidden_fields(page)["response_uuid"]
    assert row.channel == "counter_qr"
    assert row.comment == "Rất tốt"
    assert row.field_id is None
    assert row.started_at is not None
    assert stored_answers(app, row.uuid) == {"e1_1": 4, "e1_2": 0, "x1": 3, "sex": 2}
    thanks = client.get(result.headers["Location"])
    assert thanks.status_code == 200
    assert "Xin chân thành cảm ơn" in thanks.get_data(as_text=True)


def test_an_empty_form_is_accepted_when_sent_again(app, client, make_counter) -> None:
    make_counter("Q1")
    asked = post_form(client, "/s/Q1", {})
    assert asked.status_code == 422  # asked once: nothing answered
    assert post_form(client, "/s/Q1", {}, page=asked.get_data(as_text=True)).status_code == 303
    assert len(stored(app)) == 1


def test_picked_field_is_stored(app, client, make_counter, make_field) -> None:
    make_field("HT")
    make_counter("Q1")
    assert post_form(client, "/s/Q1", {"field": "HT", "e1_1": "5"}).status_code == 303
    with app.app_context():
        assert repository.list_responses()[0].field_code == "HT"


def test_field_fixed_by_qr_is_stored(app, client, make_counter, make_field) -> None:
    make_field("HT")
    make_counter("Q1")
    assert post_form(client, "/s/Q1?f=HT", {"e1_1": "5"}).status_code == 303
    with app.app_context():
        assert repository.list_responses()[0].field_code == "HT"


def test_resubmitting_the_same_page_stores_once(app, client, make_counter) -> None:
    make_counter("Q1")
    page = client.get("/s/Q1").get_data(as_text=True)
    for _ in range(3):
        result = post_form(client, "/s/Q1", {"e1_1": "4"}, page=page)
        assert result.status_code == 303
    assert len(stored(app)) == 1


def test_same_uuid_with_other_answers_is_refused_kindly(app, client, make_counter) -> None:
    make_counter("Q1")
    page = client.get("/s/Q1").get_data(as_text=True)
    assert post_form(client, "/s/Q1", {"e1_1": "4"}, page=page).status_code == 303
    result = post_form(client, "/s/Q1", {"e1_1": "1"}, page=page)
    assert result.status_code == 409
    assert "Câu trả lời của Anh/Chị đã được ghi nhận" in result.get_data(as_text=True)
    assert stored_answers(app, stored(app)[0].uuid) == {"e1_1": 4}


@pytest.mark.parametrize("bad", [{"e1_1": "9"}, {"e1_1": "abc"}, {"sex": "7"}, {"x1": "-1"}])
def test_invalid_values_rerender_with_answers_kept(app, client, make_counter, bad) -> None:
    make_counter("Q1")
    answers = {"e2_1": "5", "age_band": "3", "comment": "Nhân viên nhiệt tình", **bad}
    result = post_form(client, "/s/Q1", answers)
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    key = next(iter(bad))
    assert 'role="alert"' in html
    assert "Một số câu trả lời chưa hợp lệ" in html
    assert f'id="e-{key}"' in html
    assert "Vui lòng chọn một trong các phương án." in html
    assert re.search(r'name="e2_1" value="5" checked', html)
    assert re.search(r'name="age_band" value="3" checked', html)
    assert "Nhân viên nhiệt tình</textarea>" in html
    assert stored(app) == []


def test_comment_too_long_is_refused_with_message(app, client, make_counter) -> None:
    make_counter("Q1")
    result = post_form(client, "/s/Q1", {"comment": "x" * 2001, "e1_1": "3"})
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    assert "Ý kiến này quá dài." in html
    assert re.search(r'name="e1_1" value="3" checked', html)
    assert stored(app) == []


def test_unknown_field_rerenders_with_message(app, client, make_counter) -> None:
    make_counter("Q1")
    result = post_form(client, "/s/Q1", {"field": "NOPE", "e1_1": "2"})
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    assert "Không tìm thấy lĩnh vực thủ tục này." in html
    assert re.search(r'name="e1_1" value="2" checked', html)
    assert stored(app) == []


def test_wrong_form_version_rerenders_the_current_form(app, client, make_counter) -> None:
    make_counter("Q1")
    result = post_form(client, "/s/Q1", {"form_version": "99", "e1_1": "4"})
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    assert "Phiếu khảo sát đã được cập nhật" in html
    assert re.search(r'name="e1_1" value="4" checked', html)
    assert 'name="form_version" value="1"' in html
    assert stored(app) == []


def test_unknown_item_keys_in_the_post_are_ignored(app, client, make_counter) -> None:
    make_counter("Q1")
    result = post_form(client, "/s/Q1", {"e1_1": "4", "e9_9": "5", "name": "Nguyễn Văn A"})
    assert result.status_code == 303
    assert stored_answers(app, stored(app)[0].uuid) == {"e1_1": 4}


def test_honeypot_and_speed_are_flagged_not_dropped(app, client, make_counter) -> None:
    make_counter("Q1")
    assert post_form(client, "/s/Q1", {"e1_1": "4", "website": "http://spam"}).status_code == 303
    flags = stored(app)[0].flags.split(";")
    assert "honeypot" in flags
    assert "too_fast" in flags  # submitted right after the page was rendered


def test_forged_start_time_is_ignored(app, client, make_counter) -> None:
    make_counter("Q1")
    assert post_form(client, "/s/Q1", {"e1_1": "4", "started": "forged.value"}).status_code == 303
    row = stored(app)[0]
    assert row.started_at is None
    assert "too_fast" not in row.flags


def test_garbled_uuid_still_stores_under_a_new_uuid(app, client, make_counter) -> None:
    make_counter("Q1")
    assert post_form(client, "/s/Q1", {"e1_1": "4", "response_uuid": "nope"}).status_code == 303
    assert len(stored(app)) == 1


def test_oversized_body_is_a_friendly_413(app, client, make_counter) -> None:
    make_counter("Q1")
    result = post_form(client, "/s/Q1", {"comment": "x" * (70 * 1024)})
    assert result.status_code == 413
    html = result.get_data(as_text=True)
    assert "Dữ liệu gửi lên quá lớn." in html
    assert stored(app) == []


def test_csrf_failure_keeps_the_answers(make_app, make_counter) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    make_counter("Q1")
    client = app.test_client()
    page = client.get("/s/Q1").get_data(as_text=True)
    answers = {"e1_1": "5", "comment": "Cảm ơn"}
    result = post_form(client, "/s/Q1", {**answers, "csrf_token": "stale"}, page=page)
    assert result.status_code == 400
    html = result.get_data(as_text=True)
    assert "Chúng tôi chưa xác nhận được" in html  # a garbled token (expired: cookieless tests)
    assert re.search(r'name="e1_1" value="5" checked', html)
    assert "Cảm ơn</textarea>" in html
    assert stored(app) == []
    assert post_form(client, "/s/Q1", answers, page=html).status_code == 303
    assert len(stored(app)) == 1


def test_submissions_are_rate_limited(make_app, make_counter) -> None:
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="2 per minute")
    make_counter("Q1")
    client = app.test_client()
    codes = [post_form(client, "/s/Q1", {"e1_1": "4"}).status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    assert client.get("/s/Q1").status_code == 200  # reading the form is not limited


# --- language ---------------------------------------------------------------------------------


def test_language_switch_sets_a_cookie_and_keeps_the_url(client, make_counter, make_field) -> None:
    make_field("HT")
    make_counter("Q1")
    vi = client.get("/s/Q1?f=HT").get_data(as_text=True)
    assert 'href="/s/Q1?f=HT&amp;lang=en"' in vi
    english = client.get("/s/Q1?f=HT&lang=en")
    html = english.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Send my answers" in html
    assert "Very dissatisfied" in html
    assert "lang=en" in english.headers["Set-Cookie"]
    again = client.get("/s/Q1").get_data(as_text=True)
    assert '<html lang="en">' in again
    assert 'href="/s/Q1?lang=vi"' in again


def test_english_submission_records_the_locale(app, client, make_counter) -> None:
    make_counter("Q1")
    assert post_form(client, "/s/Q1?lang=en", {"e1_1": "4"}).status_code == 303
    assert stored(app)[0].locale == "en"


# --- size -------------------------------------------------------------------------------------


def test_form_page_with_css_is_under_50_kb(client, make_counter, make_field) -> None:
    for n in range(12):
        make_field(f"F{n}", name_vi=f"Lĩnh vực thủ tục hành chính số {n}")
    make_counter("Q1")
    html = client.get("/s/Q1").get_data()
    css = client.get("/static/sipas.css").get_data()
    assert len(html) + len(css) < 50 * 1024, (len(html), len(css))


# --- the dossier QR ---------------------------------------------------------------------------


@pytest.fixture
def dossier_units(make_agency, make_field, make_procedure) -> None:
    make_agency("STP", name_vi="Sở Tư pháp")
    make_field("HT", name_vi="Hộ tịch")
    make_procedure("1.001", name_vi="Đăng ký khai sinh", field="HT")


def _token(issued_at: datetime | None = None, secret: str = TEST_SECRET) -> str:
    return issue_dossier_token(
        secret,
        agency_code="STP",
        field_code="HT",
        procedure_code="1.001",
        dossier_code="000.00.12.H56-240101-0001",
        issued_at=issued_at,
    )


def test_dossier_page_shows_the_units(client, dossier_units) -> None:
    page = client.get(f"/d/{_token()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("Sở Tư pháp", "Hộ tịch", "Đăng ký khai sinh"):
        assert text in html
    assert 'name="field"' not in html


def test_dossier_submission_is_single_use(app, client, dossier_units) -> None:
    url = f"/d/{_token()}"
    assert post_form(client, url, {"e3_1": "5"}).status_code == 303
    rows = stored(app)
    assert len(rows) == 1
    assert rows[0].channel == "dossier_qr"
    assert rows[0].token_id and rows[0].dossier_hash
    assert "H56" not in rows[0].dossier_hash
    with app.app_context():
        saved = repository.list_responses()[0]
    assert (saved.agency_code, saved.field_code, saved.procedure_code) == ("STP", "HT", "1.001")
    again = client.get(url)
    assert again.status_code == 409
    assert "Anh/Chị đã gửi đánh giá" in again.get_data(as_text=True)


def test_reused_token_on_a_page_opened_earlier_gets_the_kind_page(app, client, dossier_units):
    url = f"/d/{_token()}"
    first = client.get(url).get_data(as_text=True)
    second = client.get(url).get_data(as_text=True)  # another tab, another UUID
    assert post_form(client, url, {"e1_1": "4"}, page=first).status_code == 303
    result = post_form(client, url, {"e1_1": "3"}, page=second)
    assert result.status_code == 409
    assert "Mỗi giấy biên nhận chỉ dùng được một lần" in result.get_data(as_text=True)
    assert len(stored(app)) == 1


def test_expired_token_gets_a_clear_page(app, client, dossier_units) -> None:
    old = datetime.now(UTC) - timedelta(days=app.config["SIPAS_TOKEN_MAX_AGE_DAYS"] + 1)
    for method in ("get", "post"):
        result = getattr(client, method)(f"/d/{_token(old)}")
        assert result.status_code == 410
        assert "Mã QR này đã hết hạn" in result.get_data(as_text=True)
    assert stored(app) == []


@pytest.mark.parametrize("kind", ["forged", "other_key", "garbage"])
def test_forged_token_gets_a_clear_page(app, client, dossier_units, kind) -> None:
    token = {
        "forged": _token()[:-3] + "AAA",
        "other_key": _token(secret="another-secret"),
        "garbage": "not-a-token",
    }[kind]
    for method in ("get", "post"):
        result = getattr(client, method)(f"/d/{token}")
        assert result.status_code == 400
        html = result.get_data(as_text=True)
        assert "Mã QR này không hợp lệ" in html
        assert "Traceback" not in html
    assert stored(app) == []


def test_compressed_tokens_work_in_the_url(client, dossier_units) -> None:
    # itsdangerous compresses some payloads and then starts the token with "."
    token = next(t for t in (_token() for _ in range(500)) if t.startswith("."))
    assert client.get(f"/d/{token}").status_code == 200
