"""CPU and wall time per submission inside one process: ``POST /api/v1/responses`` through the
app's WSGI callable, without gunicorn or a network client.

It isolates what the application costs (Flask, the rate-limit count in Redis, validation, the
database write) from what gunicorn and the load generator cost, and it is steady enough to
compare two versions of the code on a shared machine (best of ``--rounds`` rounds of process CPU
time). Bodies are those of ``wrk_submit.lua``: a unique UUID, one counter, a valid code for all
32 items of ``sipas-counter``.

Usage::

    .venv/bin/python benchmarks/submit_inprocess.py --db sqlite
    .venv/bin/python benchmarks/submit_inprocess.py --db postgres --rate-limit off
    # another checkout of the code (e.g. ``git archive <commit> | tar -x -C /tmp/old``):
    PYTHONPATH=/tmp/old .venv/bin/python benchmarks/submit_inprocess.py --db sqlite

PostgreSQL: a database ``sipas_inprocess_<pid>`` on 127.0.0.1:5432 is created and dropped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import scratch_database  # noqa: E402

REDIS_URI = "redis://127.0.0.1:6379/14"


def _bodies(n: int) -> list[bytes]:
    from forms import load_form

    form = load_form("sipas-counter")
    items = [(item.key, [1, 2, 3, 4, 4, 5, 5, 0]) for item in form.rating_items]
    for item in (*form.expectation_items, *form.profile_items):
        codes = [c.code for c in item.choices] or [c.code for c in form.expectation_scale.choices]
        items.append((item.key, codes))
    started = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    rng = random.Random(2024)
    return [
        json.dumps(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "form_id": form.id,
                "form_version": form.version,
                "counter_code": "Q1",
                "channel": "counter_qr",
                "answers": {key: rng.choice(codes) for key, codes in items},
                "started_at": started,
                "locale": "vi",
            }
        ).encode()
        for _ in range(n)
    ]


def _environ(body: bytes) -> dict[str, object]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/responses",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_ACCEPT_LANGUAGE": "vi",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--n", type=int, default=2000, help="submissions per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate-limit", choices=["redis", "memory", "off"], default="redis")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="TOP", help="cProfile one more round; print TOP"
    )
    args = parser.parse_args(argv)

    from survey import create_app
    from survey.extensions import db
    from survey.models import Agency, Counter, Field

    with scratch_database(args.db, "inprocess") as url:
        app = create_app(
            {
                "SECRET_KEY": "benchmark-" + "0" * 40,
                "SQLALCHEMY_DATABASE_URI": url,
                "RATELIMIT_ENABLED": args.rate_limit != "off",
                "RATELIMIT_STORAGE_URI": REDIS_URI if args.rate_limit == "redis" else "memory://",
                "SIPAS_SUBMIT_RATE_LIMIT": "100000000 per minute",
            }
        )
        with app.app_context():
            agency = Agency(code="T01", name_vi="Tỉnh", level="province")
            field = Field(code="F01", name_vi="Lĩnh vực")
            db.session.add_all([agency, field])
            db.session.flush()
            db.session.add(
                Counter(code="Q1", agency_id=agency.id, name_vi="Quầy", field_id=field.id)
            )
            db.session.commit()
        bodies = _bodies(args.n * (args.rounds + bool(args.profile)) + 200)
        statuses: list[str] = []

        def post(body: bytes) -> None:
            out = app.wsgi_app(
                _environ(body), lambda status, headers, exc=None: statuses.append(status)
            )
            b"".join(out)
            out.close()  # type: ignore[attr-defined]

        for body in bodies[:200]:
            post(body)
        cpu, wall = [], []
        for r in range(args.rounds):
            chunk = bodies[200 + r * args.n : 200 + (r + 1) * args.n]
            c0, w0 = time.process_time(), time.perf_counter()
            for body in chunk:
                post(body)
            cpu.append(1000 * (time.process_time() - c0) / args.n)
            wall.append(1000 * (time.perf_counter() - w0) / args.n)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for body in bodies[200 + args.rounds * args.n :]:
                post(body)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        created = sum(s.startswith("201") for s in statuses)
        if created != len(statuses):
            raise SystemExit(f"not every submission was created: {sorted(set(statuses))}")
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
    print(
        f"{args.db}, rate limit {args.rate_limit}: {created} submissions; per submission "
        f"CPU {min(cpu):.3f} ms (best of {args.rounds}; all {', '.join(f'{c:.3f}' for c in cpu)}), "
        f"wall {min(wall):.3f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
