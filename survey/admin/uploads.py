"""Uploaded files on the admin pages: a larger body limit for the upload forms, and the upload
saved to a temporary file with its own suffix (the importers choose CSV or XLSX by suffix)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, request
from werkzeug.datastructures import FileStorage

__all__ = ["UPLOAD_ENDPOINTS", "UPLOAD_SUFFIXES", "allow_uploads", "saved_upload"]

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xlsm")
# Endpoints that take a file; their POSTs may carry SIPAS_UPLOAD_MAX_BYTES instead of the
# application's MAX_CONTENT_LENGTH (a few kB, sized for survey answers).
UPLOAD_ENDPOINTS = frozenset({"admin.catalogue_import", "admin.frames_upload"})


def allow_uploads() -> None:
    """``before_request``: raise the body limit for the upload endpoints' POSTs.

    Registered on the application before CSRF protection, which reads the form body.
    """
    if request.method == "POST" and request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["SIPAS_UPLOAD_MAX_BYTES"]


@contextmanager
def saved_upload(upload: FileStorage) -> Iterator[Path]:
    """The uploaded file in a temporary file with the upload's suffix (removed afterwards).

    An unknown suffix is kept as it is, so that the importer reports it as unsupported.
    """
    suffix = Path(upload.filename or "").suffix.lower()
    if not suffix.isascii() or not suffix[1:].isalnum() or len(suffix) > 8:
        suffix = ".unknown"
    with tempfile.TemporaryDirectory(prefix="sipas-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        upload.save(path)
        yield path
