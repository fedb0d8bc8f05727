"""The rate-limit store down: submissions are still stored (limited per process), the switch is
logged once, ``/readyz`` reports it, and the shared store is used again when it is back.

Runs against real Redis: a closed port for "down", and ``SIPAS_TEST_REDIS_URL`` behind a TCP relay
that the test opens and closes for "back".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Response

URL = "/api/v1/responses"
REDIS_ENV = "SIPAS_TEST_REDIS_URL"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Relay:
    """A TCP relay from a local port to Redis, which the test can open and close."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def open(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis tests need {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
def relay(redis_url: str) -> Iterator[Relay]:
    parts = urlsplit(redis_url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield relay
    relay.close()


@pytest.fixture
def units(make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))


def body() -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {"e1_1": 5},
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }


def stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Response))


def fallback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "rate-limit store" in r.getMessage()]


def test_submissions_survive_a_closed_redis_port(make_app, units, caplog):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
        SIPAS_SUBMIT_RATE_LIMIT="3 per minute",
    )
    client = app.test_client()
    caplog.set_level(logging.INFO)
    codes = [client.post(URL, json=body()).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]  # still limited, per process
    assert stored(app) == 3
    page = client.get("/s/Q1")  # the citizen form's limit falls back the same way
    assert page.status_code == 200
    warnings = fallback_records(caplog)
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "per-process" in warnings[0].getMessage()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {
        "status": "degraded",
        "database": {"ok": True},
        "rate_limit_store": {"enabled": True, "ok": False, "fallback": True},
        "aggregates": [],
    }
    assert len(fallback_records(caplog)) == 1  # the probe does not log again


def test_the_shared_store_is_used_again_when_it_is_back(make_app, units, relay, caplog):
    prefix = f"fallback-test-{uuid.uuid4().hex[:8]}"
    db_index = urlsplit(os.environ[REDIS_ENV]).path.lstrip("/") or "0"
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{relay.port}/{db_index}",
        RATELIMIT_KEY_PREFIX=prefix,
        RATELIMIT_FALLBACK_RETRY_SECONDS=0,
        SIPAS_SUBMIT_RATE_LIMIT="100 per minute",
    )
    client = app.test_client()
    caplog.set_level(logging.INFO)
    assert client.post(URL, json=body()).status_code == 201  # relay closed: store down
    assert client.get("/readyz").json["rate_limit_store"]["fallback"] is True
    relay.open()
    assert client.post(URL, json=body()).status_code == 201
    assert client.post(URL, json=body()).status_code == 201
    direct = redis.Redis.from_url(os.environ[REDIS_ENV])
    try:
        keys = direct.keys(f"*{prefix}*")
        assert keys, "the counts are in Redis again"
        assert sum(int(direct.get(k) or 0) for k in keys) == 2
        direct.delete(*keys)
    finally:
        direct.close()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready"
    assert ready.json["rate_limit_store"] == {"enabled": True, "ok": True, "fallback": False}
    messages = [r.getMessage() for r in fallback_records(caplog)]
    assert len(messages) == 2 and "reachable again" in messages[1]


def test_readyz_with_a_memory_store_and_without_a_database(tmp_path):
    from survey import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'no.db'}",
            "RATELIMIT_ENABLED": True,
        }
    )
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {
        "status": "not_ready",
        "database": {"ok": False},
        "rate_limit_store": {"enabled": True, "ok": True, "fallback": False},
        "aggregates": [],
    }
    assert "Set-Cookie" not in answer.headers
