"""Access logs hold no dossier token (issue #13, defect 10): ``survey.access_log``."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gunicorn.config import Config

from survey import access_log, cli, qrcodes
from survey.access_log import DEMO_ACCESS_LOG_FORMAT, RedactingLogger, redact_tokens
from survey.tokens import issue_dossier_token

TOKEN = issue_dossier_token(
    "k" * 48, agency_code="STP", field_code="HT", procedure_code=None, dossier_code="H56-0001"
)


def _logged(tmp_path, access_log_format: str | None, environ: dict[str, str]) -> str:
    """The line gunicorn's access log gets for one request, through RedactingLogger."""
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    if access_log_format is not None:
        config.set("access_log_format", access_log_format)
    config.set("logger_class", access_log.LOGGER_CLASS)
    logger = config.logger_class(config)
    assert isinstance(logger, RedactingLogger)
    path = environ["RAW_URI"].split("?")[0]
    query = environ["RAW_URI"].partition("?")[2]
    request_environ = {
        "REQUEST_METHOD": "POST",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": "Mozilla/5.0",
        **environ,
    }
    response = SimpleNamespace(status="303 SEE OTHER", headers=[("Location", "/thanks")], sent=0)
    request = SimpleNamespace(headers=[("REFERER", environ.get("HTTP_REFERER", "-"))])
    logger.access(response, request, request_environ, timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    return (tmp_path / "access.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("log_format", [None, "%(r)s %(U)s %(q)s %(f)s %({referer}i)s"])
def test_a_dossier_token_url_leaves_no_token_in_the_access_log(tmp_path, log_format):
    url = qrcodes.dossier_url("https://sipas.example.vn", TOKEN)
    environ = {
        "RAW_URI": f"/d/{TOKEN}?lang=vi&token={TOKEN}",
        "HTTP_REFERER": url,
    }
    line = _logged(tmp_path, log_format, environ)
    assert TOKEN not in line and TOKEN[:20] not in line
    assert "/d/…" in line and "token=…" in line and "lang=vi" in line


def test_the_demo_log_has_no_client_address(tmp_path):
    line = _logged(tmp_path, DEMO_ACCESS_LOG_FORMAT, {"RAW_URI": f"/d/{TOKEN}"})
    assert "203.0.113.7" not in line and TOKEN not in line
    assert '"POST /d/… HTTP/1.1" 303' in line


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("/d/abc.DEF-123_x", "/d/…"),
        ("GET /d/abc.def/ HTTP/1.1", "GET /d/…/ HTTP/1.1"),
        ("/x?dossier_token=abc&lang=en", "/x?dossier_token=…&lang=en"),
        ("/s/Q1?lang=en", "/s/Q1?lang=en"),
        ("/healthz", "/healthz"),
    ],
)
def test_redact_tokens(text, redacted):
    assert redact_tokens(text) == redacted


def test_serve_runs_gunicorn_with_the_redacting_logger(monkeypatch):
    monkeypatch.setenv("SIPAS_SECRET_KEY", "k" * 48)
    ran: list[tuple[str, ...]] = []
    monkeypatch.setattr(os, "execvp", lambda *argv: ran.append(argv))
    result = CliRunner().invoke(cli.main, ["serve"])
    assert result.exit_code == 0, result.output
    ((_file, argv),) = ran
    assert argv[:3] == [sys.executable, "-m", "gunicorn"]
    assert argv[argv.index("--logger-class") + 1] == access_log.LOGGER_CLASS
