"""The token race (issue #13): 50 different responses submitted at the same moment with the same
dossier token, against a real server; exactly one is accepted and stored, the other 49 are told
``token_already_used`` (409), never a 500.

Two servers: werkzeug in a thread (one process: the rows meet in one group insert) and
``sipas serve`` (gunicorn, 2+ worker processes: the rows meet in the database). Each on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from survey.tokens import issue_dossier_token, verify_dossier_token

from .conftest import TEST_SECRET
from .live_server import SERVER_SECRET, seed_units, sipas_serve, werkzeug_serve

RACERS = 50
URL = "/api/v1/responses"


def _token(secret: str) -> tuple[str, str]:
    """A dossier token and its token id."""
    token = issue_dossier_token(
        secret,
        agency_code="STP",
        field_code="HT",
        procedure_code="1.001",
        dossier_code="000.00.12.H56-240101-0001",
    )
    return token, verify_dossier_token(secret, token, timedelta(days=1)).token_id


def _body(index: int, token: str) -> dict[str, object]:
    """A response of its own (its id, answers and comment differ from every other racer's)."""
    return {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "token": token,
        "channel": "dossier_qr",
        "answers": {"e1_1": 1 + index % 5, "e1_2": 1 + index // 5 % 5, "sex": 1 + index % 2},
        "comment": f"racer {index}",
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }


def _race(base_url: str, token: str) -> tuple[list[dict[str, object]], list[tuple[int, dict]]]:
    """Submit RACERS responses with ``token`` at once (connected first, released together by a
    barrier); return the bodies and the (status, JSON) answers, in the same order."""
    address = urlsplit(base_url)
    bodies = [_body(i, token) for i in range(RACERS)]
    answers: list[tuple[int, dict]] = [(0, {})] * RACERS
    barrier = threading.Barrier(RACERS)

    def submit(index: int) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        try:
            connection.connect()
            barrier.wait(timeout=60)
            connection.request(
                "POST",
                URL,
                body=json.dumps(bodies[index]),
                headers={"Content-Type": "application/json"},
            )
            answer = connection.getresponse()
            raw = answer.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"raw": raw[:200].decode(errors="replace")}
            answers[index] = (answer.status, payload)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a racer never got an answer"
    return bodies, answers


def _check(database_url: str, token_id: str, bodies, answers) -> None:
    statuses = sorted(status for status, _ in answers)
    accepted = [i for i, (status, _) in enumerate(answers) if status == 201]
    refused = [a for a in answers if a[0] == 409]
    assert len(accepted) == 1, f"{len(accepted)} accepted; statuses {statuses}"
    assert len(refused) == RACERS - 1, f"statuses {statuses}: {answers}"
    assert all(a[1]["error"]["code"] == "token_already_used" for a in refused), refused
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT uuid, token_id, comment FROM responses")).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    (stored_uuid, stored_token, comment), winner = rows[0], bodies[accepted[0]]
    assert uuid.UUID(str(stored_uuid)) == uuid.UUID(str(winner["id"]))
    assert stored_token == token_id and comment == winner["comment"]


def test_fifty_concurrent_uses_of_one_token_on_werkzeug(
    app, database_url, make_agency, make_field, make_procedure
):
    make_agency("STP", name_vi="Sở Tư pháp")
    make_procedure("1.001", field=make_field("HT", name_vi="Hộ tịch"))
    token, token_id = _token(TEST_SECRET)
    with werkzeug_serve(app) as base_url:
        bodies, answers = _race(base_url, token)
    _check(database_url, token_id, bodies, answers)


def test_fifty_concurrent_uses_of_one_token_on_gunicorn(fresh_database_url, tmp_path):
    seed_units(fresh_database_url)
    token, token_id = _token(SERVER_SECRET)
    with sipas_serve(fresh_database_url, tmp_path / "serve.log") as server:
        bodies, answers = _race(server.url, token)
    _check(fresh_database_url, token_id, bodies, answers)
