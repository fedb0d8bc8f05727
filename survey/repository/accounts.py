"""Officials' accounts and API keys (passwords and keys are stored only as hashes).

Every refusal is an :class:`AccountError` with a stable ``code`` and the values its message
needs (``params``); the command line prints the English text, the admin pages translate the code
(``survey.admin.messages``).

Roles and agencies go together: an ``official`` is limited to one agency (and the agencies under
it), so an official needs an agency; ``admin`` and ``analyst`` see the whole province and must
not be given one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.security import generate_password_hash

from survey.auth import end_sessions
from survey.extensions import db
from survey.models import ROLES, Agency, ApiKey, User
from survey.repository.catalogue import get_agency

__all__ = [
    "AccountError",
    "ApiKeyAccess",
    "api_key_access",
    "create_api_key",
    "create_user",
    "disable_user",
    "get_user",
    "list_api_keys",
    "list_users",
    "revoke_api_key",
    "set_password",
    "verify_api_key",
]

MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_USERNAME = 64
MAX_KEY_NAME = 100
SCOPED_ROLE = "official"


class AccountError(ValueError):
    """A user or API key cannot be created or changed as asked.

    Attributes
    ----------
    code : str
        Stable reason (``username_taken``, ``agency_required``, …), translated by the web layer.
    params : dict of str to str
        The values the message names (``username``, ``agency``, ``role``, ``key``).
    """

    def __init__(self, code: str, message: str, **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _check_username(username: str) -> str:
    name = username.strip()
    if not name:
        raise AccountError("blank_username", "the username must not be blank")
    if len(name) > MAX_USERNAME or _has_control_characters(name) or any(c.isspace() for c in name):
        raise AccountError(
            "invalid_username",
            f"the username must be at most {MAX_USERNAME} characters, without spaces or "
            "control characters",
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            "short_password", f"the password must have at least {MIN_PASSWORD} characters"
        )
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise AccountError(
            "invalid_password",
            f"the password must have at most {MAX_PASSWORD} characters and no NUL character",
        )


def _agency_for(code: str | None) -> Agency | None:
    if code is None or not code.strip():
        return None
    agency = get_agency(code.strip()) if not _has_control_characters(code) else None
    if agency is None:
        raise AccountError("unknown_agency", f"unknown agency {code!r}", agency=code)
    return agency


def create_user(
    username: str,
    password: str,
    *,
    role: str = SCOPED_ROLE,
    display_name: str = "",
    agency_code: str | None = None,
) -> User:
    """Create an account (the password is stored as a salted hash).

    Raises
    ------
    AccountError
        Blank or malformed username, password shorter than 8 characters, unknown role or
        agency, an official without an agency, an admin or analyst with one, or a username
        already taken.
    """
    name = _check_username(username)
    _check_password(password)
    if role not in ROLES:
        raise AccountError(
            "unknown_role", f"unknown role {role!r}; choose one of {', '.join(ROLES)}", role=role
        )
    agency = _agency_for(agency_code)
    if role == SCOPED_ROLE and agency is None:
        raise AccountError(
            "agency_required", "an official needs an agency (--agency CODE)", role=role
        )
    if role != SCOPED_ROLE and agency is not None:
        raise AccountError(
            "agency_not_allowed",
            f"an account with role {role} sees the whole province; do not give it an agency",
            role=role,
        )
    if _has_control_characters(display_name) or len(display_name) > 255:
        raise AccountError(
            "invalid_display_name", "the display name must be at most 255 printable characters"
        )
    if get_user(name) is not None:
        raise AccountError("username_taken", f"a user {name!r} already exists", username=name)
    user = User(
        username=name,
        password_hash=generate_password_hash(password),
        display_name=display_name.strip(),
        role=role,
        agency=agency,
        active=True,
    )
    db.session.add(user)
    db.session.commit()
    return user


def get_user(username: str) -> User | None:
    """The account with this username (active or not), with its agency loaded."""
    if _has_control_characters(username):
        return None
    return db.session.scalar(
        select(User).options(joinedload(User.agency)).where(User.username == username.strip())
    )


def _existing_user(username: str) -> User:
    user = get_user(username)
    if user is None:
        raise AccountError("unknown_user", f"no user {username!r}", username=username)
    return user


def list_users() -> list[User]:
    """Every account ordered by username, with its agency loaded."""
    return list(
        db.session.scalars(select(User).options(joinedload(User.agency)).order_by(User.username))
    )


def set_password(username: str, password: str) -> User:
    """Give an account a new password and end every session it has (committed)."""
    user = _existing_user(username)
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    db.session.commit()
    return user


def disable_user(username: str) -> User:
    """Disable an account: it can no longer sign in, and its sessions end (committed)."""
    user = _existing_user(username)
    user.active = False
    end_sessions(user)
    db.session.commit()
    return user


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(name: str, *, agency_code: str | None = None) -> str:
    """Create an API key and return it; it is shown once, only its SHA-256 is stored.

    With ``agency_code`` the key reads only that agency and the agencies under it; without, it
    reads every agency.
    """
    label = name.strip()
    if not label:
        raise AccountError("blank_key_name", "the key needs a name (who uses it)")
    if len(label) > MAX_KEY_NAME or _has_control_characters(label):
        raise AccountError(
            "invalid_key_name",
            f"the key's name must be at most {MAX_KEY_NAME} printable characters",
        )
    agency = _agency_for(agency_code)
    key = "sipas_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiKey(
            name=label,
            key_hash=_key_digest(key),
            active=True,
            agency_id=agency.id if agency else None,
        )
    )
    db.session.commit()
    return key


def list_api_keys() -> list[ApiKey]:
    """Every API key (active and revoked) ordered by id, with its agency loaded."""
    return list(
        db.session.scalars(select(ApiKey).options(joinedload(ApiKey.agency)).order_by(ApiKey.id))
    )


def revoke_api_key(name_or_id: str | int) -> ApiKey:
    """Revoke the active key with this id, or the one active key with this name (committed).

    Raises
    ------
    AccountError
        No such active key (``unknown_key``), or several active keys share the name
        (``ambiguous_key``: revoke by id).
    """
    text = str(name_or_id).strip()
    query = select(ApiKey).where(ApiKey.active.is_(True))
    if text.isdigit() and len(text) <= 9:
        found = list(db.session.scalars(query.where(ApiKey.id == int(text))))
    else:
        found = list(db.session.scalars(query.where(ApiKey.name == text)))
    if not found:
        raise AccountError("unknown_key", f"no active API key {text!r}", key=text)
    if len(found) > 1:
        ids = ", ".join(str(k.id) for k in found)
        raise AccountError(
            "ambiguous_key",
            f"several active keys are named {text!r} (ids {ids}); revoke one by its id",
            key=text,
        )
    key = found[0]
    key.active = False
    db.session.commit()
    return key


@dataclass(frozen=True, slots=True)
class ApiKeyAccess:
    """What an active API key may read: every agency (``agency_id`` None) or one subtree."""

    key_id: int
    agency_id: int | None


def api_key_access(key: str) -> ApiKeyAccess | None:
    """The access of an active API key, or ``None`` for a missing, unknown or revoked key."""
    if not key or len(key) > 200:
        return None
    row = db.session.execute(
        select(ApiKey.id, ApiKey.agency_id).where(
            ApiKey.key_hash == _key_digest(key), ApiKey.active.is_(True)
        )
    ).first()
    return None if row is None else ApiKeyAccess(row[0], row[1])


def verify_api_key(key: str) -> bool:
    """True when ``key`` is an active API key."""
    return api_key_access(key) is not None
