"""Who may see what: the three roles and the agency subtree an account is limited to.

* ``admin``: every page, report and setting (units, counters, frames, users, API keys);
* ``analyst``: every report of the whole province, no settings;
* ``official``: the reports of their own agency and the agencies under it, nothing else.

An official never learns that another unit exists: a unit outside the subtree answers 404, the
same as a code that does not exist (:func:`visible_agency_or_404`). Views declare who may enter
with :func:`roles_required`; a signed-out visitor is sent to ``/login`` (pages) or answered 401
(downloads and JSON), a signed-in user without the role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user
from werkzeug.exceptions import NotFound

from survey.extensions import login_manager
from survey.models import Agency, User

__all__ = [
    "ADMIN",
    "ANALYST",
    "OFFICIAL",
    "REPORT_ROLES",
    "Scope",
    "roles_required",
    "scope_of",
    "subtree_ids",
    "visible_agency_or_404",
]

ADMIN, ANALYST, OFFICIAL = "admin", "analyst", "official"
REPORT_ROLES = (ADMIN, ANALYST, OFFICIAL)

F = TypeVar("F", bound=Callable[..., Any])


def subtree_ids(root_ids: Iterable[int], agencies: Iterable[Agency]) -> frozenset[int]:
    """The ids of ``root_ids`` and of every agency below them (``parent_id`` links)."""
    children: dict[int | None, list[int]] = {}
    for agency in agencies:
        children.setdefault(agency.parent_id, []).append(agency.id)
    found: set[int] = set()
    stack = list(root_ids)
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, ()))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Scope:
    """The agencies an account may see.

    Attributes
    ----------
    agency_ids : frozenset of int or None
        ``None`` for the whole province (admin, analyst); else the official's subtree (empty
        when the account has no agency: it sees nothing).
    root_id : int or None
        The official's own agency (the top of the subtree).
    """

    agency_ids: frozenset[int] | None
    root_id: int | None = None

    @property
    def whole_province(self) -> bool:
        return self.agency_ids is None

    def allows(self, agency_id: int | None) -> bool:
        """True when the agency with this id is inside the scope."""
        if agency_id is None:
            return False
        return self.agency_ids is None or agency_id in self.agency_ids


def scope_of(user: User, agencies: Iterable[Agency]) -> Scope:
    """The scope of ``user``: the whole province for admins and analysts, else a subtree."""
    if user.role in (ADMIN, ANALYST):
        return Scope(None)
    if user.agency_id is None:
        return Scope(frozenset())
    return Scope(subtree_ids([user.agency_id], agencies), user.agency_id)


def visible_agency_or_404(code: str, scope: Scope, agencies: Iterable[Agency]) -> Agency:
    """The agency with ``code`` if ``scope`` allows it; else 404 (unknown and hidden alike)."""
    for agency in agencies:
        if agency.code == code and scope.allows(agency.id):
            return agency
    raise NotFound()


def _wants_page() -> bool:
    """A signed-out request for a page is redirected; a download or JSON call gets 401."""
    if request.path.startswith("/api/"):
        return False
    if request.args.get("format", "html") not in ("html", "print"):
        return False
    return request.accept_mimetypes.accept_html or not request.accept_mimetypes


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let in signed-in accounts with one of ``roles``.

    Signed out: a redirect to the sign-in page (HTML) or 401 (``format=csv|xlsx``, JSON).
    Signed in with another role: 403.
    """
    unknown = set(roles) - set(REPORT_ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}; use {REPORT_ROLES}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if _wants_page():
                    return login_manager.unauthorized()
                abort(401)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
