"""Submission benchmark: ``POST /api/v1/responses`` through gunicorn, measured by wrk.

For each server configuration (gunicorn worker class × workers [× threads]) on a FRESH database:

1. create the database (SQLite file in WAL mode, or a new PostgreSQL database on
   127.0.0.1:5432 that is dropped afterwards), run the real migration (``sipas db upgrade``)
   and seed units with ``sipas import`` (4 agencies, 8 counters, 4 fields);
2. start ``gunicorn 'survey:create_app()'`` with ``SIPAS_SECRET_KEY``,
   ``SIPAS_SQLALCHEMY_DATABASE_URI`` and rate limits ON in Redis
   (``SIPAS_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/13``), with the submit limit raised to
   ``SIPAS_SUBMIT_RATE_LIMIT=1000000 per minute`` for the benchmark;
3. warm up, then run wrk for a fixed time and concurrency (``wrk_submit.lua``: a unique UUID
   and fresh valid answers for every item of ``sipas-counter`` per request, some 0 = n/a);
4. verify: zero 5xx and no status other than 201; every acknowledged id is stored exactly once;
   acknowledged ids are distinct; stored rows − acknowledged ≤ connections (requests cut off
   by wrk's stop after the server committed them); stored answers (non-null codes of
   ``answer_codes``) == stored responses × items;
5. measure the ceiling: the same gunicorn serving ``GET /healthz``.

Writes ``benchmarks/out/submissions/<db>/results.json`` and the section ``submissions-<db>`` of
``docs/benchmarks.md``. Usage::

    .venv/bin/python benchmarks/submissions.py --db sqlite
    .venv/bin/python benchmarks/submissions.py --db postgres --configs sync:3,gthread:2x8
    # the same gunicorn without sipas serve's CPU pinning (survey/gunicorn_config.py), or with
    # one listening socket shared by the workers instead of one each (SO_REUSEPORT):
    .venv/bin/python benchmarks/submissions.py --db postgres \
        --configs gthread:2x8,gthread:2x8:unpinned,gthread:2x8:shared-socket
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BENCH_DIR,
    DOCS_FILE,
    OUT_DIR,
    PG_ADMIN,
    REPO,
    Background,
    connections_per_child,
    host_probe,
    machine,
    replace_section,
)

BIN = REPO / ".venv" / "bin"
REDIS_URI = "redis://127.0.0.1:6379/13"
SUBMIT_LIMIT = "1000000 per minute"
# The target on the benchmark machine (docs/benchmarks.md, section A).
TARGET_RPS = 1000
TARGET_P99_MS = 100
FORM_ID = "sipas-counter"


@dataclass(frozen=True)
class ServerConfig:
    """A gunicorn configuration, parsed from ``sync:3``, ``gthread:2x8``, ``gthread:2x8:unpinned``,
    ``gthread:2x8:shared-socket``.

    ``keep_alive``: seconds gunicorn keeps an idle connection open (gthread only: sync workers
    close every connection after one request). ``pinned``: ``sipas serve``'s default of one CPU
    per worker when they divide evenly (``survey/gunicorn_config.py``); ``:unpinned`` turns it off.
    ``reuse_port``: ``sipas serve``'s default of a listening socket per worker (``SO_REUSEPORT``);
    ``:shared-socket`` gives them one socket to share.
    """

    worker_class: str
    workers: int
    threads: int = 1
    keep_alive: int = 5
    pinned: bool = True
    reuse_port: bool = True

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        match = re.fullmatch(
            r"(sync|gthread):(\d+)(?:x(\d+))?((?::unpinned|:shared-socket)*)", text.strip()
        )
        if not match:
            raise argparse.ArgumentTypeError(
                f"bad config {text!r}; use sync:3, gthread:2x8, gthread:2x8:unpinned or "
                "gthread:2x8:shared-socket"
            )
        from survey.serving import SERVE_THREADS

        kind, workers, threads, flags = match.groups()
        threads = int(threads or (1 if kind == "sync" else SERVE_THREADS))
        return cls(
            kind,
            int(workers),
            threads,
            pinned=":unpinned" not in flags,
            reuse_port=":shared-socket" not in flags,
        )

    @property
    def label(self) -> str:
        name = (
            f"sync ×{self.workers}"
            if self.worker_class == "sync"
            else f"gthread {self.workers}×{self.threads}"
        )
        return " ".join(
            [name]
            + ([] if self.pinned else ["unpinned"])
            + ([] if self.reuse_port else ["shared socket"])
        )

    def gunicorn_args(self, port: int) -> list[str]:
        """The command line ``sipas serve`` runs for this configuration (gunicorn's options)."""
        from survey.serving import gunicorn_argv

        argv = gunicorn_argv(
            f"127.0.0.1:{port}",
            self.workers,
            self.threads,
            self.keep_alive,
            pin_workers=self.pinned,
            reuse_port=self.reuse_port,
        )
        if self.worker_class == "gthread" and self.threads == 1:
            argv[argv.index("sync")] = "gthread"  # gthread with one thread: still keep-alive
            argv[-1:-1] = ["--keep-alive", str(self.keep_alive)]
        return argv[1:-1]


# --- database ------------------------------------------------------------------------------------


class Database:
    """A fresh benchmark database (created, migrated, seeded; dropped by :meth:`drop`)."""

    def __init__(self, kind: str, work: Path, pg_socket: str | None = None) -> None:
        self.kind = kind
        self.work = work
        if kind == "sqlite":
            self.path = work / "bench.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.name = f"sipas_bench_{os.getpid()}"
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
            if pg_socket:  # the app talks to PostgreSQL over its Unix socket instead of TCP
                self.url = f"postgresql+psycopg://postgres@/{self.name}?host={pg_socket}"

    def env(self) -> dict[str, str]:
        return {
            "SIPAS_SECRET_KEY": "benchmark-" + "0" * 40,
            "SIPAS_SQLALCHEMY_DATABASE_URI": self.url,
            "SIPAS_RATELIMIT_STORAGE_URI": REDIS_URI,
            "SIPAS_SUBMIT_RATE_LIMIT": SUBMIT_LIMIT,
        }

    def create(self) -> list[str]:
        """Create, migrate and seed; return the item keys of the form."""
        self.drop()
        if self.kind == "postgres":
            _run(["createdb", *PG_ADMIN, self.name])
        env = {**os.environ, **self.env()}
        _run([str(BIN / "sipas"), "db", "upgrade"], env=env)
        seed = self.work / "seed"
        seed.mkdir(parents=True, exist_ok=True)
        _write(
            seed / "units.csv",
            "code,name_vi,name_en,level,parent_code\n"
            "T01,Tỉnh Benchmark,Benchmark Province,province,\n"
            "S01,Sở Tư pháp,Department of Justice,department,T01\n"
            "S02,Sở Xây dựng,Department of Construction,department,T01\n"
            "H01,UBND huyện Một,District One People's Committee,district,T01\n",
        )
        _write(
            seed / "fields.csv",
            "code,name_vi,name_en\nF01,Lý lịch tư pháp,Judicial records\n"
            "F02,Xây dựng,Construction\nF03,Đất đai,Land\nF04,Hộ tịch,Civil status\n",
        )
        _write(
            seed / "counters.csv",
            "code,agency_code,name_vi,field_code\n"
            + "".join(
                f"{a}-Q{k},{a},Quầy {k},F0{1 + (i + k) % 4}\n"
                for i, a in enumerate(("T01", "S01", "S02", "H01"))
                for k in (1, 2)
            ),
        )
        for kind in ("units", "fields", "counters"):
            _run([str(BIN / "sipas"), "import", kind, str(seed / f"{kind}.csv")], env=env)
        return [f"{a}-Q{k}" for a in ("T01", "S01", "S02", "H01") for k in (1, 2)]

    def counts(self) -> tuple[set[str], int, int]:
        """Stored response ids (32 hex), number of response rows, number of stored answers
        (non-null codes in ``responses.answer_codes``)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                ids, answers = [], 0
                for uuid_value, codes in conn.execute(
                    text("SELECT uuid, answer_codes FROM responses")
                ):
                    ids.append(uuid_value)
                    codes = json.loads(codes) if isinstance(codes, str) else codes
                    answers += sum(code is not None for code in codes)
        finally:
            engine.dispose()
        hexes = {(i.hex if isinstance(i, uuid.UUID) else str(i).replace("-", "")) for i in ids}
        return hexes, len(ids), int(answers)

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            subprocess.run(
                ["dropdb", *PG_ADMIN, "--if-exists", "--force", self.name],
                check=True,
                capture_output=True,
            )


def _run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# --- server and load -----------------------------------------------------------------------------


class Gunicorn:
    """A gunicorn process started by this script (stopped by its own pid)."""

    def __init__(self, config: ServerConfig, env: dict[str, str], port: int, log: Path) -> None:
        # The same gunicorn options as `sipas serve --workers N --threads T --keep-alive S`.
        cmd = [
            str(BIN / "gunicorn"),
            *config.gunicorn_args(port),
            "--log-level",
            "warning",
            "survey:create_app()",
        ]
        self.command = cmd
        self.base = f"http://127.0.0.1:{port}"
        self._log = open(log, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def lua_config(path: Path, items: list[tuple[str, list[int]]], counters: list[str], run: str,
               ack_prefix: Path) -> Path:  # fmt: skip
    """Write the Lua table that ``wrk_submit.lua`` loads."""
    from forms import load_form

    form = load_form(FORM_ID)
    started = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lua_items = ",\n".join(
        f'  {{"{key}", {{{", ".join(str(c) for c in codes)}}}}}' for key, codes in items
    )
    path.write_text(
        "return {\n"
        f'run = "{run}", seed = {int(run, 16) % 100000}, path = "/api/v1/responses",\n'
        f'form_id = "{form.id}", form_version = {form.version}, started_at = "{started}",\n'
        f'ack_prefix = "{ack_prefix}",\n'
        f"counters = {{{', '.join(json.dumps(c) for c in counters)}}},\n"
        f"items = {{\n{lua_items}\n}},\n"
        "}\n",
        encoding="utf-8",
    )
    return path


def form_items() -> list[tuple[str, list[int]]]:
    """Every item of the form with the codes a realistic answer draws from.

    Rating items: 1..5 with "not applicable" (0) as one of 8 equally likely draws (≈ 12 %);
    expectation and profile items: their choice codes.
    """
    from forms import load_form

    form = load_form(FORM_ID)
    items: list[tuple[str, list[int]]] = []
    for item in form.rating_items:
        items.append((item.key, [1, 2, 3, 4, 4, 5, 5, 0]))
    for item in (*form.expectation_items, *form.profile_items):
        codes = [c.code for c in item.choices] or [c.code for c in form.expectation_scale.choices]
        items.append((item.key, codes))
    return items


def run_wrk(
    target: str, seconds: int, connections: int, threads: int, script: Path | None,
    env: dict[str, str], log: Path,
) -> dict[str, object]:  # fmt: skip
    """Run wrk; return the parsed WRKJSON summary (or wrk's own numbers for plain GETs)."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    cmd += ["--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(target)
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    log.write_text(f"$ {shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}", encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed:\n{proc.stdout}\n{proc.stderr}")
    match = re.search(r"^WRKJSON (.+)$", proc.stdout, re.MULTILINE)
    if match:
        result = json.loads(match.group(1))
    else:
        result = {"requests": int(re.search(r"(\d+) requests in", proc.stdout).group(1))}
        result["latency_us"] = _latency_from_text(proc.stdout)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", proc.stdout)
        result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
        dur = re.search(r"requests in ([0-9.]+)(m?s)", proc.stdout)
        result["duration_us"] = float(dur.group(1)) * (1e3 if dur.group(2) == "ms" else 1e6)
    result["command"] = shlex.join(cmd)
    return result


def _latency_from_text(text: str) -> dict[str, float]:
    unit = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 6e7}
    out: dict[str, float] = {}
    for p, value, u in re.findall(r"^\s+(\d+)%\s+([0-9.]+)(us|ms|s|m)$", text, re.MULTILINE):
        out[p] = float(value) * unit[u]
    return out


# --- one configuration ---------------------------------------------------------------------------


def bench_config(
    db_kind: str, config: ServerConfig, args: argparse.Namespace, work: Path
) -> dict[str, object]:
    """Fresh DB, start gunicorn, warm up, measure, verify, ceiling; return the results."""
    work.mkdir(parents=True, exist_ok=True)
    db = Database(db_kind, work, args.pg_socket)
    counters = db.create()
    items = form_items()
    env = db.env()
    server = Gunicorn(config, env, args.port, work / "gunicorn.log")
    # This run's own processes only (other jobs on the machine may run gunicorn or benchmarks).
    own = [
        rf"gunicorn .*127\.0\.0\.1:{args.port}\b",
        rf"\bwrk\b.*127\.0\.0\.1:{args.port}/",
        rf"postgres: .*sipas_bench_{os.getpid()}\b",
        r"redis-server",
    ]
    try:
        server.wait_ready()
        runs = {}
        for phase, seconds in (("warmup", args.warmup), ("measure", args.duration)):
            run_id = uuid.uuid4().hex[:8]
            acks = work / f"acks_{phase}"
            cfg = lua_config(work / f"{phase}.lua", items, counters, run_id, acks)
            profiler = None
            if args.profile and phase == "measure":
                profiler = start_profiler(
                    server.proc.pid, seconds, work / "py-spy.txt", idle=args.profile == "wall"
                )
            probe = host_probe(work) if phase == "measure" else None
            # How wrk's connections are spread over the workers, read halfway through the run.
            split: list[int] = []
            sampler = threading.Timer(
                seconds / 2,
                lambda into=split: into.extend(connections_per_child(server.proc.pid, args.port)),
            )
            sampler.start()
            with Background(own) as bg:
                result = run_wrk(
                    server.base + "/api/v1/responses", seconds, args.connections, args.threads,
                    BENCH_DIR / "wrk_submit.lua", {"SIPAS_BENCH_CONFIG": str(cfg)},
                    work / f"wrk_{phase}.log",
                )  # fmt: skip
            result["background"] = bg.summary()
            result["machine_cpu"] = bg.machine
            result["host_probe"] = probe
            sampler.join()
            result["connections_per_worker"] = split
            result["own_cpu_s"] = bg.own
            result["run"] = run_id
            if profiler is not None:
                profiler.wait()
            acked = []
            for f in sorted(work.glob(f"acks_{phase}.*.txt")):
                acked += [line.strip().replace("-", "") for line in f.read_text().splitlines()]
            result["acked"] = acked
            runs[phase] = result
        with Background(own) as bg:
            ceiling = run_wrk(
                server.base + "/healthz", args.duration, args.connections, args.threads, None,
                {}, work / "wrk_ceiling.log",
            )  # fmt: skip
        ceiling["background"] = bg.summary()
    finally:
        server.stop()
    stored, n_rows, n_answers = db.counts()
    limiter_keys = _redis_keys()
    if not args.keep:
        db.drop()
    return verify(config, runs, ceiling, stored, n_rows, n_answers, len(items), args, limiter_keys)


def start_profiler(pid: int, seconds: int, out: Path, *, idle: bool) -> subprocess.Popen[bytes]:
    """Sample every gunicorn worker with py-spy during the measured run (raw stacks).

    ``idle``: also sample waiting threads (wall-clock view: lock waits, fsync, network).
    """
    py_spy = BIN / "py-spy"
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    cmd = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "100"]
    cmd += ["--duration", str(seconds), "--format", "raw", "--output", str(out), "--nonblocking"]
    cmd += ["--idle"] if idle else []
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _redis_keys() -> int:
    proc = subprocess.run(
        ["redis-cli", "-n", REDIS_URI.rsplit("/", 1)[1], "dbsize"], capture_output=True, text=True
    )
    return int(proc.stdout.strip() or 0)


def verify(
    config: ServerConfig, runs: dict[str, dict[str, object]], ceiling: dict[str, object],
    stored: set[str], n_rows: int, n_answers: int, n_items: int, args: argparse.Namespace,
    limiter_keys: int,
) -> dict[str, object]:  # fmt: skip
    """Check zero lost or duplicated submissions and summarise one configuration."""
    problems: list[str] = []
    total_acked = 0
    for phase, run in runs.items():
        acked: list[str] = run.pop("acked")  # type: ignore[assignment]
        statuses = {int(k): v for k, v in run["statuses"].items()}  # type: ignore[union-attr]
        n201 = statuses.get(201, 0)
        other = {k: v for k, v in statuses.items() if k != 201}
        in_run = {s for s in stored if s.startswith(run["run"])}  # type: ignore[arg-type]
        lost = set(acked) - stored
        run.update(
            n201=n201,
            other_statuses=other,
            acked_distinct=len(set(acked)),
            stored=len(in_run),
            lost=len(lost),
            unacknowledged_stored=len(in_run) - len(set(acked)),
        )
        if any(k >= 500 for k in other):
            problems.append(f"{phase}: 5xx answers {other}")
        if other:
            problems.append(f"{phase}: non-201 answers {other}")
        if len(acked) != n201 or len(set(acked)) != n201:
            problems.append(f"{phase}: {n201} x 201 but {len(set(acked))} distinct acked ids")
        if lost:
            problems.append(f"{phase}: {len(lost)} acknowledged ids not stored")
        if not 0 <= len(in_run) - len(set(acked)) <= args.connections:
            problems.append(f"{phase}: stored {len(in_run)} vs acknowledged {len(set(acked))}")
        total_acked += len(in_run)
    if n_rows != len(stored):
        problems.append(f"duplicate uuids in responses: {n_rows} rows, {len(stored)} distinct")
    if n_rows != total_acked:
        problems.append(f"responses has {n_rows} rows, runs account for {total_acked}")
    if n_answers != n_rows * n_items:
        problems.append(f"stored answers {n_answers} != {n_rows} responses × {n_items} items")
    measure = runs["measure"]
    seconds = float(measure["duration_us"]) / 1e6  # type: ignore[arg-type]
    cpu_groups = _cpu_groups(measure)
    per_submission = {
        name: 1000 * cpu / max(int(measure["n201"]), 1)  # type: ignore[call-overload]
        for name, cpu in cpu_groups.items()
    }
    ceiling_s = float(ceiling["duration_us"]) / 1e6  # type: ignore[arg-type]
    return {
        "config": config.label,
        "gunicorn": config.gunicorn_args(args.port),
        "throughput_rps": measure["n201"] / seconds,  # type: ignore[operator]
        "latency_ms": {k: v / 1e3 for k, v in measure["latency_us"].items()},  # type: ignore[union-attr]
        "ceiling_rps": float(ceiling["requests"]) / ceiling_s,  # type: ignore[arg-type]
        "ceiling_latency_ms": {k: v / 1e3 for k, v in ceiling["latency_us"].items()},  # type: ignore[union-attr]
        "ceiling_non_2xx": ceiling.get("non_2xx", 0),
        "cpu_ms_per_submission": per_submission,
        "cpu_ms_per_submission_total": sum(per_submission.values()),
        "runs": runs,
        "ceiling": ceiling,
        "responses_rows": n_rows,
        "answers_rows": n_answers,
        "items_per_response": n_items,
        "rate_limit_keys_in_redis": limiter_keys,
        "problems": problems,
        "ok": not problems,
    }


# --- report --------------------------------------------------------------------------------------


def render(db_kind: str, results: list[dict[str, object]], command: str, args, facts) -> str:
    """The markdown section for docs/benchmarks.md."""
    lines = [
        f"### {'SQLite (WAL)' if db_kind == 'sqlite' else 'PostgreSQL'}",
        "",
        f"Command: `{command}`  ",
        f"Date: {facts['date']} · machine: {facts['nproc']} cores ({facts['cpu']}), "
        f"{facts['memory']} RAM · {facts['os']} · commit {facts['git']}  ",
        f"Load: wrk -t{args.threads} -c{args.connections}, {args.warmup} s warm-up then "
        f"{args.duration} s measured, on the same machine as the server. Rate limits on (Redis), "
        f"submit limit raised to `{SUBMIT_LIMIT}`. gthread workers keep idle connections "
        f"{getattr(args, 'keep_alive', 2)} s (`--keep-alive`); sync workers close each one. "
        "Workers are pinned one per CPU when they divide evenly over the cores, as by "
        "`sipas serve` (`survey/gunicorn_config.py`), unless marked unpinned, and each has a "
        "listening socket of its own (`SO_REUSEPORT`), unless marked shared socket. "
        "CPU ms / submission: CPU seconds of gunicorn, the PostgreSQL backends, Redis and wrk "
        "during the measured run (from /proc) divided by the 201 answers.",
        "",
        "| gunicorn | round (start UTC) | submissions/s (201) | p50 ms | p90 ms | p99 ms | "
        "max ms | CPU ms / submission | ceiling GET /healthz req/s | ceiling p99 ms | verified |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat, cl = r["latency_ms"], r["ceiling_latency_ms"]
        lines.append(
            f"| {r['config']} | {r.get('round', 1)} ({r.get('started_utc', '–')}) | "
            f"{r['throughput_rps']:.0f} | {lat.get('50', 0):.1f} | "
            f"{lat.get('90', 0):.1f} | {lat.get('99', 0):.1f} | {lat.get('max', 0):.0f} | "
            f"{_cpu_cell(r)} | {r['ceiling_rps']:.0f} | {cl.get('99', 0):.1f} | "
            f"{'yes' if r['ok'] else 'NO: ' + '; '.join(r['problems'])} |"
        )
    lines += _summary(results)
    lines += ["", "Verification and background per run:", ""]
    for r in results:
        m = r["runs"]["measure"]
        lines.append(
            f"- {r['config']}, round {r.get('round', 1)}: measured run {m['n201']} × 201, "
            f"{m['acked_distinct']} distinct "
            f"acknowledged ids, {m['lost']} lost, {m['unacknowledged_stored']} stored but cut "
            f"off by wrk's stop before the answer arrived; table `responses` {r['responses_rows']} "
            f"rows (warm-up + measured), {r['answers_rows']} stored answers "
            f"(= {r['items_per_response']} per response); {r['rate_limit_keys_in_redis']} "
            f"rate-limit keys in Redis. {_split_text(m)}CPU during the measured run: "
            f"{_cpu_split(m)}; "
            f"{m['background']}{_probe_text(m.get('host_probe'))}."
        )
    return "\n".join(lines) + "\n"


def _split_text(run: dict[str, object]) -> str:
    """wrk's connections per worker halfway through the run (absent in older results)."""
    split = run.get("connections_per_worker")
    if not split:
        return ""
    return f"Connections per worker halfway through: {', '.join(map(str, split))}. "


def _probe_text(probe: dict[str, float] | None) -> str:
    """The host probe taken just before the measured run (:func:`_harness.host_probe`)."""
    if not probe:
        return ""
    return (
        f"; host probe before the run: 2 M Python additions {probe['loop_ms']:.0f} ms, "
        f"fdatasync {probe['fdatasync_ms']:.2f} ms (p99 {probe['fdatasync_p99_ms']:.2f} ms)"
    )


def _summary(results: list[dict[str, object]]) -> list[str]:
    """Per configuration over its rounds: median and range of the rate, median p99, and how many
    runs met the target (>= TARGET_RPS submissions/s with p99 < TARGET_P99_MS, verified)."""
    by_config: dict[str, list[dict[str, object]]] = {}
    for r in results:
        by_config.setdefault(str(r["config"]), []).append(r)
    if all(len(runs) == 1 for runs in by_config.values()):
        return []
    lines = [
        "",
        f"Over the rounds (target: ≥ {TARGET_RPS} submissions/s with p99 < {TARGET_P99_MS} ms):",
        "",
        "| gunicorn | runs | median submissions/s | min–max | median p99 ms | median CPU ms / "
        "submission | runs meeting the target |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, runs in by_config.items():
        rates = [float(r["throughput_rps"]) for r in runs]
        p99s = [float(r["latency_ms"].get("99", 0)) for r in runs]  # type: ignore[union-attr]
        cpus = [
            sum(r["cpu_ms_per_submission"].values()) for r in runs if r.get("cpu_ms_per_submission")
        ]  # type: ignore[union-attr]
        met = sum(
            1
            for r, rate, p99 in zip(runs, rates, p99s, strict=True)
            if r["ok"] and rate >= TARGET_RPS and p99 < TARGET_P99_MS
        )
        lines.append(
            f"| {config} | {len(runs)} | {statistics.median(rates):.0f} | "
            f"{min(rates):.0f}–{max(rates):.0f} | {statistics.median(p99s):.1f} | "
            f"{statistics.median(cpus):.2f} | {met} of {len(runs)} |"
            if cpus
            else f"| {config} | {len(runs)} | {statistics.median(rates):.0f} | "
            f"{min(rates):.0f}–{max(rates):.0f} | {statistics.median(p99s):.1f} | – | "
            f"{met} of {len(runs)} |"
        )
    return lines


def _cpu_groups(run: dict[str, object]) -> dict[str, float]:
    """CPU seconds of the benchmark's own processes, grouped (gunicorn, wrk, redis, postgres)."""
    groups: dict[str, float] = {}
    for cmd, seconds in run.get("own_cpu_s", []):  # type: ignore[union-attr]
        name = next(
            (g for g in ("gunicorn", "wrk", "redis", "postgres") if g in cmd), "other (benchmark)"
        )
        groups[name] = groups.get(name, 0.0) + seconds
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def _cpu_split(run: dict[str, object]) -> str:
    return ", ".join(f"{k} {v:.1f} CPU-s" for k, v in _cpu_groups(run).items())


def _cpu_cell(result: dict[str, object]) -> str:
    """Total CPU ms per stored submission, and the gunicorn share (from /proc accounting)."""
    per = result.get("cpu_ms_per_submission")
    if not per:
        return "–"
    return f"{sum(per.values()):.2f} (gunicorn {per.get('gunicorn', 0.0):.2f})"  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument(
        "--configs",
        default="gthread:2x8,gthread:2x4,sync:3",
        help="comma-separated gunicorn configs: sync:N or gthread:NxT, ':unpinned' appended "
        "for no CPU pinning, ':shared-socket' for one listening socket shared by the workers",
    )
    parser.add_argument("--duration", type=int, default=20, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--keep-alive", type=int, default=5, help="gunicorn --keep-alive seconds (gthread)"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--pg-socket",
        metavar="DIR",
        help="connect the app to PostgreSQL over the Unix socket in DIR (e.g. /var/run/postgresql)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--profile",
        choices=["cpu", "wall"],
        help="py-spy the workers during the measured run (wall: include waiting threads)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every configuration this many times, interleaved (the host's speed drifts)",
    )
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--from-json", action="store_true", help="only re-render docs from the last results.json"
    )
    args = parser.parse_args(argv)
    out = OUT_DIR / "submissions" / args.db
    if args.from_json:
        payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
        ns = argparse.Namespace(**payload["args"])
        section = render(args.db, payload["results"], payload["command"], ns, payload["machine"])
        replace_section(DOCS_FILE, f"submissions-{args.db}", section)
        print(section)
        return 0 if all(r["ok"] for r in payload["results"]) else 1
    configs = [
        replace(ServerConfig.parse(c), keep_alive=args.keep_alive)
        for c in args.configs.split(",")
        if c.strip()
    ]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    command = "python benchmarks/submissions.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    if out.exists():
        shutil.rmtree(out)
    facts = machine()
    results = []
    for round_no in range(1, args.rounds + 1):
        for i, config in enumerate(configs):
            started = datetime.now(UTC).strftime("%H:%M")
            work = out / f"r{round_no}_{i}_{config.worker_class}"
            result = bench_config(args.db, config, args, work)
            result.update({"round": round_no, "started_utc": started})
            results.append(result)
            print(
                f"round {round_no} {config.label:16s} {result['throughput_rps']:7.0f}/s "
                f"p99 {result['latency_ms'].get('99', 0):6.1f} ms  ceiling "
                f"{result['ceiling_rps']:7.0f}/s  {'ok' if result['ok'] else result['problems']}",
                flush=True,
            )
    saved_args = {k: v for k, v in vars(args).items() if k != "from_json"}
    payload = {"command": command, "machine": facts, "args": saved_args, "results": results}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    section = render(args.db, results, command, args, facts)
    if not args.no_docs:
        replace_section(DOCS_FILE, f"submissions-{args.db}", section)
    print(section)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
