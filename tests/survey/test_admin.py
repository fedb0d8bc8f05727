"""Sign-in (CSRF, rate limit, safe redirects, sessions that end) and the counters list with QR."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from survey import repository
from survey.extensions import db
from survey.models import User
from tests.survey.test_qr import decode_png, decode_svg

PASSWORD = "correct horse battery"


def _user(app, username: str = "canbo", agency_code: str | None = None, **kw) -> None:
    kw.setdefault("role", "official" if agency_code else "admin")
    with app.app_context():
        repository.create_user(username, PASSWORD, agency_code=agency_code, **kw)


def _login(client, username: str = "canbo", password: str = PASSWORD, next_url: str = ""):
    url = "/login" + (f"?next={next_url}" if next_url else "")
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
    assert result.headers["Location"].startswith("/login?next=")


def test_old_login_address_redirects_to_the_one_sign_in_page(client) -> None:
    result = client.get("/admin/login?next=/admin/counters")
    assert result.status_code == 301
    assert result.headers["Location"] == "/login?next=/admin/counters"


def test_login_page_is_vietnamese_with_labels(client) -> None:
    html = client.get("/login").get_data(as_text=True)
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
    assert result.headers["Location"].endswith("/reports/")
    index = client.get("/admin/").get_data(as_text=True)
    assert "Nguyễn Văn B" in index
    assert client.post("/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_copied_session_cookie_stops_working_after_logout(app, client) -> None:
    _user(app)
    _login(client)
    cookie = client.get_cookie("session")
    assert cookie is not None and client.get("/admin/").status_code == 200
    client.post("/logout")
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/admin/").status_code == 302


def test_a_password_change_ends_existing_sessions(app, client) -> None:
    from survey.auth import end_sessions

    _user(app)
    _login(client)
    assert client.get("/admin/").status_code == 200
    with app.app_context():
        user = db.session.query(User).filter_by(username="canbo").one()
        end_sessions(user)
        db.session.commit()
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/counters", "/admin/counters"),
        ("//evil.example", "/reports/"),
        ("https://evil.example/admin", "/reports/"),
        ("/\\evil.example", "/reports/"),
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
    forged = client.post("/login", data={"username": "canbo", "password": PASSWORD})
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


# --- QR codes for one procedure field ------------------------------------------------------------


@dataclass
class _Form:
    """What a browser needs to submit a GET form without JavaScript."""

    action: str
    legend: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # control id -> label text
    selects: dict[str, dict] = field(default_factory=dict)  # name -> id, options, selected
    buttons: list[dict[str, str]] = field(default_factory=list)


class _FormReader(HTMLParser):
    """Collect the forms of a page: legend, labels, selects with options, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._text: list[str] | None = None
        self._target: tuple[str, dict[str, str | None]] | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(_Form(action=a["action"] or ""))
        elif not self.forms:
            return
        elif tag in ("legend", "label", "option", "button"):
            self._target, self._text = (tag, a), []
        elif tag == "select":
            self._select = {"id": a["id"], "options": [], "selected": None}
            self.forms[-1].selects[a["name"] or ""] = self._select

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._target is None or tag != self._target[0] or self._text is None:
            return
        form, a, text = self.forms[-1], self._target[1], " ".join("".join(self._text).split())
        if tag == "legend":
            form.legend = text
        elif tag == "label":
            form.labels[a["for"] or ""] = text
        elif tag == "option" and self._select is not None:
            self._select["options"].append((a["value"], text))
            if "selected" in a:
                self._select["selected"] = a["value"]
        elif tag == "button":
            form.buttons.append({"text": text, **{k: v or "" for k, v in a.items()}})
        self._target = self._text = None


def _forms(html: str) -> list[_Form]:
    reader = _FormReader()
    reader.feed(html)
    return reader.forms


