"""``sipas serve``: the gunicorn command line it runs (the settings the benchmark found best) and
the CPU pinning of its workers (``survey/gunicorn_config.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from survey import cli, gunicorn_config, serving

from .live_server import free_port, processes


def _served(monkeypatch, *args: str) -> list[str]:
    ran: list[list[str]] = []
    monkeypatch.setenv("SIPAS_SECRET_KEY", "serve-test-" + "0" * 40)  # serve checks it first
    monkeypatch.setattr(os, "execvp", lambda file, argv: ran.append([file, *argv]))
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    (command,) = ran
    assert command[:4] == [sys.executable, sys.executable, "-m", "gunicorn"]
    return command[4:]


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://sipas@db/sipas", "sqlite:////srv/sipas/sipas.db", None]
)
def test_serve_defaults_are_pinned_gthread_workers_one_per_cpu(monkeypatch, url):
    """The same on every database: the benchmark's best on SQLite and PostgreSQL alike."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})  # e.g. a cpuset
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    if url is None:  # the default database, a SQLite file
        monkeypatch.delenv("SIPAS_SQLALCHEMY_DATABASE_URI", raising=False)
    else:
        monkeypatch.setenv("SIPAS_SQLALCHEMY_DATABASE_URI", url)
    argv = _served(monkeypatch)
    assert argv[-1] == "survey:create_app()"
    assert _option(argv, "--bind") == "127.0.0.1:8000"
    assert _option(argv, "--workers") == "3"
    assert _option(argv, "--worker-class") == "gthread"
    assert _option(argv, "--threads") == "8"
    assert _option(argv, "--keep-alive") == str(serving.SERVE_KEEP_ALIVE)
    assert "--config" in argv and "--reuse-port" in argv
    assert "--no-control-socket" in argv  # one per user by default: servers would share it


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


def test_serve_pins_workers_unless_told_not_to(monkeypatch):
    argv = _served(monkeypatch, "--workers", "2")
    config = Path(_option(argv, "--config"))
    assert config == Path(serving.__file__).with_name("gunicorn_config.py") and config.is_file()
    assert "--config" not in _served(monkeypatch, "--workers", "2", "--no-pin-workers")


def test_serve_gives_each_worker_its_socket_unless_told_not_to(monkeypatch):
    assert "--reuse-port" in _served(monkeypatch, "--workers", "2")
    assert "--reuse-port" not in _served(monkeypatch, "--workers", "2", "--no-reuse-port")


@pytest.mark.parametrize(
    ("cpus", "workers", "taken", "chosen"),
    [
        ([0, 1], 2, [], 0),
        ([0, 1], 2, [0], 1),
        ([0, 1], 4, [0, 1, 0], 1),
        ([0, 1], 4, [0, 1, 1], 0),  # a worker on CPU 0 died: its replacement goes there
        ([2, 5], 2, [2], 5),  # the CPUs this process may use, not 0..n-1
        ([0], 3, [0, 0], 0),
        ([0, 1], 1, [], None),  # fewer workers than CPUs: the scheduler places them
        ([0, 1], 3, [0, 1], None),  # an uneven split is worse than the scheduler's
        ([0, 1, 2, 3], 4, [None, 0], 1),  # workers forked before pinning count for nothing
    ],
)
def test_choose_cpu_spreads_workers_evenly(cpus, workers, taken, chosen):
    assert gunicorn_config.choose_cpu(cpus, workers, taken) == chosen


def test_fork_hooks_pin_each_new_worker_to_its_cpu(monkeypatch):
    """The master's pre_fork chooses, the forked worker's post_fork pins (hooks run in order)."""
    pinned: list[set[int]] = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: pinned.append(set(cpus)))
    server = SimpleNamespace(
        num_workers=4, WORKERS={}, log=SimpleNamespace(debug=lambda *args: None)
    )
    for pid in range(100, 104):
        worker = SimpleNamespace()
        gunicorn_config.pre_fork(server, worker)
        gunicorn_config.post_fork(server, worker)
        server.WORKERS[pid] = worker
    assert pinned == [{0}, {1}, {0}, {1}]
    del server.WORKERS[101]  # the worker on CPU 1 died; gunicorn forks a replacement
    gunicorn_config.pre_fork(server, replacement := SimpleNamespace())
    assert replacement.sipas_cpu == 1


def _worker_cpus(master: int) -> list[set[int]]:
    """The CPU sets of the master's child processes (its workers)."""
    return [os.sched_getaffinity(pid) for pid, f in processes() if int(f[1]) == master]


def _listening_sockets(port: int) -> int:
    """Listening TCP sockets on ``port`` (``/proc/net/tcp``: local address, state 0A)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    fields = [line.split() for line in lines]
    return sum(int(f[1].split(":")[1], 16) == port and f[3] == "0A" for f in fields)


@contextmanager
def _gunicorn(argv: list[str], tmp_path: Path, ready: Callable[[int], bool]) -> Iterator[int]:
    """Run ``python -m gunicorn …`` until it answers /healthz and ``ready(master_pid)``."""
    env = {
        **os.environ,
        "SIPAS_SECRET_KEY": "test-" + "0" * 40,
        "SIPAS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'serve.db'}",
        "SIPAS_RATELIMIT_STORAGE_URI": "memory://",
    }
    bind = argv[argv.index("--bind") + 1]
    master = subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{bind}/healthz", timeout=5) as r:
                    assert r.status == 200
                if ready(master.pid):
                    break
            except OSError:
                pass
            assert master.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield master.pid
    finally:
        master.terminate()
        master.wait(timeout=30)


@pytest.mark.parametrize("pin", [True, False])
def test_gunicorn_workers_run_on_their_own_cpus(tmp_path, pin):
    """A real gunicorn with ``sipas serve``'s command line, one worker per CPU."""
    cpus = os.sched_getaffinity(0)
    argv = serving.gunicorn_argv(f"127.0.0.1:{free_port()}", len(cpus), pin_workers=pin)
    with _gunicorn(argv, tmp_path, lambda master: len(_worker_cpus(master)) == len(cpus)) as pid:
        workers = _worker_cpus(pid)
    if pin:
        assert sorted(workers, key=min) == [{cpu} for cpu in sorted(cpus)]
    else:
        assert workers == [cpus] * len(cpus)


@pytest.mark.parametrize("reuse_port", [True, False])
def test_gunicorn_workers_listen_on_sockets_of_their_own(tmp_path, reuse_port):
    """With SO_REUSEPORT each of the 3 workers binds its own socket; without, they share one."""
    port = free_port()
    argv = serving.gunicorn_argv(f"127.0.0.1:{port}", 3, pin_workers=False, reuse_port=reuse_port)
    expected = 3 if reuse_port else 1

    def ready(master: int) -> bool:  # every worker forked, and as many sockets as expected bound
        return len(_worker_cpus(master)) == 3 and _listening_sockets(port) >= expected

    with _gunicorn(argv, tmp_path, ready):
        sockets = _listening_sockets(port)
    assert sockets == expected
