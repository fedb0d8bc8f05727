"""Real servers for tests that need concurrency across connections and processes:
``sipas serve`` (gunicorn with the production settings) and a werkzeug server in a thread.

:class:`SipasServer` runs ``sipas serve`` in a process group of its own, so that
:meth:`SipasServer.kill` can SIGKILL the gunicorn master and every worker at once (a crash), and
:meth:`SipasServer.start` bring it back on the same port and database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from survey import create_app
from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure

from .conftest import app_config, dispose_engines

# 48+ characters, as production requires of a key of one's own.
SERVER_SECRET = "live-server-test-secret-" + "k" * 40
# ``sipas serve``: the installed command, else the same entry point through this interpreter.
_SIPAS = Path(sys.executable).with_name("sipas")
SIPAS = (
    [str(_SIPAS)]
    if _SIPAS.is_file()
    else [sys.executable, "-c", "import sys; from survey.cli import main; sys.exit(main())"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_units(database_url: str) -> None:
    """Agency STP, field HT, counter Q1 (of STP, field HT) and procedure 1.001, as in
    ``tests/survey/test_api.py``."""
    app = create_app(app_config(database_url))
    try:
        with app.app_context():
            agency = Agency(code="STP", name_vi="Sở Tư pháp", name_en="Justice", level="department")
            field = Field(code="HT", name_vi="Hộ tịch", name_en="Civil status")
            db.session.add_all([agency, field])
            db.session.flush()
            db.session.add_all(
                [
                    Counter(
                        code="Q1",
                        agency_id=agency.id,
                        field_id=field.id,
                        name_vi="Quầy 1",
                        name_en="Counter 1",
                        active=True,
                    ),
                    Procedure(code="1.001", name_vi="Thủ tục", name_en="P", field_id=field.id),
                ]
            )
            db.session.commit()
    finally:
        dispose_engines(app)


class SipasServer:
    """``sipas serve --bind 127.0.0.1:<port>`` on ``database_url`` (production settings, the
    submission limit raised so that one test client is not throttled)."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "SIPAS_SECRET_KEY": SERVER_SECRET,
            "SIPAS_SQLALCHEMY_DATABASE_URI": database_url,
            "SIPAS_RATELIMIT_STORAGE_URI": "memory://",
            "SIPAS_SUBMIT_RATE_LIMIT": "1000000 per minute",
            # gunicorn's control socket ($XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/): one
            # of this server's own, not shared with other gunicorns on the machine.
            "XDG_RUNTIME_DIR": str(log.parent),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        """Start the server (``sipas serve`` execs gunicorn: the process becomes its master,
        the leader of a new process group) and wait until it answers /healthz."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*SIPAS, "serve", "--bind", f"127.0.0.1:{self.port}"],
                cwd=self.log.parent,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sipas serve did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the master and its workers (the whole process group): a crash."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _group_alive(self.process.pid):  # workers are not our children: wait for them
            assert time.monotonic() < deadline, "gunicorn workers outlived SIGKILL"
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM to the master), if it runs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def processes() -> Iterator[tuple[int, list[str]]]:
    """Every process as ``(pid, fields)``: ``/proc/<pid>/stat`` after the command name
    (state, ppid, pgrp, ...); processes that end while being read are skipped."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), stat[stat.rfind(")") + 2 :].split()


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs (zombies waiting to be reaped do not)."""
    return any(int(f[2]) == pgid and f[0] != "Z" for _pid, f in processes())


@contextmanager
def sipas_serve(database_url: str, log: Path) -> Iterator[SipasServer]:
    """A started :class:`SipasServer`, stopped at the end of the block."""
    server = SipasServer(database_url, log)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def werkzeug_serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port in a background thread (as the browser tests do); yields
    its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
