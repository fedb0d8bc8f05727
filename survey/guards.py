"""One check at the door for text the database cannot store.

PostgreSQL refuses a NUL character (U+0000) in any text value, and no database can store a lone
UTF-16 surrogate (U+D800–U+DFFF, which JSON can spell as ``\\ud800``). Such text reaches the
server through the URL path (``/s/%00``), the query (``?f=%00``), form fields (a login name) and
JSON bodies (``"counter_code": "\\u0000"``). :func:`refuse_unstorable_text` runs before every
view and answers 400 with the code ``invalid_characters``, in the user's language (JSON for the
API), instead of letting the text reach a query and fail there.

Cost on the submission path: a substring search of the path, the query and the JSON body's
bytes; the body is walked only when it contains a ``\\u`` escape. Uploaded files are binary and
are not checked (their importers check their own cells).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

__all__ = [
    "BoundedJSONProvider",
    "UnstorableText",
    "find_unstorable",
    "has_unstorable",
    "init_app",
    "refuse_unstorable_text",
]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_FIELD_SHOWN = 100
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class UnstorableText(BadRequest):
    """A request whose text holds a character the database cannot store."""

    code = 400
    description = "The request contains a character that is not allowed."

    def __init__(self, field: str) -> None:
        super().__init__()
        # The field is named back to the client: a name that is itself unstorable (a query
        # parameter called "\x00") is shown with U+FFFD in place, cut to a readable length.
        self.field = _UNSTORABLE.sub("\ufffd", field)[:_FIELD_SHOWN]


def has_unstorable(text: str) -> bool:
    """True when ``text`` holds a NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def find_unstorable(value: object) -> str | None:
    """The path (``counter_code``, ``answers.e1_1``) of the first unstorable text in a parsed
    JSON value (keys included), or ``None``. Iterative, so any nesting depth is safe."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if has_unstorable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and has_unstorable(key):
                    return name
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def refuse_unstorable_text() -> None:
    """``before_request`` hook: raise :class:`UnstorableText` for a NUL or a lone surrogate in
    the path, the query, the form fields or the JSON body.

    It runs before every request, submissions included: the request proxy is resolved once,
    and a JSON body is parsed here only when its bytes hold a ``\\u`` escape (the only way
    JSON can spell these characters); the view reuses that parse.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    if "\x00" in req.path:
        raise UnstorableText("path")
    query = req.query_string
    if query and (b"%00" in query or b"\x00" in query):
        for name, value in req.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise UnstorableText(name)
    if req.method in _SAFE_METHODS:
        return
    if req.is_json:
        if b"\\u" in req.get_data(cache=True):
            field = find_unstorable(req.get_json(silent=True))
            if field is not None:
                raise UnstorableText(field)
    elif req.mimetype in _FORM_TYPES:
        for name, value in req.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise UnstorableText(name)


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, except that a body nested deeper than Python's recursion limit is
    invalid JSON (``ValueError``: a 400 from ``request.get_json()``, ``None`` with
    ``silent=True``) instead of a ``RecursionError``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; raise ``ValueError`` when it is nested too deeply to parse."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    """Run :func:`refuse_unstorable_text` before every request of ``app``, and parse request
    bodies with :class:`BoundedJSONProvider`."""
    app.json = BoundedJSONProvider(app)
    app.before_request(refuse_unstorable_text)
