"""Configuration defaults and load order.

Load order in :func:`survey.create_app`: the defaults below, then environment variables with the
``SIPAS_`` prefix (``SIPAS_SECRET_KEY``, ``SIPAS_SQLALCHEMY_DATABASE_URI``,
``SIPAS_RATELIMIT_STORAGE_URI`` ...; values are parsed as JSON when they look like JSON), then the
``test_config`` mapping. Nothing is read at import time.

Keys that start with ``SIPAS_`` themselves are set by the variable of the same name
(``SIPAS_TRUSTED_PROXIES=1`` sets ``SIPAS_TRUSTED_PROXIES``; :func:`promote_app_keys`), not only
by the doubled prefix (``SIPAS_SIPAS_TRUSTED_PROXIES``), which also still works.

Every key the application reads is listed here with its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE_DB = "sipas.db"
# A file in the instance folder that holds the secret key when SIPAS_SECRET_KEY is not set.
SECRET_KEY_FILE = "secret_key"


# Flask-SQLAlchemy bind key of the engine the submission write path uses (the main database in
# autocommit; added by `survey.create_app`).
WRITE_BIND = "autocommit_writes"


def promote_app_keys(config: dict[str, Any], known: Mapping[str, Any]) -> None:
    """Move ``X`` to ``SIPAS_X`` for every ``SIPAS_X`` in ``known``: Flask's
    ``from_prefixed_env(prefix="SIPAS")`` strips the prefix, so the environment variable
    ``SIPAS_TRUSTED_PROXIES`` arrives as ``TRUSTED_PROXIES``."""
    for key in known:
        short = key.removeprefix("SIPAS_")
        if key.startswith("SIPAS_") and short in config and short not in known:
            config[key] = config.pop(short)


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
        # The reports' survey design, a mapping with strata, psu, ... (survey.reports.context);
        # None: strata = agency, each response its own PSU.
        "SIPAS_REPORT_DESIGN": None,
        # The PAR Index scoring rule the reports apply (analysis/rules), or None.
        "SIPAS_PAR_RULE": None,
        # Base URL printed in QR codes (scheme://host[:port]); the request host when unset.
        "SIPAS_PUBLIC_BASE_URL": None,
    }
