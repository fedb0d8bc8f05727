"""Security headers on every response, and the session cookie's ``Secure`` flag.

Every response carries:

``Content-Security-Policy``
    :data:`CONTENT_SECURITY_POLICY`: resources from this site only, no inline script and no
    inline style (pages use ``static/`` files), images also as ``data:`` URLs, and no framing
    (``frame-ancestors 'none'``, against clickjacking). The one inline stylesheet is the
    printable QR sheet's, which must also work as a file saved to disk; it is allowed by its
    SHA-256 hash (:func:`allow_inline_style`), never by ``'unsafe-inline'``.
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``
    Browsers take content types as sent, and send no ``Referer`` to other sites (a dossier QR
    link holds a token in its path).
``Strict-Transport-Security``
    Only on requests that arrived over TLS (``request.is_secure``; behind a reverse proxy set
    ``SIPAS_TRUSTED_PROXIES`` so that its ``X-Forwarded-Proto`` counts).

The session cookie is ``HttpOnly`` and ``SameSite=Lax``; ``SESSION_COOKIE_SECURE``
(``SIPAS_SESSION_COOKIE_SECURE``) is ``true`` by default (production behind TLS), ``false`` for
a plain-HTTP demo, or ``"auto"``: ``Secure`` exactly when the request arrived over TLS.
"""

from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response, has_request_context, request

__all__ = ["CONTENT_SECURITY_POLICY", "allow_inline_style", "cookie_secure", "init_app"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
_STYLE_HASHES = "sipas.inline_style_hashes"  # a key of the WSGI environ of the request


def allow_inline_style(css: str) -> None:
    """Let the current response's Content-Security-Policy accept ``<style>{css}</style>``
    (by its SHA-256 hash). Outside a request (a sheet written to a file) it does nothing."""
    if not has_request_context():
        return
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    hashes: list[str] = request.environ.setdefault(_STYLE_HASHES, [])
    hashes.append(f"'sha256-{digest}'")


def add_security_headers(response: Response) -> Response:
    """``after_request`` hook: the headers of the module docstring.

    It runs on every response, submissions included, so it resolves the request proxy once and
    sets constant values.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    headers = response.headers
    hashes = req.environ.get(_STYLE_HASHES)
    if hashes:
        extra = " ".join(dict.fromkeys(hashes))
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "style-src 'self'", f"style-src 'self' {extra}"
        )
    else:
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    if req.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    return response


def cookie_secure(app: Flask) -> bool:
    """The session cookie's ``Secure`` flag for the current request (``"auto"``: over TLS)."""
    value = app.config.get("SESSION_COOKIE_SECURE", True)
    if isinstance(value, str) and value.lower() == "auto":
        return has_request_context() and request.is_secure
    return bool(value)


def init_app(app: Flask) -> None:
    """Add the security headers to every response of ``app``."""
    app.after_request(add_security_headers)
