"""The crash test (issue #13): submissions with client retries against the real gunicorn server
(``sipas serve``), SIGKILL of the master and its workers mid-load, restart on the same database;
every acknowledged response is stored exactly once (SQLite and PostgreSQL).

A few client threads send :data:`SUBMISSIONS` responses, each with its own client-generated id,
over kept-alive connections, and retry each one until it is acknowledged: 201 (created) or 200
(duplicate: the same id with the same content was already stored; the answer to a retry of a
response committed just before the crash, whose first answer was lost). After a third of them
the whole gunicorn process group is SIGKILLed and ``sipas serve`` started again on the same port;
the clients keep retrying meanwhile. At the end the database holds every id exactly once, with
the content it was sent with, and nothing else.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from .live_server import SipasServer, seed_units

SUBMISSIONS = 2000
CLIENTS = 6
KILL_AFTER = SUBMISSIONS // 3
DEADLINE_SECONDS = 240  # a stuck client fails the test instead of hanging it
URL = "/api/v1/responses"
ACKNOWLEDGED = {201: "created", 200: "duplicate"}


def _bodies(rng: random.Random) -> list[dict[str, object]]:
    started = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    return [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "form_id": "sipas-counter",
            "form_version": 1,
            "counter_code": "Q1",
            "channel": "kiosk",
            "answers": {"e1_1": rng.randint(1, 5), "e1_2": rng.randint(0, 5), "sex": 1},
            "comment": f"crash test {index}",
            "started_at": started,
        }
        for index in range(SUBMISSIONS)
    ]


class Load:
    """The clients' shared record: acknowledgements, answers that are not, connection errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, int] = {}  # id -> status of its acknowledgement
        self.acks = 0  # acknowledgements received (a second one for an id would be a bug)
        self.other: list[tuple[str, int, bytes]] = []  # non-acknowledging HTTP answers
        self.lost = 0  # requests without an answer (connection refused, reset, closed)
        self.deadline = time.monotonic() + DEADLINE_SECONDS

    def client(self, host: str, port: int, bodies: list[dict[str, object]]) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            for body in bodies:
                self._until_acknowledged(connection, body)
        finally:
            connection.close()

    def _until_acknowledged(self, connection, body: dict[str, object]) -> None:
        payload = json.dumps(body)
        while time.monotonic() < self.deadline:
            try:
                connection.request(
                    "POST", URL, body=payload, headers={"Content-Type": "application/json"}
                )
                answer = connection.getresponse()
                raw = answer.read()
            except (OSError, http.client.HTTPException):
                connection.close()  # the next request connects again
                with self.lock:
                    self.lost += 1
                time.sleep(0.05)
                continue
            if answer.status in ACKNOWLEDGED and json.loads(raw)["id"] == body["id"]:
                with self.lock:
                    self.acks += 1
                    self.acked[str(body["id"])] = answer.status
                return
            with self.lock:
                self.other.append((str(body["id"]), answer.status, raw[:300]))
            if answer.status < 500:
                return  # refused: retrying the same request would be refused again
            time.sleep(0.05)
        raise AssertionError(f"{body['id']} not acknowledged within {DEADLINE_SECONDS} s")


def _stored(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT uuid, comment FROM responses")).all()
    finally:
        engine.dispose()
    return [(str(uuid.UUID(str(row[0]))), row[1]) for row in rows]


def test_sigkill_mid_load_loses_and_duplicates_no_acknowledged_response(
    fresh_database_url, tmp_path
):
    seed_units(fresh_database_url)
    bodies = _bodies(random.Random(13))
    load = Load()
    server = SipasServer(fresh_database_url, tmp_path / "serve.log")
    server.start()
    try:
        clients = [
            threading.Thread(
                target=load.client, args=("127.0.0.1", server.port, bodies[k::CLIENTS])
            )
            for k in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        while load.acks < KILL_AFTER and any(t.is_alive() for t in clients):
            time.sleep(0.01)
        server.kill()
        acked_at_kill = load.acks
        server.start()
        for thread in clients:
            thread.join(timeout=DEADLINE_SECONDS)
        assert not any(thread.is_alive() for thread in clients), "a client is stuck"
    finally:
        server.stop()

    # The crash came mid-load, and the clients saw it.
    assert KILL_AFTER <= acked_at_kill < SUBMISSIONS, acked_at_kill
    assert load.lost > 0, "no request failed: the kill missed the load"
    # Every submission was acknowledged once, none refused or answered with an error.
    assert load.other == [], (load.other[:5], server.log_tail())
    assert load.acks == len(load.acked) == SUBMISSIONS
    # The database holds each acknowledged id exactly once, with its content, and nothing else.
    stored = _stored(fresh_database_url)
    copies = Counter(uuid_text for uuid_text, _ in stored)
    assert [i for i, n in copies.items() if n > 1] == []
    assert set(copies) == set(load.acked) == {str(b["id"]) for b in bodies}
    assert len(stored) == SUBMISSIONS
    comments = {str(b["id"]): b["comment"] for b in bodies}
    assert all(comment == comments[uuid_text] for uuid_text, comment in stored)
    print(
        f"acknowledged {acked_at_kill} before the kill; {load.lost} requests lost to the crash, "
        f"{Counter(load.acked.values())[200]} retries answered 'duplicate'"
    )
