"""Configuration defaults and load order.

Load order in :func:`survey.create_app`: the defaults below, then environment variables with the
``SIPAS_`` prefix (``SIPAS_SECRET_KEY``, ``SIPAS_SQLALCHEMY_DATABASE_URI``,
``SIPAS_RATELIMIT_STORAGE_URI`` ...; values are parsed as JSON when they look like JSON), then the
``test_config`` mapping. Nothing is read at import time.

Keys of our own already start with ``SIPAS_`` and are set by a variable of the same name
(``SIPAS_SUBMIT_RATE_LIMIT``); the doubled name that worked before (``SIPAS_SIPAS_...``) still
works, with a deprecation warning. A ``SIPAS_*`` variable that names no setting is reported
with the closest known name (:func:`environment_settings`).

Every key the application reads is listed here with its meaning.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE_DB = "sipas.db"
# A file in the instance folder that holds the secret key when SIPAS_SECRET_KEY is not set.
SECRET_KEY_FILE = "secret_key"
# Shortest secret key accepted in production (it signs sessions and dossier QR tokens).
MIN_SECRET_KEY_LENGTH = 32


# Flask-SQLAlchemy bind key of the engine the submission write path uses (the main database in
# autocommit; added by `survey.create_app`).
WRITE_BIND = "autocommit_writes"


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the default configuration for an app whose instance folder is ``instance_path``."""
    return {
        # Signing key for sessions, CSRF and dossier tokens. Required outside debug/testing.
        "SECRET_KEY": None,
        # SQLAlchemy URL. SQLite (WAL) in the instance folder by default; PostgreSQL in production,
        # e.g. postgresql+psycopg://user@host/dbname.
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(instance_path) / DEFAULT_INSTANCE_DB),
        # Pool settings. pool_pre_ping on the main engine (pages, lookups, API reads): a pooled
        # connection is tested with one round trip when a request takes it, and replaced if the
        # database dropped it (a restart or failover), so no request fails on a dead connection.
        # The submission write path's engine (WRITE_BIND) does not ping: it costs a round trip
        # per submission, and save_response retries its idempotent write on a fresh connection
        # instead; submissions use the main engine only when a unit is not in the unit cache.
        # Connections are also replaced after pool_recycle seconds (before any server-side
        # idle timeout).
        # skip_autocommit_rollback: no DBAPI rollback() when an autocommit connection (the
        # write path's) returns to the pool. pool_size: keep it >= the gunicorn threads per
        # worker, or connections beyond it are opened and closed on every request (a new
        # PostgreSQL backend each time). These options apply to both engines, the main one and
        # the write path's (WRITE_BIND): a worker holds at most 2 connections per thread.
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_recycle": 1800,
            "pool_size": 10,
            "skip_autocommit_rollback": True,
        },
        # Rate-limit storage shared by all app instances (a `limits` storage URI), e.g.
        # redis://127.0.0.1:6379/0. memory:// is per process and only fit for the demo and tests.
        "RATELIMIT_STORAGE_URI": "memory://",
        # Options for the rate-limit storage client, e.g. {"socket_timeout": 0.5} for Redis
        # (default for Redis: connect and read timeouts of 1 s).
        "RATELIMIT_STORAGE_OPTIONS": {},
        # While the rate-limit storage is unreachable, limits are counted per process; one request
        # every this many seconds tries the storage again (see survey.ratelimits).
        "RATELIMIT_FALLBACK_RETRY_SECONDS": 10,
        # Rate-limit strategy: fixed-window is the cheapest correct one (one Redis EVALSHA doing
        # INCR + EXPIRE per counted request).
        "RATELIMIT_STRATEGY": "fixed-window",
        # Limits on the citizen submission endpoints (`limits` notation), per client address and
        # counter (the API: per address and counter_code; a dossier QR: per address and token).
        "SIPAS_SUBMIT_RATE_LIMIT": "30 per minute",
        # Reverse proxies in front of the app (1 for one nginx): their X-Forwarded-For, -Proto
        # and -Host headers are trusted, so that rate limits see the citizen's address and HTTPS
        # is recognised. 0 (default): the headers are ignored (serving directly).
        "SIPAS_TRUSTED_PROXIES": 0,
        # Limit on officials' sign-in attempts per client address (`limits` notation).
        "SIPAS_LOGIN_RATE_LIMIT": "10 per minute",
        # Session cookie: Secure (sent over HTTPS only) in production behind TLS; false for a
        # plain-HTTP demo or intranet; "auto" sets it exactly on requests that arrived over TLS
        # (behind a proxy, with SIPAS_TRUSTED_PROXIES). Always HttpOnly and SameSite=Lax.
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Largest request body accepted, in bytes (a SIPAS response is a few kB).
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Largest file accepted by the admin pages' imports and frame uploads, in bytes.
        "SIPAS_UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
        # Default questionnaire at counters.
        "SIPAS_DEFAULT_FORM": "sipas-counter",
        # Days a dossier QR token stays valid after it is issued.
        "SIPAS_TOKEN_MAX_AGE_DAYS": 60,
        # Kiosk: seconds of inactivity before the form resets for the next citizen.
        "SIPAS_KIOSK_IDLE_SECONDS": 60,
        # Kiosk: seconds the thank-you page stays before a fresh form (a meta refresh, no script).
        "SIPAS_KIOSK_THANKS_SECONDS": 8,
        # Quality flag: a response submitted faster than this many seconds is flagged too_fast.
        "SIPAS_MIN_SECONDS": 15,
        # Languages offered; the first is the default.
        "BABEL_DEFAULT_LOCALE": "vi",
        "SIPAS_LANGUAGES": ["vi", "en"],
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        # Flask-WTF CSRF tokens of the officials' forms (session-bound) do not expire on their own:
        # they end with the session.
        "WTF_CSRF_TIME_LIMIT": None,
        # Hours a citizen form page stays valid to submit (its cookie-less token, signed with
        # SECRET_KEY; survey.citizen.pages). An older page comes back with the answers kept and
        # is accepted when sent again.
        "SIPAS_FORM_TOKEN_MAX_AGE_HOURS": 24,
        # Compress the citizen pages and static files (zstd, br or gzip, as the browser accepts;
        # survey.compression). false: leave it to the reverse proxy.
        "SIPAS_COMPRESS": True,
        # Build the reports' default overview in the background when a worker serves its first
        # request (survey.reports.warmup), so the first official does not wait for it.
        "SIPAS_REPORTS_WARMUP": True,
        # Seconds between refreshes of the statistics summary by the serving workers (one of
        # them at a time; survey.statistics.background); 0: only `sipas aggregates refresh`.
        "SIPAS_AGGREGATES_REFRESH_SECONDS": 60,
        # The reports' survey design, a mapping with strata, psu, ... (survey.reports.context);
        # None: strata = agency, each response its own PSU.
        "SIPAS_REPORT_DESIGN": None,
        # The PAR Index scoring rule the reports apply (analysis/rules), or None.
        "SIPAS_PAR_RULE": None,
        # Base URL printed in QR codes (scheme://host[:port]); the request host when unset.
        "SIPAS_PUBLIC_BASE_URL": None,
        # Responses are kept this many whole calendar months, then deleted by
        # `sipas retention apply` (with their summary rows); unset (None): kept forever.
        "SIPAS_RETENTION_MONTHS": None,
        # Set by `sipas demo` for its own server: a short or missing secret key is tolerated.
        "SIPAS_DEMO": False,
    }


