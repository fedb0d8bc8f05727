"""``sipas demo`` and ``sipas serve``: run the application (a demo province, or gunicorn).

Both commands are mounted lazily on the ``sipas`` group by :mod:`survey.cli`. ``serve`` replaces
the current process with gunicorn, using the settings the submission benchmark found best
(:func:`gunicorn_argv`, which ``benchmarks/submissions.py`` also uses).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path

import click
from sqlalchemy.engine import URL, make_url

from survey.access_log import LOGGER_CLASS
from survey.gunicorn_config import usable_cpus

__all__ = [
    "SERVE_BACKLOG",
    "SERVE_KEEP_ALIVE",
    "SERVE_THREADS",
    "SERVE_WORKERS_PER_CPU",
    "demo",
    "describe_setup",
    "gunicorn_argv",
    "serve",
    "serve_defaults",
]

# gunicorn settings of ``sipas serve``, the best the submission benchmark found on SQLite and on
# PostgreSQL alike (docs/benchmarks.md, section A): gthread workers, 1 per CPU core, each
# pinned to its core (survey/gunicorn_config.py), with 8 threads, keep-alive, and a listening
# socket of its own (SO_REUSEPORT). A sync worker sits idle while its one request waits for the
# database or Redis. 8 threads: the write path commits concurrent submissions together (group
# commit), so more threads waiting for the database means more rows per INSERT. Sockets of their
# own: the kernel spreads new connections evenly over the workers; with one shared socket,
# whichever worker woke first took them, and a benchmark's 32 kept-alive connections could all
# land on one worker (one core idle for the whole run).
# ``--workers`` and ``--threads`` override them; ``--threads 1`` means sync workers.
SERVE_WORKERS_PER_CPU = 1
SERVE_THREADS = 8
SERVE_KEEP_ALIVE = 5
SERVE_BACKLOG = 2048


@click.command()
@click.option("--port", default=5000, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option(
    "--responses",
    "n_responses",
    type=click.IntRange(min=0),
    default=5000,
    show_default=True,
    help="Responses to seed into a new demo database.",
)
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file.")
@click.option(
    "--db-url",
    help="Any database instead of a SQLite file (a SQLAlchemy URL, e.g. "
    "postgresql+psycopg://user@host/dbname); migrated first. It must be empty or hold the demo.",
)
@click.option("--fresh", is_flag=True, help="Delete the demo's SQLite file first.")
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the server.")
@click.option("--seed", "random_seed", default=2024, show_default=True, help="Random seed.")
@click.option(
    "--reset-logins",
    is_flag=True,
    help="Give the demo accounts new passwords and print them (existing sessions end).",
)
def demo(
    port: int,
    host: str,
    n_responses: int,
    database: Path | None,
    db_url: str | None,
    fresh: bool,
    no_serve: bool,
    random_seed: int,
    reset_logins: bool,
) -> None:
    """Create a demo province with synthetic responses (SQLite by default), then serve it."""
    from survey.demo import run_demo

    run_demo(
        host=host,
        port=port,
        n_responses=n_responses,
        database=database,
        db_url=db_url,
        fresh=fresh,
        serve=not no_serve,
        random_seed=random_seed,
        reset_logins=reset_logins,
    )


def gunicorn_argv(
    bind: str,
    workers: int,
    threads: int = 1,
    keep_alive: int = SERVE_KEEP_ALIVE,
    *,
    pin_workers: bool = True,
    reuse_port: bool = True,
) -> list[str]:
    """The gunicorn command line of ``sipas serve`` (without the interpreter).

    ``threads`` = 1 gives sync workers (one request at a time per process, each connection closed
    after its answer); more gives gthread workers that keep idle connections open
    ``keep_alive`` seconds. The heartbeat file lives in ``/dev/shm`` when there is one (gunicorn
    touches it on every request). ``pin_workers`` loads :mod:`survey.gunicorn_config`, which
    pins each worker to one CPU when the workers divide evenly over the CPUs. ``reuse_port``
    gives each worker a listening socket of its own (``SO_REUSEPORT``), over which the kernel
    spreads new connections evenly; the price is that connections still queued on a worker that
    dies are reset rather than taken by the others.
    """
    argv = ["gunicorn", "--bind", bind, "--workers", str(workers), "--backlog", str(SERVE_BACKLOG)]
    # An access log, when one is turned on (--access-logfile in GUNICORN_CMD_ARGS), holds no
    # dossier token (survey.access_log).
    argv += ["--logger-class", LOGGER_CLASS]
    # No gunicornc control socket: its default path (~/.gunicorn/gunicorn.ctl) is one per user,
    # so a second server on the host (a second province, a test) would take it over.
    argv += ["--no-control-socket"]
    if pin_workers:
        argv += ["--config", str(Path(__file__).with_name("gunicorn_config.py"))]
    if reuse_port:
        argv += ["--reuse-port"]
    if threads > 1:
        argv += ["--worker-class", "gthread", "--threads", str(threads)]
        argv += ["--keep-alive", str(keep_alive)]
    else:
        argv += ["--worker-class", "sync"]
    if Path("/dev/shm").is_dir():
        argv += ["--worker-tmp-dir", "/dev/shm"]
    return [*argv, "survey:create_app()"]


def serve_defaults() -> tuple[int, int]:
    """``(workers, threads)`` for this machine: :data:`SERVE_WORKERS_PER_CPU` per CPU this
    process may run on (:func:`survey.gunicorn_config.usable_cpus`, the CPUs the workers are
    pinned to) and :data:`SERVE_THREADS`."""
    return SERVE_WORKERS_PER_CPU * len(usable_cpus()), SERVE_THREADS


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Gunicorn worker processes [default: 1 per CPU core].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Threads per worker; 1 gives sync workers, more gthread workers with keep-alive "
    f"[default: {SERVE_THREADS}].",
)
@click.option(
    "--keep-alive",
    type=click.IntRange(min=0),
    default=SERVE_KEEP_ALIVE,
    show_default=True,
    help="Seconds an idle connection stays open (gthread workers only).",
)
@click.option(
    "--pin-workers/--no-pin-workers",
    default=True,
    show_default=True,
    help="Pin each worker to one CPU when the workers divide evenly over the CPUs.",
)
@click.option(
    "--reuse-port/--no-reuse-port",
    default=True,
    show_default=True,
    help="Give each worker a listening socket of its own (SO_REUSEPORT), so that the kernel "
    "spreads connections evenly over the workers.",
)
def serve(
    bind: str,
    workers: int | None,
    threads: int | None,
    keep_alive: int,
    pin_workers: bool,
    reuse_port: bool,
) -> None:
    """Serve the application with gunicorn (configure it with SIPAS_* variables).

    First it says which database and which secret key the workers will use (and whether they
    are the demo's), and stops if the configuration would not start.

    The worker settings default to the best the benchmark found (:func:`serve_defaults`). Put a
    buffering reverse proxy (nginx) in front of it on the Internet: a worker thread serves one
    request at a time, so slow clients must not hold it.
    """
    for line in describe_setup():
        click.echo(line, err=True)
    default_workers, default_threads = serve_defaults()
    workers = workers or default_workers
    threads = threads or default_threads
    argv = gunicorn_argv(
        bind, workers, threads, keep_alive, pin_workers=pin_workers, reuse_port=reuse_port
    )
    os.execvp(sys.executable, [sys.executable, "-m", *argv])


def describe_setup(environ: Mapping[str, str] | None = None) -> list[str]:
    """Lines that say which database (password hidden) and secret key ``sipas serve`` uses,
    and plainly whether they are those of ``sipas demo``.

    Raises
    ------
    click.ClickException
        The configuration cannot start (:class:`survey.ConfigurationError`).
    """
    from flask import Flask

    from survey import SECRET_KEY_SOURCE, ConfigurationError, load_config
    from survey.config import DEFAULT_INSTANCE_DB

    app = Flask("survey", instance_relative_config=True)
    try:
        load_config(app, environ=environ)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    shown = url.render_as_string(hide_password=True)
    default_db = Path(app.instance_path) / DEFAULT_INSTANCE_DB
    database = f"Database: {shown}"
    if _holds_demo(url):
        database += (
            " - the DEMO database of `sipas demo` (Tỉnh Demo, synthetic responses); "
            "set SIPAS_SQLALCHEMY_DATABASE_URI to serve a real one"
        )
    elif url.get_backend_name() == "sqlite" and _same_file(url.database, default_db):
        database += " (the default SQLite file in the instance folder)"
    source = app.extensions[SECRET_KEY_SOURCE]
    key = f"Secret key: {source}"
    if "sipas demo" in source:
        key += " - the DEMO's key; set SIPAS_SECRET_KEY to a key of your own for production"
    return [database, key]


def _same_file(database: str | None, path: Path) -> bool:
    return bool(database) and Path(str(database)).resolve() == path.resolve()


def _holds_demo(url: URL) -> bool:
    """True when ``url`` is a SQLite file that holds the demo province (read-only look)."""
    from survey.demo import DEMO_AGENCY

    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    path = Path(str(url.database))
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
            row = connection.execute(
                "SELECT 1 FROM agencies WHERE code = ?", (DEMO_AGENCY,)
            ).fetchone()
    except sqlite3.Error:
        return False
    return row is not None
