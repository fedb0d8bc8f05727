"""The SIPAS survey server: a thin Flask layer over ``forms`` and ``analysis``."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from survey import compression, compute_threads, guards, ratelimits, security  # noqa: F401
from survey.config import (
    MIN_SECRET_KEY_LENGTH,
    SECRET_KEY_FILE,
    WRITE_BIND,
    apply_settings,
    defaults,
    environment_settings,
)
from survey.extensions import babel, csrf, db, login_manager


class ConfigurationError(RuntimeError):
    """The application cannot start with this configuration."""


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    Configuration is read in this order: code defaults (:mod:`survey.config`), ``SIPAS_*``
    environment variables, then ``test_config``.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.session_interface = StatelessPathsSessionInterface()
    load_config(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    _trust_proxies(app)
    from survey.admin.uploads import allow_uploads

    # First the upload limit of the admin upload endpoints (before anything reads a body), then
    # the text guard, before CSRF and every other request hook.
    app.before_request(allow_uploads)
    guards.init_app(app)
    _add_write_bind(app.config)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            _tune_sqlite(engine)
    csrf.init_app(app)
    ratelimits.init_app(app)
    login_manager.init_app(app)
    from survey.i18n import select_locale

    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale

    from survey import admin, api, auth, citizen, errors, reports

    app.register_blueprint(citizen.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(reports.bp, url_prefix="/reports")
    if app.config["SIPAS_REPORTS_WARMUP"] and not app.testing:
        from survey.reports import warmup

        warmup.install(app)
    refresh_every = app.config["SIPAS_AGGREGATES_REFRESH_SECONDS"]
    if not isinstance(refresh_every, int | float) or refresh_every < 0:
        raise ConfigurationError(
            "SIPAS_AGGREGATES_REFRESH_SECONDS must be a number of seconds (0 turns the "
            f"background refresh off), not {refresh_every!r}"
        )
    if refresh_every > 0 and not app.testing:
        from survey.statistics import background

        background.install(app, float(refresh_every))
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    csrf.exempt(api.bp)
    errors.init_app(app)
    security.init_app(app)
    compression.init_app(app)
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    from survey.readiness import readyz

    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    return app


log = logging.getLogger(__name__)
_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()
# Key of app.extensions: where the secret key came from (for `sipas serve`).
SECRET_KEY_SOURCE = "sipas.secret_key_source"


def load_config(
    app: Flask,
    test_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure ``app``: defaults, ``SIPAS_*`` variables of ``environ`` (``os.environ``), then
    ``test_config``; then find the secret key (:func:`_require_secret_key`).

    Unknown and deprecated ``SIPAS_*`` variables are logged as warnings, each once per process.
    """
    environ = os.environ if environ is None else environ
    app.config.from_mapping(defaults(app.instance_path))
    settings, warnings = environment_settings(environ)
    apply_settings(app.config, settings)
    for message in warnings:
        with _WARNED_LOCK:
            if message in _WARNED:
                continue
            _WARNED.add(message)
        log.warning("configuration: %s", message)
    if test_config is not None:
        app.config.update(test_config)
    _require_secret_key(app, environ)


def healthz() -> tuple[str, int, dict[str, str]]:
    """Liveness probe for load balancers and the benchmark's ceiling: ``ok``.

    It touches neither the database nor the session and is never rate limited, so it measures
    the HTTP stack alone (gunicorn + Flask).
    """
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


# Paths served without a session: no cookie is read or signed there (the JSON API authenticates
# with a bearer key, the probes have no state).
STATELESS_PATHS = ("/api/", "/healthz", "/readyz")


class StatelessPathsSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions, except on :data:`STATELESS_PATHS`, which get Flask's null session.

    Opening a cookie session builds a signing serializer on every request (≈ 4 % of a
    submission's time under cProfile); the API never uses the session, and
    the null session raises if code there ever tries to write one.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        """``SESSION_COOKIE_SECURE``, where ``"auto"`` means: over TLS (:mod:`survey.security`)."""
        return security.cookie_secure(app)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(STATELESS_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _trust_proxies(app: Flask) -> None:
    """Behind ``SIPAS_TRUSTED_PROXIES`` reverse proxies, take the client address, scheme and
    host from their ``X-Forwarded-For``/``-Proto``/``-Host`` headers (Werkzeug's ``ProxyFix``).

    The count must match the proxies really in front (1 for one nginx): the last that many
    addresses of ``X-Forwarded-For`` are trusted, so a client cannot choose its address. With
    0 (the default) the headers are ignored and the address is the connection's.
    """
    count = int(app.config.get("SIPAS_TRUSTED_PROXIES") or 0)
    if count < 0:
        raise ConfigurationError("SIPAS_TRUSTED_PROXIES must be 0 or a positive number")
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


_MAKE_KEY = 'SIPAS_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(48))")'


def _require_secret_key(app: Flask, environ: Mapping[str, str]) -> None:
    """Find the secret key: configuration, else ``instance/secret_key`` (written by ``sipas demo``).

    Refuse to run in production without one, or with one shorter than
    :data:`~survey.config.MIN_SECRET_KEY_LENGTH` characters; use a throwaway key in debug and
    tests. ``app.extensions[SECRET_KEY_SOURCE]`` says where the key came from.
    """
    production = not (app.debug or app.testing or app.config.get("SIPAS_DEMO"))
    key = app.config.get("SECRET_KEY")
    if key:
        from_env = environ.get("SIPAS_SECRET_KEY") not in (None, "") and key == environ.get(
            "SIPAS_SECRET_KEY"
        )
        source = "the SIPAS_SECRET_KEY environment variable" if from_env else "the configuration"
    else:
        key_file = Path(app.instance_path) / SECRET_KEY_FILE
        if key_file.is_file():
            key = app.config["SECRET_KEY"] = key_file.read_text(encoding="utf-8").strip()
            source = f"the key file {key_file} (written by `sipas demo`)"
        elif not production:
            key = app.config["SECRET_KEY"] = secrets.token_hex(32)
            source = "a throwaway key (debug, tests or the demo)"
        else:
            raise ConfigurationError(
                f"SIPAS_SECRET_KEY is not set (nor {key_file}). Set it to a long random "
                f"string (it signs sessions and dossier QR tokens), e.g. {_MAKE_KEY}"
            )
    if production and len(str(key)) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"the secret key from {source} has {len(str(key))} characters; at least "
            f"{MIN_SECRET_KEY_LENGTH} are needed in production (it signs sessions and "
            f"dossier QR tokens). Make one with {_MAKE_KEY}"
        )
    app.extensions[SECRET_KEY_SOURCE] = source


def _add_write_bind(config: dict[str, Any]) -> None:
    """Declare the engine of the submission write path: the same database, in autocommit, with
    the pool settings of ``SQLALCHEMY_ENGINE_OPTIONS`` except ``pool_pre_ping``.

    Its pooled connections are opened in autocommit once, instead of being switched to it and
    back on every checkout (3 % of a submission's instructions). An in-memory SQLite database
    exists once per engine, so there the write path keeps the main engine.
    """
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return
    binds = dict(config.get("SQLALCHEMY_BINDS") or {})
    # Flask-SQLAlchemy gives a bind only its own options: copy the pool settings, without
    # pre-ping (a round trip per submission; the write retries on a new connection instead).
    options = {
        **(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
        "url": url,
        "isolation_level": "AUTOCOMMIT",
        "pool_pre_ping": False,
    }
    binds.setdefault(WRITE_BIND, options)
    config["SQLALCHEMY_BINDS"] = binds


def _tune_sqlite(engine: Engine) -> None:
    """Turn on WAL, foreign keys and a busy timeout for every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