# Settings read by the application or its extensions that have no default above.
_OTHER_KEYS = frozenset(
    {
        # Flask
        "APPLICATION_ROOT", "DEBUG", "EXPLAIN_TEMPLATE_LOADING", "MAX_COOKIE_SIZE",
        "MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS", "PERMANENT_SESSION_LIFETIME",
        "PREFERRED_URL_SCHEME", "PROPAGATE_EXCEPTIONS", "PROVIDE_AUTOMATIC_OPTIONS",
        "SECRET_KEY_FALLBACKS", "SEND_FILE_MAX_AGE_DEFAULT", "SERVER_NAME",
        "SESSION_COOKIE_DOMAIN", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_PARTITIONED", "SESSION_COOKIE_PATH", "SESSION_REFRESH_EACH_REQUEST",
        "TEMPLATES_AUTO_RELOAD", "TESTING", "TRAP_BAD_REQUEST_ERRORS", "TRAP_HTTP_EXCEPTIONS",
        "TRUSTED_HOSTS", "USE_X_SENDFILE",
        # Flask-SQLAlchemy, Flask-WTF, Flask-Babel
        "SQLALCHEMY_BINDS", "SQLALCHEMY_ECHO", "SQLALCHEMY_RECORD_QUERIES",
        "SQLALCHEMY_TRACK_MODIFICATIONS", "WTF_CSRF_ENABLED", "WTF_CSRF_CHECK_DEFAULT",
        "WTF_CSRF_SECRET_KEY", "WTF_CSRF_METHODS", "WTF_CSRF_FIELD_NAME", "WTF_CSRF_HEADERS",
        "WTF_CSRF_SSL_STRICT", "BABEL_DEFAULT_TIMEZONE", "BABEL_DOMAIN",
        # survey.ratelimits, survey.reports
        "RATELIMIT_ENABLED", "RATELIMIT_KEY_PREFIX", "SIPAS_PAR_RULE", "SIPAS_REPORT_DESIGN",
    }
)  # fmt: skip
# SIPAS_* variables that are not settings of the application (the test suite's, benchmarks').
ENVIRONMENT_ONLY = frozenset(
    {
        "SIPAS_TEST_POSTGRES_URL",
        "SIPAS_TEST_REDIS_URL",
        "SIPAS_REQUIRE_SERVICES",
        "SIPAS_ORACLE_OUT",
        "SIPAS_BENCH_CONFIG",
    }
)
ENV_PREFIX = "SIPAS_"