def _submit(form: _Form, button_text: str, **choices: str) -> str:
    """The URL a browser requests when ``button_text`` submits ``form`` (method GET)."""
    button = next(b for b in form.buttons if b["text"].endswith(button_text))
    data = {name: choices.get(name, select["selected"]) for name, select in form.selects.items()}
    if button.get("name"):
        data[button["name"]] = button["value"]
    return f"{button.get('formaction') or form.action}?{urlencode(data)}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def catalogue(app, client, make_counter, make_field) -> None:
    """Fields HT (Hộ tịch) and DD (Đất đai); Q1 defaults to HT, Q2 has no field; signed in."""
    make_field("HT", name_vi="Hộ tịch", name_en="Civil status")
    make_field("DD", name_vi="Đất đai", name_en="Land")
    make_counter("Q1", field="HT", name_vi="Quầy một")
    make_counter("Q2", name_vi="Quầy hai")
    _user(app)
    _login(client)


def test_qr_download_fixes_the_chosen_field(client, catalogue) -> None:
    png = client.get("/admin/counters/Q2/qr.png?field=DD")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode_png(png.data) == ["http://localhost/s/Q2?f=DD"]
    assert png.headers["Content-Disposition"] == 'attachment; filename="qr-Q2-DD.png"'
    svg = client.get("/admin/counters/Q2/qr.svg?field=DD")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert decode_svg(svg.get_data(as_text=True)) == ["http://localhost/s/Q2?f=DD"]
    assert 'filename="qr-Q2-DD.svg"' in svg.headers["Content-Disposition"]
    # A field other than the counter's default wins over it.
    other = client.get("/admin/counters/Q1/qr.png?field=DD")
    assert decode_png(other.data) == ["http://localhost/s/Q1?f=DD"]
    # The code leads the citizen to a questionnaire with that field fixed.
    survey = client.get("/s/Q2?f=DD").get_data(as_text=True)
    assert "Lĩnh vực: Đất đai" in survey


def test_sheet_for_a_field_names_it_and_encodes_it(client, catalogue) -> None:
    sheet = client.get("/admin/counters/Q1/sheet?size=a6&field=DD").get_data(as_text=True)
    assert "size: 105mm 148mm" in sheet
    assert "Lĩnh vực: Đất đai" in sheet and "Hộ tịch" not in sheet
    assert "http://localhost/s/Q1?f=DD" in sheet
    a4 = client.get("/admin/counters/Q2/sheet?field=HT").get_data(as_text=True)
    assert "size: 210mm 297mm" in a4
    assert "Lĩnh vực: Hộ tịch" in a4 and "http://localhost/s/Q2?f=HT" in a4


@pytest.mark.parametrize("query", ["", "?field=", "?field=%20"])
def test_without_a_field_the_counter_default_applies(client, catalogue, query: str) -> None:
    """As before: no ``?f=`` in the code; the counter's default field applies when scanned."""
    png = client.get(f"/admin/counters/Q1/qr.png{query}")
    assert decode_png(png.data) == ["http://localhost/s/Q1"]
    assert png.headers["Content-Disposition"] == 'attachment; filename="qr-Q1.png"'
    sheet = client.get(f"/admin/counters/Q1/sheet{query}").get_data(as_text=True)
    assert "Lĩnh vực: Hộ tịch" in sheet and "?f=" not in sheet
    assert "Lĩnh vực: Hộ tịch" in client.get("/s/Q1").get_data(as_text=True)
    no_default = client.get(f"/admin/counters/Q2/sheet{query}").get_data(as_text=True)
    assert "Lĩnh vực:" not in no_default and "http://localhost/s/Q2<" in no_default


