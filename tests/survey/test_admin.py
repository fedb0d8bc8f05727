"""Officials' pages: sign-in (CSRF, rate limit, safe redirects) and the counters list with QR."""

from __future__ import annotations

import re

import pytest

from survey import repository
from survey.extensions import db
from survey.models import User

PASSWORD = "correct horse battery"


def _user(app, username: str = "canbo", agency_code: str | None = None, **kw) -> None:
    with app.app_context():
        repository.create_user(username, PASSWORD, agency_code=agency_code, **kw)


def _login(client, username: str = "canbo", password: str = PASSWORD, next_url: str = ""):
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    html = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    data = {"username": username, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    return client.post(url, data=data)


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/counters", "/admin/counters/Q1/qr.png", "/admin/counters/sheet"]
)
def test_pages_need_a_login(client, path: str) -> None:
    result = client.get(path)
    assert result.status_code == 302
    assert "/admin/login" in result.headers["Location"]


def test_login_page_is_vietnamese_with_labels(client) -> None:
    html = client.get("/admin/login").get_data(as_text=True)
    assert "Đăng nhập dành cho cán bộ" in html
    assert '<label class="t" for="username">Tên đăng nhập</label>' in html
    assert '<label class="t" for="password">Mật khẩu</label>' in html


def test_wrong_password_and_unknown_user_are_refused(app, client) -> None:
    _user(app)
    for username, password in (("canbo", "wrong password"), ("nobody", PASSWORD)):
        result = _login(client, username, password)
        assert result.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu." in result.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_inactive_user_cannot_sign_in(app, client) -> None:
    _user(app)
    with app.app_context():
        user = db.session.query(User).filter_by(username="canbo").one()
        user.active = False
        db.session.commit()
    assert _login(client).status_code == 401


def test_login_logout_cycle(app, client) -> None:
    _user(app, display_name="Nguyễn Văn B")
    result = _login(client)
    assert result.status_code == 302
    assert result.headers["Location"].endswith("/admin/")
    index = client.get("/admin/").get_data(as_text=True)
    assert "Nguyễn Văn B" in index
    assert client.post("/admin/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/counters", "/admin/counters"),
        ("//evil.example", "/admin/"),
        ("https://evil.example/admin", "/admin/"),
        ("/\\evil.example", "/admin/"),
    ],
)
def test_login_redirects_only_within_the_site(app, client, next_url, expected) -> None:
    _user(app)
    result = _login(client, next_url=next_url)
    assert result.status_code == 302
    assert result.headers["Location"] == expected


def test_login_form_is_csrf_protected(make_app) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    _user(app)
    client = app.test_client()
    forged = client.post("/admin/login", data={"username": "canbo", "password": PASSWORD})
    assert forged.status_code == 400
    assert client.get("/admin/").status_code == 302
    assert _login(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_login_attempts_are_rate_limited(make_app) -> None:
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_LOGIN_RATE_LIMIT="3 per minute")
    _user(app)
    client = app.test_client()
    codes = [_login(client, password="wrong password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert _login(client).status_code == 429  # even the right password waits


def test_counters_page_lists_counters_with_downloads(app, client, make_counter, make_field):
    make_field("HT", name_vi="Hộ tịch")
    make_counter("Q1", field="HT")
    make_counter("Q2", active=False)
    _user(app)
    _login(client)
    html = client.get("/admin/counters").get_data(as_text=True)
    for link in (
        "/admin/counters/Q1/qr.png",
        "/admin/counters/Q1/qr.svg",
        "/admin/counters/Q1/sheet?size=a4",
        "/admin/counters/Q1/sheet?size=a6",
        "/admin/counters/sheet?size=a4",
    ):
        assert f'href="{link}"' in html
    assert "Hộ tịch" in html
    assert "ngừng hoạt động" in html


def test_qr_downloads_and_sheets(app, client, make_counter) -> None:
    make_counter("Q1")
    make_counter("Q2")
    _user(app)
    _login(client)
    png = client.get("/admin/counters/Q1/qr.png")
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG")
    assert 'filename="qr-Q1.png"' in png.headers["Content-Disposition"]
    svg = client.get("/admin/counters/Q1/qr.svg")
    assert svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).startswith("<svg")
    sheet = client.get("/admin/counters/Q1/sheet?size=a6").get_data(as_text=True)
    assert "size: 105mm 148mm" in sheet
    assert "http://localhost/s/Q1" in sheet
    both = client.get("/admin/counters/sheet").get_data(as_text=True)
    assert both.count('<section class="sheet">') == 2
    assert client.get("/admin/counters/NOPE/qr.png").status_code == 404
    assert client.get("/admin/counters/Q1/sheet?size=letter").status_code == 404


def test_public_base_url_is_used_in_downloads(make_app, make_counter) -> None:
    app = make_app(SIPAS_PUBLIC_BASE_URL="https://hcc.example.gov.vn")
    make_counter("Q1")
    _user(app)
    client = app.test_client()
    _login(client)
    sheet = client.get("/admin/counters/Q1/sheet").get_data(as_text=True)
    assert "https://hcc.example.gov.vn/s/Q1" in sheet


def test_scoped_official_sees_only_their_agencies(app, client, make_agency, make_counter):
    province = make_agency("TINH", level="province")
    district = make_agency("HUYEN", level="district", parent=province)
    commune = make_agency("XA", level="commune", parent=district)
    other = make_agency("KHAC", level="district", parent=province)
    make_counter("QH", agency=district)
    make_counter("QX", agency=commune)
    make_counter("QK", agency=other)
    _user(app, agency_code="HUYEN")
    _login(client)
    html = client.get("/admin/counters").get_data(as_text=True)
    assert "/admin/counters/QH/qr.png" in html
    assert "/admin/counters/QX/qr.png" in html
    assert "/admin/counters/QK/qr.png" not in html
    assert client.get("/admin/counters/QK/qr.png").status_code == 404
