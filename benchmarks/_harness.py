"""Shared plumbing of the benchmark drivers: timed processes, machine facts, background load.

Nothing here is imported by the project packages; the drivers (``stats.py``,
``submissions.py``) run it from the command line.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "DOCS_FILE",
    "OUT_DIR",
    "PG_ADMIN",
    "Background",
    "Timed",
    "connections_per_child",
    "machine",
    "replace_section",
    "run_timed",
    "scratch_database",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
DOCS_FILE = REPO / "docs" / "benchmarks.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# createdb / dropdb options for the PostgreSQL on this machine (trust auth).
PG_ADMIN = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


@contextmanager
def scratch_database(kind: str, label: str) -> Iterator[str]:
    """A fresh database migrated to the newest schema; yields its SQLAlchemy URL.

    SQLite: a file in a new temporary folder. PostgreSQL: ``sipas_<label>_<pid>`` on
    127.0.0.1:5432, dropped on exit (the caller disposes of its engines first).
    """
    from survey.migrations import upgrade

    name = f"sipas_{label}_{os.getpid()}"
    if kind == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix=f'sipas-{label}-')) / 'bench.db'}"
    else:
        subprocess.run(["createdb", *PG_ADMIN, name], check=True)
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        if kind == "postgres":
            subprocess.run(["dropdb", *PG_ADMIN, "--if-exists", "--force", name], check=True)


@dataclass(frozen=True)
class Timed:
    """One whole process measured by ``/usr/bin/time -v``.

    Attributes
    ----------
    command : list of str
        The command as run (without the ``time`` wrapper).
    returncode : int
        The command's exit status.
    wall_s, user_s, sys_s : float
        Elapsed, user-CPU and system-CPU seconds.
    peak_rss_mb : float
        Maximum resident set size in MiB (of the largest process of the tree).
    stdout, stderr : str
        Captured output (the ``time`` report removed from stderr).
    timings : dict
        ``TIMING <step> <seconds>`` lines printed by the command.
    """

    command: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds."""
        return self.user_s + self.sys_s


