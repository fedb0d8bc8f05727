"""``sipas serve``: the gunicorn command line it runs (the settings the benchmark found best)."""

from __future__ import annotations

import os
import sys

import pytest
from click.testing import CliRunner

from survey import cli, serving


def _served(monkeypatch, *args: str) -> list[str]:
    ran: list[list[str]] = []
    monkeypatch.setattr(os, "execvp", lambda file, argv: ran.append([file, *argv]))
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    (command,) = ran
    assert command[:4] == [sys.executable, sys.executable, "-m", "gunicorn"]
    return command[4:]


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize(
    ("url", "workers_per_cpu", "worker_class"),
    [
        ("postgresql+psycopg://sipas@db/sipas", 1, "gthread"),
        ("sqlite:////srv/sipas/sipas.db", 2, "sync"),
        (None, 2, "sync"),  # the default database is a SQLite file
    ],
)
def test_serve_defaults_follow_the_database(monkeypatch, url, workers_per_cpu, worker_class):
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    if url is None:
        monkeypatch.delenv("SIPAS_SQLALCHEMY_DATABASE_URI", raising=False)
    else:
        monkeypatch.setenv("SIPAS_SQLALCHEMY_DATABASE_URI", url)
    argv = _served(monkeypatch)
    assert argv[-1] == "survey:create_app()"
    assert _option(argv, "--bind") == "127.0.0.1:8000"
    assert _option(argv, "--workers") == str(3 * workers_per_cpu)
    assert _option(argv, "--worker-class") == worker_class
    if worker_class == "gthread":
        assert _option(argv, "--threads") == "4"
        assert _option(argv, "--keep-alive") == str(serving.SERVE_KEEP_ALIVE)
    else:
        assert "--threads" not in argv and "--keep-alive" not in argv


def test_serve_with_threads_and_keep_alive(monkeypatch):
    argv = _served(monkeypatch, "--workers", "2", "--threads", "8", "--keep-alive", "7")
    assert _option(argv, "--workers") == "2"
    assert _option(argv, "--worker-class") == "gthread"
    assert _option(argv, "--threads") == "8" and _option(argv, "--keep-alive") == "7"


def test_serve_with_one_thread_uses_sync_workers(monkeypatch):
    monkeypatch.setenv("SIPAS_SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://sipas@db/sipas")
    argv = _served(monkeypatch, "--threads", "1")
    assert _option(argv, "--worker-class") == "sync"
    assert "--threads" not in argv and "--keep-alive" not in argv


def test_serve_refuses_nonsense(monkeypatch):
    monkeypatch.setattr(os, "execvp", lambda *_: None)
    result = CliRunner().invoke(cli.main, ["serve", "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output
