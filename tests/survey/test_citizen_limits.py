"""The citizen form's submission budget: per counter and client address, the client address from
trusted proxies only, and a refused submission keeps the citizen's answers on the page."""

from __future__ import annotations

import re

import pytest

from tests.survey.test_citizen import post_form, stored


@pytest.fixture
def counters(make_agency, make_counter):
    agency = make_agency("STP")
    make_counter("Q1", agency=agency)
    make_counter("Q2", agency=agency)


def limited_app(make_app, **config):
    return make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="2 per minute", **config)


def test_each_counter_has_its_own_budget_per_address(make_app, counters):
    app = limited_app(make_app)
    client = app.test_client()
    q1 = [post_form(client, "/s/Q1", {"e1_1": "4"}).status_code for _ in range(3)]
    q2 = [post_form(client, "/s/Q2", {"e1_1": "4"}).status_code for _ in range(2)]
    kiosk = [post_form(client, "/k/Q1", {"e1_1": "4"}).status_code for _ in range(2)]
    assert q1 == [303, 303, 429]
    assert q2 == [303, 303]
    assert kiosk == [303, 303]  # the tablet at a counter is not the phones' budget
    assert len(stored(app)) == 6


def test_a_refusal_keeps_the_answers_to_send_again(make_app, counters):
    app = limited_app(make_app)
    client = app.test_client()
    for _ in range(2):
        assert post_form(client, "/s/Q1", {"e1_1": "4"}).status_code == 303
    answers = {"e1_1": "5", "e2_1": "0", "sex": "2", "comment": "Cảm ơn"}
    refused = post_form(client, "/s/Q1", answers)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Có quá nhiều phiếu được gửi từ đây" in html  # Vietnamese by default
    assert re.search(r'name="e1_1" value="5" checked', html)
    assert re.search(r'name="sex" value="2" checked', html)
    assert "Cảm ơn</textarea>" in html
    assert len(stored(app)) == 2
    app.config["SIPAS_SUBMIT_RATE_LIMIT"] = "10 per minute"  # the minute has passed
    again = post_form(client, "/s/Q1", answers, page=html)
    assert again.status_code == 303
    assert len(stored(app)) == 3


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app, counters):
    app = limited_app(make_app)
    client = app.test_client()
    codes = [
        post_form(
            client, "/s/Q1", {"e1_1": "4"}, headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [303, 303, 429]


def test_trusted_proxy_gives_each_citizen_their_address(make_app, counters):
    app = limited_app(make_app, SIPAS_TRUSTED_PROXIES=1)
    client = app.test_client()
    codes = [
        post_form(
            client, "/s/Q1", {"e1_1": "4"}, headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [303] * 5
    same = {"X-Forwarded-For": "198.51.100.7"}
    repeated = [
        post_form(client, "/s/Q1", {"e1_1": "4"}, headers=same).status_code for _ in range(3)
    ]
    assert repeated == [303, 303, 429]
    # A client cannot add addresses in front: only the one the proxy appended counts.
    spoofed = {"X-Forwarded-For": "10.9.9.9, 198.51.100.7"}
    assert post_form(client, "/s/Q1", {"e1_1": "4"}, headers=spoofed).status_code == 429


def test_trusted_proxy_scheme_turns_on_hsts(make_app, counters):
    app = make_app(SIPAS_TRUSTED_PROXIES=1)
    answer = app.test_client().get("/s/Q1", headers={"X-Forwarded-Proto": "https"})
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    untrusted = make_app().test_client().get("/s/Q1", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in untrusted.headers
