"""Compressed responses (Flask-Compress): the citizen pages and the static files.

The questionnaire page is about 23 kB of HTML; compressed it is a few kB, which matters on a
weak mobile connection at a counter. The browser chooses the encoding (``Accept-Encoding``:
zstd, br, gzip or deflate); responses under 500 bytes, errors and redirects are sent as they are.

Only pages without a secret are compressed: the citizen pages carry no session token (their
form token signs a random response UUID, :mod:`survey.citizen.pages`). The officials' pages,
which hold a session-bound CSRF token next to text from the request, are left uncompressed, so
that the BREACH length side channel has nothing to recover there. ``SIPAS_COMPRESS = false``
turns compression off (a reverse proxy may do it instead; docs/deploy.md).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

compress = Compress()

# Blueprints whose responses are compressed, besides the static files.
COMPRESSED_BLUEPRINTS = frozenset({"citizen"})


def init_app(app: Flask) -> None:
    """Compress the citizen pages and static files when ``SIPAS_COMPRESS`` is on."""
    app.config["COMPRESS_REGISTER"] = False  # not every response: see the module docstring
    compress.init_app(app)
    if app.config["SIPAS_COMPRESS"]:
        app.after_request(_compress_public)


def _compress_public(response: Response) -> Response:
    if request.blueprint in COMPRESSED_BLUEPRINTS or request.endpoint == "static":
        return compress.after_request(response)
    return response