def _parse_elapsed(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def run_timed(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Timed:
    """Run ``command`` under ``/usr/bin/time -v`` and return its measurements.

    ``log`` (if given) receives the command line, stdout and stderr.
    """
    marker = "@@TIME@@"
    full = ["/usr/bin/time", "-v", "--", *command]
    proc = subprocess.run(
        full,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or REPO,
        check=False,
    )
    stderr = proc.stderr.replace("\tCommand being timed:", marker + "\tCommand being timed:", 1)
    own, _, report = stderr.rpartition(marker) if marker in stderr else (stderr, "", "")

    def grab(label: str) -> str:
        match = re.search(rf"{re.escape(label)}: (.+)", report)
        return match.group(1).strip() if match else "0"

    timings = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^TIMING (\S+) ([0-9.]+)$", proc.stdout, re.MULTILINE)
    }
    exit_status = int(grab("Exit status")) if "Exit status" in report else proc.returncode
    timed = Timed(
        command=list(command),
        returncode=exit_status,
        wall_s=_parse_elapsed(grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")),
        user_s=float(grab("User time (seconds)")),
        sys_s=float(grab("System time (seconds)")),
        peak_rss_mb=int(grab("Maximum resident set size (kbytes)")) / 1024,
        stdout=proc.stdout,
        stderr=own,
        timings=timings,
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"$ {shlex.join(command)}\n--- stdout\n{proc.stdout}\n--- stderr\n{stderr}",
            encoding="utf-8",
        )
    return timed


def _cpu_times() -> list[int]:
    """Jiffies of the whole machine by state (user, nice, system, idle, iowait, irq, softirq,
    steal, ...) from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        return [int(v) for v in fh.readline().split()[1:]]


def machine_cpu_shares(before: Sequence[int], after: Sequence[int]) -> dict[str, float]:
    """Percent of the machine's CPU time between two :func:`_cpu_times` readings that was busy
    (user, system, interrupts), idle, waiting for the disk (iowait) or taken by the hypervisor
    for other guests (steal)."""
    delta = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(delta[:8]) or 1
    idle, iowait, steal = delta[3], delta[4], delta[7]
    return {
        "busy": 100 * (total - idle - iowait - steal) / total,
        "idle": 100 * idle / total,
        "iowait": 100 * iowait / total,
        "steal": 100 * steal / total,
    }


def host_probe(directory: Path, flushes: int = 100) -> dict[str, float]:
    """How fast the host is right now, by the same work every time (≈ 0.2 s).

    ``loop_ms``: 2 million additions in one Python thread; it takes longer when the host gives
    this machine less CPU (or slower CPU). ``fdatasync_ms`` and ``fdatasync_p99_ms``: median and
    99th percentile of ``flushes`` writes of 8 kB each followed by ``fdatasync`` in
    ``directory``, as a PostgreSQL commit flushes its WAL.
    """
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    loop_ms = 1000 * (time.perf_counter() - start)
    path = directory / "fdatasync.probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = b"\0" * 8192
        for _ in range(flushes):
            t0 = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            times.append(1000 * (time.perf_counter() - t0))
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return {
        "loop_ms": loop_ms,
        "fdatasync_ms": times[len(times) // 2],
        "fdatasync_p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
    }


def _process_jiffies() -> dict[int, tuple[int, str]]:
    """Return {pid: (utime + stime jiffies, short command line)} for every process."""
    return {pid: (jiffies, cmd) for pid, (jiffies, cmd, _ppid) in _processes().items()}


def _processes() -> dict[int, tuple[int, str, int]]:
    """Return {pid: (utime + stime jiffies, short command line, parent pid)} for every process."""
    out: dict[int, tuple[int, str, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        jiffies = int(fields[11]) + int(fields[12])
        out[int(entry.name)] = (jiffies, cmd[:160] or stat[:40], int(fields[1]))
    return out


def connections_per_child(parent: int, port: int) -> list[int]:
    """Established TCP connections to local ``port`` held by each child process of ``parent``
    (e.g. a gunicorn master's workers), largest first: ``/proc/net/tcp`` gives the sockets'
    inodes, each child's ``/proc/<pid>/fd`` the ones it holds."""
    with open("/proc/net/tcp", encoding="ascii") as fh:
        rows = [line.split() for line in fh.read().splitlines()[1:]]
    established = {
        f"socket:[{r[9]}]" for r in rows if int(r[1].split(":")[1], 16) == port and r[3] == "01"
    }
    counts = []
    for pid, (_jiffies, _cmd, ppid) in _processes().items():
        if ppid != parent:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            held = sum(_readlink(f"/proc/{pid}/fd/{fd}") in established for fd in fds)
        except OSError:
            continue
        counts.append(held)
    return sorted(counts, reverse=True)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


class Background:
    """Measure what else used the CPU while a benchmark ran.

    Use as a context manager around the measured work; ``exclude`` is a predicate on a command
    line (the benchmark's own processes). After exit: ``busy_cpu_s`` (all processes),
    ``others`` (the top other processes by CPU seconds), ``own`` (every excluded process, i.e.
    the benchmark's own, with its CPU seconds), ``loadavg`` (at entry) and ``machine`` (percent
    of the machine's CPU time busy, idle, in iowait and stolen, :func:`machine_cpu_shares`).
    """

    def __init__(self, exclude_patterns: Sequence[str] = (), interval: float = 1.0) -> None:
        self.exclude = [re.compile(p) for p in exclude_patterns]
        self.interval = interval
        self.loadavg = os.getloadavg()
        self.busy_cpu_s = 0.0
        self.wall_s = 0.0
        self.others: list[tuple[str, float]] = []
        self.own: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu: dict[str, float] = {}
        self._own: dict[str, float] = {}
        self.machine: dict[str, float] = {}

    def __enter__(self) -> Background:
        self.loadavg = os.getloadavg()
        self._t0 = time.perf_counter()
        self._times0 = _cpu_times()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        before = _process_jiffies()
        me = os.getpid()
        while True:
            stopped = self._stop.wait(self.interval)
            now = _process_jiffies()
            for pid, (jiffies, cmd) in now.items():
                delta = jiffies - before.get(pid, (0, cmd))[0]
                if pid == me or delta <= 0:
                    continue
                key = re.sub(r"\s+", " ", cmd)[:110]
                bucket = self._own if any(p.search(cmd) for p in self.exclude) else self._cpu
                bucket[key] = bucket.get(key, 0.0) + delta / CLK_TCK
            before = now
            if stopped:
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.wall_s = time.perf_counter() - self._t0
        times = _cpu_times()
        delta = [b - a for a, b in zip(self._times0, times, strict=False)]
        self.busy_cpu_s = (sum(delta) - delta[3] - delta[4]) / CLK_TCK  # all but idle, iowait
        self.machine = machine_cpu_shares(self._times0, times)
        ranked = sorted(self._cpu.items(), key=lambda kv: -kv[1])
        self.others = [(cmd, round(sec, 1)) for cmd, sec in ranked if sec >= 0.5][:6]
        ranked_own = sorted(self._own.items(), key=lambda kv: -kv[1])
        # Every own process (many small PostgreSQL backends add up): not truncated.
        self.own = [(cmd, round(sec, 3)) for cmd, sec in ranked_own if sec > 0]

    def summary(self) -> str:
        """One line for the docs: load at start and the other processes' CPU use."""
        other = sum(sec for _, sec in self.others)
        text = (
            f"load average at start {self.loadavg[0]:.2f}; other processes used "
            f"{other:.1f} CPU-s during {self.wall_s:.0f} s"
        )
        if self.others:
            text += " (" + "; ".join(f"`{cmd[:70]}` {sec:.1f} s" for cmd, sec in self.others) + ")"
        shares = self.machine
        text += (
            f"; machine CPU busy {shares['busy']:.0f} %, idle {shares['idle']:.0f} %, "
            f"iowait {shares['iowait']:.0f} %, steal {shares['steal']:.0f} %"
        )
        return text


def _first_line(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return "n/a"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def machine() -> dict[str, str]:
    """Facts about the machine and the checkout, for the docs."""
    mem = _first_line(["bash", "-c", "free -g | awk '/^Mem:/ {print $2\" GB\"}'"])
    cpu = _first_line(["bash", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])
    rev = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["bash", "-c", f"git -C {REPO} status --porcelain | wc -l"])
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        # Not `nproc`: it follows OMP_NUM_THREADS, which survey.compute_threads sets to 1.
        "nproc": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "memory": mem,
        "cpu": cpu.strip(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "git": f"{rev} (+{dirty} uncommitted paths)",
    }


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` markers in ``path`` (append if new)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
