"""``sipas demo`` and ``sipas serve``: run the application (a demo province, or gunicorn).

Both commands are mounted lazily on the ``sipas`` group by :mod:`survey.cli`. ``serve`` replaces
the current process with gunicorn, using the settings the submission benchmark found best
(:func:`gunicorn_argv`, which ``benchmarks/submissions.py`` also uses).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from survey.gunicorn_config import usable_cpus

__all__ = [
    "SERVE_BACKLOG",
    "SERVE_KEEP_ALIVE",
    "SERVE_THREADS",
    "SERVE_WORKERS_PER_CPU",
    "demo",
    "gunicorn_argv",
    "serve",
    "serve_defaults",
]

# gunicorn settings of ``sipas serve``, the best the submission benchmark found on SQLite and on
# PostgreSQL alike (issue #2; docs/benchmarks.md, section A): gthread workers, 1 per CPU core, each
# pinned to its core (survey/gunicorn_config.py), with 4 threads and keep-alive. A sync worker sits
# idle while its one request waits for the database or Redis. Until the workers were pinned, sync
# workers (2 per core) were faster on SQLite; pinned, gthread 2x4 was the fastest configuration on
# both databases in every round on the 2-core benchmark machine.
# ``--workers`` and ``--threads`` override them; ``--threads 1`` means sync workers.
SERVE_WORKERS_PER_CPU = 1
SERVE_THREADS = 4
SERVE_KEEP_ALIVE = 5
SERVE_BACKLOG = 2048


@click.command()
@click.option("--port", default=5000, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--responses", "n_responses", default=5000, show_default=True)
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file.")
@click.option("--fresh", is_flag=True, help="Delete the demo database first.")
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the server.")
@click.option("--seed", "random_seed", default=2024, show_default=True, help="Random seed.")
def demo(
    port: int,
    host: str,
    n_responses: int,
    database: Path | None,
    fresh: bool,
    no_serve: bool,
    random_seed: int,
) -> None:
    """Create a demo province in SQLite with synthetic responses, then serve it."""
    from survey.demo import run_demo

    run_demo(
        host=host,
        port=port,
        n_responses=n_responses,
        database=database,
        fresh=fresh,
        serve=not no_serve,
        random_seed=random_seed,
    )


def gunicorn_argv(
    bind: str,
    workers: int,
    threads: int = 1,
    keep_alive: int = SERVE_KEEP_ALIVE,
    *,
    pin_workers: bool = True,
) -> list[str]:
    """The gunicorn command line of ``sipas serve`` (without the interpreter).

    ``threads`` = 1 gives sync workers (one request at a time per process, each connection closed
    after its answer); more gives gthread workers that keep idle connections open
    ``keep_alive`` seconds. The heartbeat file lives in ``/dev/shm`` when there is one (gunicorn
    touches it on every request). ``pin_workers`` loads :mod:`survey.gunicorn_config`, which
    pins each worker to one CPU when the workers divide evenly over the CPUs.
    """
    argv = ["gunicorn", "--bind", bind, "--workers", str(workers), "--backlog", str(SERVE_BACKLOG)]
    if pin_workers:
        argv += ["--config", str(Path(__file__).with_name("gunicorn_config.py"))]
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
    "[default: 4].",
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
def serve(
    bind: str, workers: int | None, threads: int | None, keep_alive: int, pin_workers: bool
) -> None:
    """Serve the application with gunicorn (configure it with SIPAS_* variables).

    The worker settings default to the best the benchmark found (:func:`serve_defaults`). Put a
    buffering reverse proxy (nginx) in front of it on the Internet: a worker thread serves one
    request at a time, so slow clients must not hold it.
    """
    default_workers, default_threads = serve_defaults()
    workers = workers or default_workers
    threads = threads or default_threads
    argv = gunicorn_argv(bind, workers, threads, keep_alive, pin_workers=pin_workers)
    os.execvp(sys.executable, [sys.executable, "-m", *argv])
