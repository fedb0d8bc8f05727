"""Officials' report pages over real HTTP against PostgreSQL with N responses: median and p95.

1. Seeds a scratch PostgreSQL database (``sipas_reports_<pid>`` on 127.0.0.1:5432, dropped at
   the end) with the demo province and N responses by the bulk path of ``sipas demo --db-url URL
   --responses N --no-serve`` (timed as a whole process), or uses an existing demo database
   (``--db-url``; nothing is seeded or dropped).
2. Starts the real server, ``sipas serve --bind 127.0.0.1:PORT`` (gunicorn with its production
   settings), on that database.
3. Signs in as the demo analyst: GET the sign-in page, POST its form with the page's
   ``csrf_token``, ``username`` and ``password`` (the analyst's password is set anew in the
   database first unless ``--password`` is given).
4. Requests each page URL ``--warmup`` times untimed, then ``--repeat`` times one after the
   other (each request on a new loopback connection; the time runs until the whole body is
   read), and prints and writes the median, the 95th percentile and the status codes seen per
   page. A page that is not built yet answers 404: it is reported as such.

Usage::

    .venv/bin/python benchmarks/reports.py --n 1000000
    .venv/bin/python benchmarks/reports.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/demo
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import OUT_DIR, Background, machine, run_timed, scratch_database  # noqa: E402

BIN = Path(sys.executable).parent
SECRET_KEY = "benchmark-reports-" + "0" * 40
UNIT, FIELD = "STNMT", "DAT_DAI"
PAGES = (
    "/reports/",
    f"/reports/units/{UNIT}",
    f"/reports/fields/{FIELD}",
    "/reports/par",
)
READY_SECONDS = 60.0
REQUEST_SECONDS = 120.0
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass(frozen=True)
class PageTiming:
    """The timed requests of one page URL.

    Attributes
    ----------
    url : str
        Path and query requested.
    statuses : dict
        How many answers had each HTTP status (as text; ``error`` for no answer).
    first_ms : float or None
        The first untimed (warm-up) request, in milliseconds: a page built from nothing (the
        worker that answered had no selection, count table or figure of it cached).
    median_ms, p95_ms, max_ms : float
        Of the timed requests, in milliseconds.
    bytes : int
        Size of the last body.
    """

    url: str
    statuses: dict[str, int]
    first_ms: float | None
    median_ms: float
    p95_ms: float
    max_ms: float
    bytes: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects as they are (a signed-out page answers 302) instead of following."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _client() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())


def _fetch(
    opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None
) -> tuple[str, bytes, str]:
    """``(status, body, location)`` of one request; status ``error`` when nothing answered."""
    try:
        with opener.open(url, data=data, timeout=REQUEST_SECONDS) as response:
            return str(response.status), response.read(), response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return str(exc.code), exc.read(), exc.headers.get("Location", "")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return "error", str(exc).encode(), ""


def sign_in(
    opener: urllib.request.OpenerDirector, base: str, path: str, username: str, password: str
) -> str:
    """Sign in through the HTML form; returns what happened, in words."""
    status, body, _ = _fetch(opener, base + path)
    if status != "200":
        return f"GET {path} answered {status}: report pages are requested signed out"
    match = _CSRF.search(body.decode("utf-8", "replace"))
    fields = {"username": username, "password": password}
    if match:
        fields["csrf_token"] = match.group(1) or match.group(2)
    form = urllib.parse.urlencode(fields).encode()
    status, _, location = _fetch(opener, base + path, form)
    if status in ("302", "303"):
        return f"signed in as {username} (POST {path} answered {status} to {location or '?'})"
    return f"POST {path} answered {status}: sign-in failed, report pages are requested signed out"


def time_page(
    opener: urllib.request.OpenerDirector, base: str, url: str, repeat: int, warmup: int
) -> PageTiming:
    """Request ``url`` ``warmup`` times untimed (the first one's time is kept), then ``repeat``
    times timed."""
    first = None
    for _ in range(warmup):
        start = time.perf_counter()
        _fetch(opener, base + url)
        first = 1000 * (time.perf_counter() - start) if first is None else first
    seen: Counter[str] = Counter()
    times = []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        status, body, _ = _fetch(opener, base + url)
        times.append(1000 * (time.perf_counter() - start))
        seen[status] += 1
        size = len(body)
    times.sort()
    return PageTiming(
        url=url,
        statuses=dict(seen),
        first_ms=first,
        median_ms=statistics.median(times),
        p95_ms=times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        max_ms=times[-1],
        bytes=size,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(url: str, port: int, serve_args: Sequence[str], log: Path) -> Iterator[str]:
    """``sipas serve`` on 127.0.0.1:``port`` against ``url``; yields its base URL. The server
    (a process this script started) is stopped by its own pid on exit."""
    env = {
        **os.environ,
        "SIPAS_SECRET_KEY": SECRET_KEY,
        "SIPAS_SQLALCHEMY_DATABASE_URI": url,
        # plain HTTP on the loopback: a Secure session cookie would never be sent back
        "SIPAS_SESSION_COOKIE_SECURE": "false",
    }
    command = [str(BIN / "sipas"), "serve", "--bind", f"127.0.0.1:{port}", *serve_args]
    log.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + READY_SECONDS
            while _fetch(_client(), base + "/healthz")[0] != "200":
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not answer /healthz; see {log}")
                time.sleep(0.3)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def seed(url: str, n: int, after: Sequence[str], log: Path) -> dict[str, float]:
    """Seed the demo with ``n`` responses through ``sipas demo --db-url``, then run each ``sipas``
    command of ``after`` on the database; wall and CPU seconds and peak RSS of the seeding
    process, wall seconds of each command after it, and the database size at the end."""
    env = {"SIPAS_SECRET_KEY": SECRET_KEY, "SIPAS_SQLALCHEMY_DATABASE_URI": url}
    timed = run_timed(
        [str(BIN / "sipas"), "demo", "--db-url", url, "--responses", str(n), "--no-serve"],
        env=env,
        log=log,
    )
    if timed.returncode != 0:
        raise SystemExit(f"sipas demo failed ({timed.returncode}); see {log}")
    result = {"wall_s": timed.wall_s, "cpu_s": timed.cpu_s, "peak_rss_mb": timed.peak_rss_mb}
    for command in after:
        step_log = log.with_name(f"{log.stem}-{command.replace(' ', '-')}.log")
        step = run_timed([str(BIN / "sipas"), *command.split()], env=env, log=step_log)
        if step.returncode != 0:
            raise SystemExit(f"sipas {command} failed ({step.returncode}); see {step_log}")
        result[f"{command} wall_s"] = step.wall_s
    result["database_mb"] = database_megabytes(url)
    return result


def database_megabytes(url: str) -> float:
    """Size of the database (``pg_database_size``) in MiB."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            size = connection.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()
    return int(size or 0) / 2**20


def analyst_password(url: str) -> str:
    """Give the demo accounts new passwords in ``url``'s database; returns the analyst's."""
    from survey import create_app
    from survey.demo import ensure_demo_accounts
    from survey.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        password = ensure_demo_accounts(reset=True)["analyst"]
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    if password is None:
        raise SystemExit("no analyst password was set")
    return password


def page_urls(pages: Sequence[str], formats: Sequence[str]) -> list[str]:
    """Each page, then each page with ``format=…`` added."""
    urls = list(pages)
    for fmt in formats:
        for page in pages:
            separator = "&" if "?" in page else "?"
            urls.append(f"{page}{separator}format={fmt}")
    return urls


def measure(url: str, args: argparse.Namespace, seeding: dict[str, float] | None) -> dict:
    """Serve ``url``, sign in, time every page; returns the report."""
    from sqlalchemy.engine import make_url

    password = args.password or analyst_password(url)
    urls = page_urls(args.pages, args.formats)
    port = args.port or _free_port()
    serve_args = []
    if args.workers:
        serve_args += ["--workers", str(args.workers)]
    if args.threads:
        serve_args += ["--threads", str(args.threads)]
    timings = []
    with served(url, port, serve_args, OUT_DIR / "reports-server.log") as base:
        opener = _client()
        signed_in = sign_in(opener, base, args.login_path, args.user, password)
        print(signed_in)
        database = re.escape(make_url(url).database or "")
        own = [rf"127\.0\.0\.1:{port}\b", rf"postgres: \S+ {database} "]
        with Background(exclude_patterns=own, interval=0.2) as load:
            for page in urls:
                timing = time_page(opener, base, page, args.repeat, args.warmup)
                timings.append(timing)
                print(_row(timing), flush=True)
    print(f"Machine load during the requests: {load.summary()}")
    return {
        "machine": machine(),
        "n": args.n if seeding is not None else None,
        "database": "scratch PostgreSQL" if seeding is not None else "given --db-url",
        "seeding": seeding,
        "sign_in": signed_in,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "load": load.summary(),
        "pages": [asdict(t) for t in timings],
    }


def _row(timing: PageTiming) -> str:
    statuses = ", ".join(f"{code}×{count}" for code, count in sorted(timing.statuses.items()))
    note = "  (not built yet)" if set(timing.statuses) == {"404"} else ""
    first = "" if timing.first_ms is None else f"first {timing.first_ms:8.1f} ms  "
    return (
        f"{timing.url:<40} {first}median {timing.median_ms:8.1f} ms  "
        f"p95 {timing.p95_ms:8.1f} ms  max {timing.max_ms:8.1f} ms  status {statuses}{note}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="responses to seed")
    parser.add_argument("--db-url", help="an existing demo database instead of a scratch one")
    parser.add_argument(
        "--after-seed",
        action="append",
        default=[],
        metavar="COMMAND",
        help="a sipas command to run on the database after seeding, e.g. 'aggregates rebuild' "
        "(repeatable; timed)",
    )
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="page paths")
    parser.add_argument(
        "--formats", nargs="*", default=["csv"], help="also request each page with format=…"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=1, help="untimed requests per page first")
    parser.add_argument("--login-path", default="/login", help="the sign-in page")
    parser.add_argument("--user", default="analyst", help="login to sign in with")
    parser.add_argument("--password", help="its password (default: set a new one)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--workers", type=int, help="sipas serve --workers")
    parser.add_argument("--threads", type=int, help="sipas serve --threads")
    parser.add_argument("--out", type=Path, help="JSON report (default: benchmarks/out/…)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0 or args.n < 0:
        parser.error("--repeat must be >= 1, --warmup and --n >= 0")

    # A termination (e.g. by `timeout`) unwinds like Ctrl+C: the server is stopped and the
    # scratch database dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if args.db_url:
        report = measure(args.db_url, args, None)
        label = "given-db"
    else:
        with scratch_database("postgres", "reports") as url:
            seeding = seed(url, args.n, args.after_seed, OUT_DIR / f"reports-seed-{args.n}.log")
            print(
                f"seeded {args.n:,} responses in {seeding['wall_s']:.1f} s "
                f"(CPU {seeding['cpu_s']:.1f} s, peak RSS {seeding['peak_rss_mb']:.0f} MiB); "
                + "".join(f"sipas {c}: {seeding[c + ' wall_s']:.1f} s; " for c in args.after_seed)
                + f"database {seeding['database_mb']:.0f} MiB"
            )
            report = measure(url, args, seeding)
        label = f"n{args.n}"
    out = args.out or OUT_DIR / f"reports-{label}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
