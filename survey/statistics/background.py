"""Keep the summary of sufficient statistics fresh from the serving processes.

Every ``SIPAS_AGGREGATES_REFRESH_SECONDS`` (default 60; ``0`` turns it off) a daemon thread of
each serving worker, started at the worker's first request (command-line uses of the app serve
none; testing apps never start it), tries to become the refresher: on PostgreSQL it takes a
session-level ``pg_try_advisory_lock``, on SQLite a non-blocking ``flock`` on a file beside the
database. The worker that gets it runs ``sipas aggregates refresh`` in a child process and
waits for it, holding the gate; the others skip the round. The child refreshes every form with
stored responses (:func:`survey.statistics.summary.refresh_in_steps`: read and tabulated
before one short write transaction; a form without a summary yet is built). Its tabulation is
CPU work that would hold the worker's interpreter lock for seconds if it ran in the worker,
delaying the citizens' submissions that the worker's threads serve; in a child it only shares
the CPUs. So one refresh runs at a time across the workers (and across hosts on PostgreSQL),
and a crash or a killed worker leaves the previous summary.
"""

from __future__ import annotations

import fcntl
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

__all__ = ["install", "refresh_in_child", "refresh_once", "refresher_gate", "start_refresher"]

_GATE_KEY = 0x5195A6  # pg_try_advisory_lock key of the background refresher


@contextmanager
def refresher_gate(engine: Engine) -> Iterator[bool]:
    """Whether this process is the refresher for this round (never waits)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            held = bool(connection.execute(select(func.pg_try_advisory_lock(_GATE_KEY))).scalar())
            connection.commit()
            try:
                yield held
            finally:
                if held:
                    connection.execute(select(func.pg_advisory_unlock(_GATE_KEY)))
                    connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    path = Path(f"{database}.refresh-lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refresh_once(app: Flask) -> list[str]:
    """One round: refresh every form's summary if this process holds the gate; returns what
    was done, one line per form (empty when another process is the refresher)."""
    from survey import repository
    from survey.extensions import db
    from survey.statistics import summary

    done: list[str] = []
    with app.app_context(), refresher_gate(db.engine) as held:
        if not held:
            return done
        with db.engine.connect() as connection:
            form_ids = summary.summarised_forms(connection)
        for form_id in form_ids:
            try:
                form: Any = repository.load_form(form_id)
            except (KeyError, ValueError):  # responses of a form no longer shipped
                continue
            result = summary.refresh_in_steps(db.engine, form)
            done.append(
                f"{form_id}: rebuilt" if result.rebuilt else f"{form_id}: {result.added} added"
            )
    return done


_CHILD = "import sys; from survey.cli import main; sys.exit(main())"


def refresh_in_child(app: Flask) -> bool:
    """One round: if this process holds the gate, run ``sipas aggregates refresh`` in a child
    process on the app's database and wait for it; returns whether it ran. A failed refresh is
    logged with the end of its output."""
    from survey.extensions import db

    with app.app_context(), refresher_gate(db.engine) as held:
        if not held:
            return False
        environment = os.environ | {
            "SIPAS_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SIPAS_SECRET_KEY": str(app.config["SECRET_KEY"]),
        }
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, "aggregates", "refresh"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            app.logger.warning(
                "sipas aggregates refresh failed (exit %s): %s",
                done.returncode,
                (done.stderr or done.stdout)[-2000:],
            )
        else:
            app.logger.info("statistics summary refreshed: %s", done.stdout.strip())
        return True


def start_refresher(app: Flask, interval: float) -> threading.Thread:
    """Run :func:`refresh_in_child` every ``interval`` seconds (first after a random part of it,
    so that workers started together do not all try at once) in a daemon thread; errors are
    logged, never raised. The thread is also ``app.extensions["sipas_aggregates_refresher"]``."""
    stop = threading.Event()

    def run() -> None:
        delay = random.uniform(0.1, 1.0) * interval
        while not stop.wait(delay):
            try:
                refresh_in_child(app)
            except Exception:  # the database down, a migration not applied yet
                app.logger.warning("refreshing the statistics summary failed", exc_info=True)
            delay = interval

    thread = threading.Thread(target=run, name=f"aggregates-refresh-{os.getpid()}", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    app.extensions["sipas_aggregates_refresher"] = thread
    thread.start()
    return thread


def install(app: Flask, interval: float) -> None:
    """Start :func:`start_refresher` at the worker's first request (once per process)."""
    started = threading.Event()

    @app.before_request
    def _start_once() -> None:
        if not started.is_set():
            started.set()
            start_refresher(app, interval)
