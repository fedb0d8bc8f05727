"""Rate limits (:mod:`survey.ratelimits`): only the declared methods count, per client address,
and nothing counts when limits are off."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.exceptions import TooManyRequests

from survey import ratelimits


def _app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update({"RATELIMIT_STORAGE_URI": "memory://", "DEMO_LIMIT": "2 per minute"})
    app.config.update(config)
    ratelimits.init_app(app)

    @app.route("/form", methods=["GET", "POST"])
    @ratelimits.limit("DEMO_LIMIT")
    def form() -> str:
        return "ok"

    return app


def test_only_posts_count_per_client_address():
    client = _app().test_client()
    assert [client.get("/form").status_code for _ in range(5)] == [200] * 5
    assert [client.post("/form").status_code for _ in range(3)] == [200, 200, 429]
    other = {"REMOTE_ADDR": "10.0.0.9"}
    assert client.post("/form", environ_overrides=other).status_code == 200


def test_limit_is_read_from_the_configuration_at_each_request():
    app = _app()
    client = app.test_client()
    app.config["DEMO_LIMIT"] = "1 per minute"
    assert [client.post("/form").status_code for _ in range(2)] == [200, 429]


def test_disabled_limits_never_count():
    client = _app(RATELIMIT_ENABLED=False).test_client()
    assert {client.post("/form").status_code for _ in range(10)} == {200}


def test_count_raises_when_the_budget_of_its_key_is_spent():
    app = _app(RATELIMIT_KEY_PREFIX="prov-a")
    with app.test_request_context():
        ratelimits.count("scope", "key", "1 per minute")
        with pytest.raises(TooManyRequests):
            ratelimits.count("scope", "key", "1 per minute")
        ratelimits.count("scope", "other-key", "1 per minute")
        ratelimits.count("other-scope", "key", "1 per minute")
