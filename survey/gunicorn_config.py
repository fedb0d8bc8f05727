"""gunicorn hooks of ``sipas serve``: each worker pinned to one CPU, the same number on every CPU.

gunicorn reads this file as its configuration (``--config``, added by
:func:`survey.serving.gunicorn_argv`). The master picks the CPU of a worker before forking it
(:func:`pre_fork`) and the worker pins itself right after the fork (:func:`post_fork`), before
its threads start, so they inherit it. This is what nginx's ``worker_cpu_affinity auto`` does.

Why: left alone, the kernel's scheduler kept both gthread workers of the 2-core benchmark machine
on one CPU in 20-30 % of the moments when both had work, while the other CPU ran PostgreSQL,
Redis or nothing; pinned, never. Pinned workers take more submissions per second
(``docs/benchmarks.md``, section A, findings).

Workers are pinned only when they divide evenly over the CPUs this process may use: one worker
on two CPUs, or three on two, are left to the scheduler, which balances them better than a fixed
uneven split.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["choose_cpu", "post_fork", "pre_fork", "usable_cpus"]


def usable_cpus() -> list[int]:
    """The CPUs this process may run on: its affinity mask (e.g. a container's cpuset) where
    the system has one, else every CPU."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def choose_cpu(cpus: Sequence[int], workers: int, taken: Iterable[int | None]) -> int | None:
    """The CPU for a new worker: the one with the fewest live workers (then the lowest number).

    Parameters
    ----------
    cpus : sequence of int
        The CPUs the server may use.
    workers : int
        How many workers the server runs.
    taken : iterable of int or None
        The CPUs of the live workers (``None``: a worker that is not pinned).

    Returns
    -------
    int or None
        ``None`` when ``workers`` is not a multiple of ``len(cpus)`` (nothing is pinned).
    """
    if not cpus or workers % len(cpus):
        return None
    used = Counter(taken)
    return min(cpus, key=lambda cpu: (used[cpu], cpu))


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before the fork: choose the new worker's CPU (``worker.sipas_cpu``)."""
    worker.sipas_cpu = None
    if not hasattr(os, "sched_setaffinity"):  # not on Linux: no pinning
        return
    worker.sipas_cpu = choose_cpu(
        usable_cpus(),
        server.num_workers,
        (getattr(live, "sipas_cpu", None) for live in server.WORKERS.values()),
    )


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker, before its threads start: pin it to its CPU."""
    cpu = getattr(worker, "sipas_cpu", None)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        server.log.debug("worker %s pinned to CPU %s", os.getpid(), cpu)
