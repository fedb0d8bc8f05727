"""``sipas users`` and ``sipas apikeys``: roles with their agency rule, passwords from standard
input, sessions that end, key scopes, listing and revoking."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash

from survey import repository
from survey.extensions import db
from survey.models import ApiKey, User

PASSWORD = "mật khẩu đủ dài"


def _user(app, login: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == login))
        db.session.expunge(user)
        return user


def test_create_official_with_agency_from_stdin(app, runner, make_agency) -> None:
    make_agency("STP")
    result = runner.invoke(
        ["users", "create", "hoa", "--role", "official", "--agency", "STP", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "for agency STP" in result.output
    user = _user(app, "hoa")
    assert user.role == "official" and user.active
    assert check_password_hash(user.password_hash, PASSWORD)


def test_an_official_needs_an_agency(app, runner) -> None:
    result = runner.invoke(
        ["users", "create", "hoa", "--role", "official", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 1
    assert "an official needs an agency" in result.output
    with app.app_context():
        assert repository.list_users() == []


def test_admins_and_analysts_must_not_be_limited(app, runner, make_agency) -> None:
    make_agency("STP")
    for role in ("admin", "analyst"):
        result = runner.invoke(
            ["users", "create", "x", "--role", role, "--agency", "STP", "--password-stdin"],
            input=PASSWORD,
        )
        assert result.exit_code == 1
        assert f"role {role} sees the whole province" in result.output
    with app.app_context():
        assert repository.list_users() == []


def test_role_is_required_and_checked(runner) -> None:
    missing = runner.invoke(["users", "create", "x", "--password-stdin"], input=PASSWORD)
    assert missing.exit_code == 2 and "--role" in missing.output
    wrong = runner.invoke(["users", "create", "x", "--role", "boss", "--password-stdin"])
    assert wrong.exit_code == 2 and "boss" in wrong.output


def test_empty_stdin_and_bad_logins_are_refused(app, runner) -> None:
    empty = runner.invoke(["users", "create", "x", "--role", "admin", "--password-stdin"], input="")
    assert empty.exit_code == 1 and "standard input is empty" in empty.output
    for login in ("bad\x00name", "two words", "x" * 65):
        result = runner.invoke(
            ["users", "create", login, "--role", "admin", "--password-stdin"], input=PASSWORD
        )
        assert result.exit_code == 1 and "at most 64 characters" in result.output
    with app.app_context():
        assert repository.list_users() == []


def test_password_prompt_asks_twice(app, runner) -> None:
    result = runner.invoke(
        ["users", "create", "lan", "--role", "analyst"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert check_password_hash(_user(app, "lan").password_hash, PASSWORD)


def test_list_shows_login_role_agency_active(app, runner, make_agency) -> None:
    make_agency("UBND-HX")
    with app.app_context():
        repository.create_user("an", PASSWORD, role="admin")
        repository.create_user("binh", PASSWORD, role="official", agency_code="UBND-HX")
        repository.disable_user("binh")
    result = runner.invoke(["users", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert lines == [
        ["login", "role", "agency", "active"],
        ["an", "admin", "-", "yes"],
        ["binh", "official", "UBND-HX", "no"],
    ]


def test_set_password_ends_sessions(app, runner) -> None:
    with app.app_context():
        repository.create_user("an", PASSWORD, role="admin")
    before = _user(app, "an").session_epoch
    result = runner.invoke(
        ["users", "set-password", "an", "--password-stdin"], input="mới-mới-mới\n"
    )
    assert result.exit_code == 0, result.output
    after = _user(app, "an")
    assert check_password_hash(after.password_hash, "mới-mới-mới")
    assert after.session_epoch == before + 1
    short = runner.invoke(["users", "set-password", "an", "--password-stdin"], input="ngắn\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    unknown = runner.invoke(["users", "set-password", "ghost", "--password-stdin"], input=PASSWORD)
    assert unknown.exit_code == 1 and "no user 'ghost'" in unknown.output


def test_disable_ends_sessions_and_sign_in(app, runner, client) -> None:
    with app.app_context():
        repository.create_user("an", PASSWORD, role="admin")
    client.post("/login", data={"username": "an", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200
    result = runner.invoke(["users", "disable", "an"])
    assert result.exit_code == 0, result.output
    assert not _user(app, "an").active
    assert client.get("/admin/").status_code == 302
    again = client.post("/login", data={"username": "an", "password": PASSWORD})
    assert again.status_code == 401
    assert runner.invoke(["users", "disable", "ghost"]).exit_code == 1


def test_apikeys_create_with_scope_list_and_revoke(app, runner, make_agency) -> None:
    make_agency("STP")
    scoped = runner.invoke(["apikeys", "create", "Sở Tư pháp", "--agency", "STP"])
    assert scoped.exit_code == 0, scoped.output
    whole = runner.invoke(["apikeys", "create", "Cổng quốc gia"])
    key = scoped.stdout.strip()
    with app.app_context():
        access = repository.api_key_access(key)
        stp = repository.get_agency("STP")
        assert access is not None and access.agency_id == stp.id
        assert repository.api_key_access(whole.stdout.strip()).agency_id is None
    listed = runner.invoke(["apikeys", "list"])
    assert listed.exit_code == 0
    assert key not in listed.output
    rows = [line.split("  ") for line in listed.output.splitlines()[1:]]
    assert [[c.strip() for c in r if c.strip()][1:3] for r in rows] == [
        ["Sở Tư pháp", "STP"],
        ["Cổng quốc gia", "(all)"],
    ]
    revoked = runner.invoke(["apikeys", "revoke", "Sở Tư pháp"])
    assert revoked.exit_code == 0, revoked.output
    with app.app_context():
        assert repository.api_key_access(key) is None
        portal_id = db.session.scalar(select(ApiKey.id).where(ApiKey.name == "Cổng quốc gia"))
    by_id = runner.invoke(["apikeys", "revoke", str(portal_id)])
    assert by_id.exit_code == 0, by_id.output
    assert "revoked" in runner.invoke(["apikeys", "list"]).output
    again = runner.invoke(["apikeys", "revoke", str(portal_id)])
    assert again.exit_code == 1 and "no active API key" in again.output


def test_apikeys_refuse_unknown_agency_and_ambiguous_names(app, runner) -> None:
    unknown = runner.invoke(["apikeys", "create", "x", "--agency", "NOPE"])
    assert unknown.exit_code == 1 and "unknown agency 'NOPE'" in unknown.output
    runner.invoke(["apikeys", "create", "portal"])
    runner.invoke(["apikeys", "create", "portal"])
    ambiguous = runner.invoke(["apikeys", "revoke", "portal"])
    assert ambiguous.exit_code == 1 and "revoke one by its id" in ambiguous.output
    with app.app_context():
        assert all(k.active for k in repository.list_api_keys())
