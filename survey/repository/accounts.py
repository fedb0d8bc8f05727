"""Officials' accounts and API keys (passwords and keys are stored only as hashes)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from survey.extensions import db
from survey.models import ROLES, ApiKey, User
from survey.repository.catalogue import get_agency

__all__ = ["AccountError", "create_api_key", "create_user", "verify_api_key"]


class AccountError(ValueError):
    """A user or API key cannot be created as asked."""


def create_user(
    username: str,
    password: str,
    *,
    role: str = "official",
    display_name: str = "",
    agency_code: str | None = None,
) -> User:
    """Create an official's account (the password is stored as a salted hash).

    Raises
    ------
    AccountError
        Blank username, password shorter than 8 characters, unknown role or agency, or a
        username already taken.
    """
    if not username.strip():
        raise AccountError("the username must not be blank")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    agency = None
    if agency_code is not None:
        agency = get_agency(agency_code)
        if agency is None:
            raise AccountError(f"unknown agency {agency_code!r}")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"a user {username!r} already exists")
    user = User(
        username=username.strip(),
        password_hash=generate_password_hash(password),
        display_name=display_name,
        role=role,
        agency=agency,
        active=True,
    )
    db.session.add(user)
    db.session.commit()
    return user


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(name: str) -> str:
    """Create an API key and return it; it is shown once, only its SHA-256 is stored."""
    if not name.strip():
        raise AccountError("the key needs a name (who uses it)")
    key = "sipas_" + secrets.token_urlsafe(32)
    db.session.add(ApiKey(name=name.strip(), key_hash=_key_digest(key), active=True))
    db.session.commit()
    return key


def verify_api_key(key: str) -> bool:
    """True when ``key`` is an active API key."""
    if not key or len(key) > 200:
        return False
    found = db.session.scalar(
        select(ApiKey.id).where(ApiKey.key_hash == _key_digest(key), ApiKey.active.is_(True))
    )
    return found is not None
