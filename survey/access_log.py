"""Access logs without dossier tokens: gunicorn's logger, with every token in a URL redacted.

A dossier QR code carries a signed, single-use token in its path (``/d/<token>``,
:mod:`survey.qrcodes`). Whoever reads an access log that holds it could answer in the
citizen's place before they do, so :class:`RedactingLogger` writes ``/d/…`` instead, and
``…`` for the value of any query parameter whose name contains ``token``, in every part of a
log line (request line, path, query string, referer, headers). ``sipas serve`` and
``sipas demo`` use it (``--logger-class``); the demo's access log leaves out client
addresses as well (:data:`DEMO_ACCESS_LOG_FORMAT`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

__all__ = ["DEMO_ACCESS_LOG_FORMAT", "LOGGER_CLASS", "RedactingLogger", "redact_tokens"]

LOGGER_CLASS = "survey.access_log.RedactingLogger"
# gunicorn's default format without the client address (%(h)s) and user (%(u)s).
DEMO_ACCESS_LOG_FORMAT = '%(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
REDACTED = "…"

_DOSSIER_PATH = re.compile(r"(/d/)[^/?#\s\"]+")
_TOKEN_PARAMETER = re.compile(r"([?&;][^=&;#\s\"]*token[^=&;#\s\"]*=)[^&;#\s\"]*", re.IGNORECASE)


def redact_tokens(text: str) -> str:
    """``text`` with dossier tokens in paths and ``*token*`` query values replaced by ``…``."""
    if "/d/" not in text and "oken" not in text and "OKEN" not in text:
        return text
    text = _DOSSIER_PATH.sub(rf"\g<1>{REDACTED}", text)
    return _TOKEN_PARAMETER.sub(rf"\g<1>{REDACTED}", text)


class RedactingLogger(Logger):
    """gunicorn's logger, whose access-log atoms hold no dossier token."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        if environ.get("QUERY_STRING"):  # a bare query string: its own parameters
            atoms["q"] = redact_tokens("?" + atoms["q"])[1:]
        return {
            key: redact_tokens(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
