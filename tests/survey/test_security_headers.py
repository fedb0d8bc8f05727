"""Security headers on every response, session cookie flags, and pages without inline script
or inline style (so that the Content-Security-Policy needs no ``'unsafe-inline'``)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from survey import repository

PASSWORD = "a-long-password-for-tests"


@pytest.fixture
def units(make_agency, make_field, make_counter):
    agency = make_agency("STP")
    make_counter("Q1", agency=agency, field=make_field("HT"))


@pytest.fixture
def admin_client(app, client):
    with app.app_context():
        repository.create_user("canbo", PASSWORD, role="admin")
    answer = client.post("/login", data={"username": "canbo", "password": PASSWORD})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:200]
    return client


PAGES = ["/s/Q1", "/k/Q1", "/thanks", "/k/Q1/thanks", "/s/NOPE", "/login"]
ADMIN_PAGES = ["/admin/", "/admin/counters", "/admin/counters/Q1/sheet", "/admin/counters/sheet"]


def policy(answer) -> dict[str, str]:
    header = answer.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


def assert_security_headers(answer) -> None:
    csp = policy(answer)
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["img-src"] == "'self' data:"
    assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/s/Q1"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/v1/units"),
        ("POST", "/api/v1/responses"),
        ("GET", "/no-such-page"),
        ("GET", "/static/sipas.css"),
    ],
)
def test_every_response_carries_the_headers(client, units, method, path):
    answer = client.open(path, method=method, json={} if method == "POST" else None)
    assert_security_headers(answer)


def test_hsts_only_over_tls(client, units):
    answer = client.get("/s/Q1", base_url="https://sipas.example.gov.vn")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def session_cookie(answer) -> str:
    """The session cookie set by a page with a session CSRF token (the sign-in page; the
    citizen pages set none)."""
    cookies = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, answer.headers
    return cookies[0]


def test_session_cookie_is_lax_and_secure_when_configured(make_app, units):
    app = make_app(SESSION_COOKIE_SECURE=True, WTF_CSRF_ENABLED=True)
    cookie = session_cookie(app.test_client().get("/login", base_url="https://x.example"))
    assert "SameSite=Lax" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_session_cookie_auto_follows_the_scheme(make_app, units):
    app = make_app(SESSION_COOKIE_SECURE="auto", WTF_CSRF_ENABLED=True)
    assert "Secure" in session_cookie(app.test_client().get("/login", base_url="https://x.example"))
    plain = session_cookie(app.test_client().get("/login"))
    assert "Secure" not in plain and "SameSite=Lax" in plain


def test_secure_by_default_and_off_from_the_environment(monkeypatch, tmp_path):
    from survey import create_app

    base = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    assert create_app(base).config["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("SIPAS_SESSION_COOKIE_SECURE", "false")
    assert create_app(base).config["SESSION_COOKIE_SECURE"] is False


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def assert_no_inline_code(html: str, answer) -> None:
    assert " style=" not in html
    assert not INLINE_SCRIPT.search(html)
    assert not EVENT_HANDLER.search(html)
    allowed = policy(answer).get("style-src", "")
    for block in re.findall(r"<style>(.*?)</style>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed.split()


@pytest.mark.parametrize("path", PAGES)
def test_citizen_pages_have_no_inline_code(client, units, path):
    answer = client.get(path)
    assert answer.status_code in (200, 404)
    assert_no_inline_code(answer.get_data(as_text=True), answer)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_have_no_inline_code(admin_client, units, path):
    answer = admin_client.get(path)
    assert answer.status_code == 200
    assert_security_headers(answer)
    assert_no_inline_code(answer.get_data(as_text=True), answer)


def test_kiosk_script_is_a_static_file_with_its_settings(client, units):
    html = client.get("/k/Q1").get_data(as_text=True)
    tag = re.search(r"<script [^>]*src=\"(/static/kiosk\.js)\"[^>]*>", html)
    assert tag, html[-800:]
    assert 'data-idle-ms="60000"' in tag.group(0)
    assert "data-reset-url=" in tag.group(0)
    assert client.get(tag.group(1)).status_code == 200
    assert "<script" not in client.get("/s/Q1").get_data(as_text=True)
