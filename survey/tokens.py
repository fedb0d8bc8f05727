"""Dossier tokens: signed, expiring, single-use links printed on a dossier receipt.

A dossier QR carries a token made by :func:`issue_dossier_token`. It is signed (HMAC-SHA256 via
:mod:`itsdangerous`), timestamped (expiry is checked by :func:`verify_dossier_token`) and carries a
random token id (the nonce) that the storage layer makes single-use with a UNIQUE constraint.

No personal data travels in clear: the dossier code (which a citizen could use to look up a file)
is replaced by a keyed hash, ``dossier_hash`` = the first 12 bytes of
``HMAC-SHA256(key=HMAC-SHA256(secret, "sipas.dossier-hash"), msg=normalised dossier code)``,
base64url-encoded (16 characters). The hash lets officials match a response to a dossier they hold,
but cannot be reversed or recomputed without the server's secret.

Payload (JSON, short keys so that the QR stays small)::

    {"a": agency_code, "f": field_code, "p": procedure_code | omitted,
     "h": dossier_hash, "n": token_id}

This module is pure: it imports neither Flask nor the database; callers pass the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

__all__ = [
    "DossierClaims",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "dossier_hash",
    "issue_dossier_token",
    "verify_dossier_token",
]

_SALT = "sipas.dossier-token.v1"
_HASH_CONTEXT = b"sipas.dossier-hash"
_HASH_BYTES = 12
_NONCE_BYTES = 9
_MAX_CODE_LENGTH = 64

Clock = Callable[[], float]


class TokenError(ValueError):
    """A dossier token cannot be used; ``code`` is a stable identifier for the web layer."""

    code = "token_error"


class TokenInvalid(TokenError):
    """The token is garbled, forged, signed with another key or carries a malformed payload."""

    code = "token_invalid"


class TokenExpired(TokenError):
    """The token is authentic but older than the allowed age."""

    code = "token_expired"

    def __init__(self, message: str, issued_at: datetime | None) -> None:
        super().__init__(message)
        self.issued_at = issued_at


@dataclass(frozen=True, slots=True)
class DossierClaims:
    """What a verified dossier token says.

    Attributes
    ----------
    agency_code, field_code : str
        The agency that received the dossier and the procedure field (lĩnh vực).
    procedure_code : str or None
        The procedure, when the receipt names one.
    dossier_hash : str
        Keyed hash of the dossier code (see the module docstring); never the code itself.
    token_id : str
        Random id of this token; a response stores it once (single use).
    issued_at : datetime
        When the token was signed (UTC, whole seconds).
    """

    agency_code: str
    field_code: str
    procedure_code: str | None
    dossier_hash: str
    token_id: str
    issued_at: datetime


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock can be injected (tests, batch printing)."""

    def __init__(self, *args: Any, clock: Clock | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock or time.time

    def get_timestamp(self) -> int:
        return int(self._clock())


def _serializer(secret: str | bytes, clock: Clock | None) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("a non-empty secret is required to sign or verify dossier tokens")
    return URLSafeTimedSerializer(
        secret,
        salt=_SALT,
        signer=_ClockSigner,
        signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
    )


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _check_code(name: str, value: str | None, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > _MAX_CODE_LENGTH:
        raise ValueError(f"{name} is longer than {_MAX_CODE_LENGTH} characters")


def dossier_hash(secret: str | bytes, dossier_code: str) -> str:
    """Return the keyed hash of a dossier code (16 URL-safe characters).

    The code is normalised first (surrounding spaces removed, upper case) so that ``" 000.12 "``
    and ``"000.12"`` hash the same.

    Raises
    ------
    ValueError
        When ``secret`` or ``dossier_code`` is empty.
    """
    if not secret:
        raise ValueError("a non-empty secret is required to hash dossier codes")
    _check_code("dossier_code", dossier_code, required=True)
    key = hmac.new(_as_bytes(secret), _HASH_CONTEXT, hashlib.sha256).digest()
    normalised = dossier_code.strip().upper().encode("utf-8")
    digest = hmac.new(key, normalised, hashlib.sha256).digest()[:_HASH_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def issue_dossier_token(
    secret: str | bytes,
    *,
    agency_code: str,
    field_code: str,
    procedure_code: str | None,
    dossier_code: str,
    issued_at: datetime | None = None,
) -> str:
    """Sign a new single-use dossier token (URL-safe, about 150 characters).

    Parameters
    ----------
    secret
        The application's ``SECRET_KEY``.
    agency_code, field_code, procedure_code
        Units the response will be attributed to; ``procedure_code`` may be ``None``.
    dossier_code
        The dossier's receipt number. Only its keyed hash enters the token.
    issued_at
        Signing time (timezone-aware); now when omitted.

    Raises
    ------
    ValueError
        On an empty secret, an empty or overlong code, or a naive ``issued_at``.
    """
    _check_code("agency_code", agency_code, required=True)
    _check_code("field_code", field_code, required=True)
    _check_code("procedure_code", procedure_code, required=False)
    clock: Clock | None = None
    if issued_at is not None:
        if issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        stamp = issued_at.timestamp()
        clock = lambda: stamp  # noqa: E731
    payload: dict[str, str] = {"a": agency_code, "f": field_code}
    if procedure_code is not None:
        payload["p"] = procedure_code
    payload["h"] = dossier_hash(secret, dossier_code)
    payload["n"] = secrets.token_urlsafe(_NONCE_BYTES)
    return str(_serializer(secret, clock).dumps(payload))


def verify_dossier_token(
    secret: str | bytes,
    token: str,
    max_age: timedelta,
    *,
    now: datetime | None = None,
) -> DossierClaims:
    """Check a dossier token's signature and age and return its claims.

    Parameters
    ----------
    secret
        The application's ``SECRET_KEY`` (the one that signed the token).
    token
        The token text from the QR URL.
    max_age
        Oldest acceptable token age.
    now
        Current time (timezone-aware); the system clock when omitted.

    Raises
    ------
    TokenInvalid
        The token is garbled, forged, signed with another key, or its payload is malformed.
    TokenExpired
        The signature is valid but the token is older than ``max_age``.
    """
    clock: Clock | None = None
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        stamp = now.timestamp()
        clock = lambda: stamp  # noqa: E731
    if not isinstance(token, str) or not token or len(token) > 512:
        raise TokenInvalid("the token is empty or too long")
    serializer = _serializer(secret, clock)
    try:
        payload, signed_at = serializer.loads(
            token, max_age=int(max_age.total_seconds()), return_timestamp=True
        )
    except SignatureExpired as exc:
        raise TokenExpired("the token has expired", exc.date_signed) from None
    except (BadData, UnicodeError, ValueError):
        raise TokenInvalid("the token is not authentic") from None
    return _claims(payload, signed_at)


def _claims(payload: object, signed_at: datetime) -> DossierClaims:
    if not isinstance(payload, dict) or not payload.keys() <= {"a", "f", "p", "h", "n"}:
        raise TokenInvalid("the token payload is malformed")
    values = {key: payload.get(key) for key in ("a", "f", "p", "h", "n")}
    for key in ("a", "f", "h", "n"):
        if not isinstance(values[key], str) or not values[key]:
            raise TokenInvalid("the token payload is malformed")
    if values["p"] is not None and (not isinstance(values["p"], str) or not values["p"]):
        raise TokenInvalid("the token payload is malformed")
    return DossierClaims(
        agency_code=values["a"],
        field_code=values["f"],
        procedure_code=values["p"],
        dossier_hash=values["h"],
        token_id=values["n"],
        issued_at=signed_at.astimezone(UTC),
    )
