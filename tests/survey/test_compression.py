"""Compressed citizen pages (survey.compression): what is compressed, in which encoding, and how
much smaller the questionnaire page gets."""

from __future__ import annotations

import gzip

import brotli
import pytest

CHROME = "gzip, deflate, br, zstd"


@pytest.fixture
def counter(make_counter):
    return make_counter("Q1")


def test_the_form_page_is_compressed_to_a_fraction(client, counter):
    plain = client.get("/s/Q1")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/s/Q1", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["Cache-Control"] == "no-store"
    html = gzip.decompress(packed.get_data()).decode()
    assert "<form" in html and html.endswith("</html>")
    raw, sent = len(plain.get_data()), len(packed.get_data())
    assert raw > 15_000 and sent < raw / 4, (raw, sent)


def test_the_browser_chooses_the_encoding(client, counter):
    answer = client.get("/s/Q1", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert answer.headers["Content-Encoding"] == "br"
    assert b"<form" in brotli.decompress(answer.get_data())
    assert client.get("/s/Q1", headers={"Accept-Encoding": CHROME}).headers["Content-Encoding"] in (
        "zstd",
        "br",
    )


@pytest.mark.parametrize("path", ["/", "/static/sipas.css", "/k/Q1"])
def test_public_pages_and_static_files_are_compressed(client, counter, path):
    """(Files are streamed, and Flask-Compress streams zstd, br or deflate, not gzip.)"""
    answer = client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] in ("gzip", "br")
    if answer.headers["Content-Encoding"] == "br":
        assert len(brotli.decompress(answer.get_data())) > 1000


def test_a_page_with_a_session_token_is_not_compressed(client):
    """The sign-in page carries the session-bound CSRF token: no BREACH side channel there."""
    answer = client.get("/login", headers={"Accept-Encoding": CHROME})
    assert answer.status_code == 200
    assert "Content-Encoding" not in answer.headers


def test_redirects_and_small_answers_are_sent_as_they_are(client, counter):
    from tests.survey.test_citizen import post_form

    answer = post_form(client, "/s/Q1", {"e1_1": "4"}, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 303
    assert "Content-Encoding" not in answer.headers
    assert (
        "Content-Encoding"
        not in client.get("/healthz", headers={"Accept-Encoding": "gzip"}).headers
    )


def test_compression_can_be_left_to_the_proxy(make_app, make_counter):
    app = make_app(SIPAS_COMPRESS=False)
    make_counter("Q1")
    answer = app.test_client().get("/s/Q1", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