@pytest.mark.parametrize(
    "path", ["/admin/counters/Q1/qr.png", "/admin/counters/Q1/qr.svg", "/admin/counters/Q1/sheet"]
)
def test_unknown_field_is_a_translated_404(client, catalogue, path: str) -> None:
    vi = client.get(f"{path}?field=NOPE")
    assert vi.status_code == 404 and vi.mimetype == "text/html"
    assert "Không có lĩnh vực thủ tục nào mang mã “NOPE”." in vi.get_data(as_text=True)
    en = client.get(f"{path}?field=NOPE&lang=en")
    assert en.status_code == 404
    assert "No procedure field has the code “NOPE”." in en.get_data(as_text=True)
    as_json = client.get(f"{path}?field=NOPE", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.get_json()["error"]["code"] == "unknown_field"


def test_unknown_field_message_is_escaped(client, catalogue) -> None:
    html = client.get("/admin/counters/Q1/sheet?field=<b>x</b>").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_counters_page_has_an_accessible_field_form_per_counter(client, catalogue) -> None:
    forms = {f.action: f for f in _forms(client.get("/admin/counters").get_data(as_text=True))}
    q1, q2 = forms["/admin/counters/Q1/sheet"], forms["/admin/counters/Q2/sheet"]
    for form, name in ((q1, "Quầy một"), (q2, "Quầy hai")):
        assert form.legend == f"Mã QR của quầy {name} theo một lĩnh vực"
        select = form.selects["field"]
        assert form.labels[select["id"]] == "Lĩnh vực"
        assert {"Hộ tịch (HT)", "Đất đai (DD)"} <= {text for _, text in select["options"]}
        assert [b["text"] for b in form.buttons] == [
            "Mã QR PNG",
            "Mã QR SVG",
            "Trang in mã QR A4",
            "Trang in mã QR A6",
        ]
    assert q1.selects["field"]["id"] != q2.selects["field"]["id"]
    # Q1's default field is preselected; Q2 (no default) starts on "not fixed".
    assert q1.selects["field"]["selected"] == "HT"
    assert "" not in [value for value, _ in q1.selects["field"]["options"]]
    assert q2.selects["field"]["selected"] == ""
    assert ("", "Không cố định: người dân tự chọn") in q2.selects["field"]["options"]


def test_submitting_the_field_form_downloads_that_field(client, catalogue) -> None:
    forms = {f.action: f for f in _forms(client.get("/admin/counters").get_data(as_text=True))}
    q1, q2 = forms["/admin/counters/Q1/sheet"], forms["/admin/counters/Q2/sheet"]
    png = client.get(_submit(q1, "PNG"))  # the preselected default field
    assert decode_png(png.data) == ["http://localhost/s/Q1?f=HT"]
    assert 'filename="qr-Q1-HT.png"' in png.headers["Content-Disposition"]
    svg = client.get(_submit(q1, "SVG", field="DD"))
    assert decode_svg(svg.get_data(as_text=True)) == ["http://localhost/s/Q1?f=DD"]
    sheet = client.get(_submit(q1, "A6", field="DD")).get_data(as_text=True)
    assert "size: 105mm 148mm" in sheet and "Lĩnh vực: Đất đai" in sheet
    unfixed = client.get(_submit(q2, "PNG"))  # "not fixed": the citizen picks the field
    assert decode_png(unfixed.data) == ["http://localhost/s/Q2"]
    a4 = client.get(_submit(q2, "A4", field="HT")).get_data(as_text=True)
    assert "size: 210mm 297mm" in a4 and "http://localhost/s/Q2?f=HT" in a4


def test_field_form_is_translated(client, catalogue) -> None:
    html = client.get("/admin/counters?lang=en").get_data(as_text=True)
    forms = {f.action: f for f in _forms(html)}
    q2 = forms["/admin/counters/Q2/sheet"]
    assert "QR code for one field" in html
    assert q2.legend == "QR code of counter Quầy hai for one field"
    assert q2.labels[q2.selects["field"]["id"]] == "Field"
    assert ("", "Not fixed: the citizen chooses") in q2.selects["field"]["options"]
    assert [b["text"] for b in q2.buttons][2:] == ["Printable sheet A4", "Printable sheet A6"]