def known_keys() -> frozenset[str]:
    """Every configuration key the application or its extensions read."""
    return frozenset(defaults("")) | _OTHER_KEYS


def variable_name(key: str) -> str:
    """The environment variable that sets configuration ``key``."""
    return key if key.startswith(ENV_PREFIX) else ENV_PREFIX + key


def environment_settings(
    environ: Mapping[str, str],
) -> tuple[list[tuple[list[str], Any]], list[str]]:
    """The settings of the ``SIPAS_*`` variables of ``environ``, and warnings about them.

    Returns
    -------
    settings : list of (path, value)
        ``path`` is the configuration key, then the keys inside it for a nested variable
        (``SIPAS_SQLALCHEMY_ENGINE_OPTIONS__pool_size`` → ``["SQLALCHEMY_ENGINE_OPTIONS",
        "pool_size"]``). Values are parsed as JSON when they are JSON, else kept as text.
        In the order to apply them: a doubled ``SIPAS_SIPAS_...`` name before the right one.
    warnings : list of str
        One line per unknown variable (with the closest known name) and per deprecated one.
    """
    known = known_keys()
    names = {variable_name(key): key for key in known}
    settings: list[tuple[int, str, list[str], Any]] = []
    warnings: list[str] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in ENVIRONMENT_ONLY:
            continue
        head, *inner = name.split("__")
        rank = 1
        if head in names:
            key = names[head]
        elif head.startswith(ENV_PREFIX * 2) and head.removeprefix(ENV_PREFIX) in known:
            key = head.removeprefix(ENV_PREFIX)
            rank = 0  # the right name, if also set, wins
            right = name.removeprefix(ENV_PREFIX)
            warnings.append(f"{name} is deprecated: name it {right} (it is read for now)")
        else:
            close = difflib.get_close_matches(head, names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"{name} is not a SIPAS setting and is ignored{hint}")
            continue
        value: Any = environ[name]
        try:
            value = json.loads(value)
        except ValueError:
            pass
        settings.append((rank, name, [key, *inner], value))
    settings.sort(key=lambda item: item[0])
    return [(path, value) for _rank, _name, path, value in settings], warnings


def apply_settings(config: dict[str, Any], settings: list[tuple[list[str], Any]]) -> None:
    """Set each ``(path, value)`` of :func:`environment_settings` in ``config``."""
    for path, value in settings:
        current = config
        *parts, tail = path
        for part in parts:
            current = current.setdefault(part, {})
        current[tail] = value
