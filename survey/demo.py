"""``sipas demo``: a realistic demo province, served on http://127.0.0.1:5000.

:func:`seed_units` creates "Tỉnh Demo" with the two levels of local government in place since 1
July 2025 (departments, two of them with an office under them, and communes and wards; no
districts), three communes merged into one in the middle of the year of responses (valid until the
day before; the lineage table records the merger), their one-stop counters, the 16 procedure fields
of the 2019 SIPAS survey and a few procedures each; :func:`seed_responses` adds synthetic responses
over the last 12 months (:data:`DEMO_PROFILE`: about 80-90 % satisfied; a few units clearly better
or worse than the rest, most alike; a trend in two units; all channels; "not applicable" and
skipped answers; comments in Vietnamese, some with a phone number; some responses flagged too fast
or straight-lining). They are written in bulk by :mod:`survey.seeding` (``COPY`` on PostgreSQL): 10
million responses take minutes.

The database is the instance folder's SQLite file by default, or any SQLAlchemy URL
(``--db-url``, PostgreSQL included), migrated first. A database that already holds the demo is
reused as it is; one that holds anything else is refused.

The 16th field of the 2019 survey is not named in our sources; "Hộ tịch" (civil status) stands in.
All names are invented for the demo ("Tỉnh Demo"); procedure names follow common Vietnamese usage.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from survey import access_log, qrcodes, repository, seeding
from survey.config import DEFAULT_INSTANCE_DB, SECRET_KEY_FILE
from survey.extensions import db
from survey.models import Agency, AgencyLineage, Counter, Field, Procedure, Response, User
from survey.seeding import SeedProfile

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_AGENCY",
    "DEMO_PROFILE",
    "FIELDS",
    "MERGED_COMMUNES",
    "MERGED_INTO",
    "ensure_demo_accounts",
    "merger_day",
    "run_demo",
    "seed_responses",
    "seed_units",
]

# The code of the demo province's top agency: a database that has it holds the demo.
DEMO_AGENCY = "DEMO"

# One account per role: login, role, agency (officials see only its subtree), display name.
DEMO_ACCOUNTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("admin", "admin", None, "Quản trị viên (demo)"),
    ("analyst", "analyst", None, "Chuyên viên Sở Nội vụ (demo)"),
    ("official.anphu", "official", "X_AN_PHU", "Cán bộ UBND xã An Phú (demo)"),
    ("official.stnmt", "official", "STNMT", "Cán bộ Sở Tài nguyên và Môi trường (demo)"),
)
_ROLE_SCOPE = {
    "admin": "everything, including users and settings",
    "analyst": "every report of the province, no settings",
}

# code, Vietnamese, English (2019 survey: 16 fields, S15 in the methodology notes).
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("DAT_DAI", "Quyền sử dụng đất", "Land use rights"),
    ("MOI_TRUONG", "Môi trường", "Environment"),
    ("LAI_XE", "Lái xe", "Driving licences"),
    ("VAN_TAI", "Vận tải", "Transport"),
    ("XAY_DUNG", "Xây dựng", "Construction"),
    ("QH_XAY_DUNG", "Quy hoạch xây dựng", "Construction planning"),
    ("VAN_HOA_CS", "Văn hóa cơ sở", "Grassroots culture"),
    ("THE_THAO", "Thể dục, thể thao", "Sports"),
    ("TRONG_TROT", "Trồng trọt, bảo vệ thực vật", "Cultivation and plant protection"),
    ("CHAN_NUOI", "Chăn nuôi, thú y", "Livestock and veterinary"),
    ("LLTP", "Lý lịch tư pháp", "Judicial records"),
    ("TGPL", "Trợ giúp pháp lý nhà nước", "State legal aid"),
    ("KINH_DOANH", "Kinh doanh", "Business registration"),
    ("TU_PHAP", "Tư pháp", "Justice"),
    ("LDTBXH", "Lao động – Thương binh và Xã hội", "Labour, invalids and social affairs"),
    ("HO_TICH", "Hộ tịch", "Civil status"),
)

# code, name_vi, name_en, level, parent, fields served, counters, relative number of responses.
_AGENCIES: tuple[tuple[str, str, str, str, str | None, tuple[str, ...], int, float], ...] = (
    ("DEMO", "UBND Tỉnh Demo", "Demo Province People's Committee", "province", None, (), 0, 0.0),
    (
        "STP",
        "Sở Tư pháp",
        "Department of Justice",
        "department",
        "DEMO",
        ("LLTP", "TGPL", "TU_PHAP"),
        2,
        1.0,
    ),
    (
        "STNMT",
        "Sở Tài nguyên và Môi trường",
        "Department of Natural Resources and Environment",
        "department",
        "DEMO",
        ("DAT_DAI", "MOI_TRUONG"),
        2,
        1.0,
    ),
    (
        "SXD",
        "Sở Xây dựng",
        "Department of Construction",
        "department",
        "DEMO",
        ("XAY_DUNG", "QH_XAY_DUNG"),
        2,
        1.0,
    ),
    (
        "SGTVT",
        "Sở Giao thông vận tải",
        "Department of Transport",
        "department",
        "DEMO",
        ("LAI_XE", "VAN_TAI"),
        2,
        1.5,
    ),
    (
        "SVHTTDL",
        "Sở Văn hóa, Thể thao và Du lịch",
        "Department of Culture, Sports and Tourism",
        "department",
        "DEMO",
        ("VAN_HOA_CS", "THE_THAO"),
        1,
        0.4,
    ),
    (
        "SNNPTNT",
        "Sở Nông nghiệp và Phát triển nông thôn",
        "Department of Agriculture and Rural Development",
        "department",
        "DEMO",
        ("TRONG_TROT", "CHAN_NUOI"),
        1,
        0.3,
    ),
    (
        "SKHDT",
        "Sở Kế hoạch và Đầu tư",
        "Department of Planning and Investment",
        "department",
        "DEMO",
        ("KINH_DOANH",),
        2,
        1.0,
    ),
    (
        "SLDTBXH",
        "Sở Lao động – Thương binh và Xã hội",
        "Department of Labour, Invalids and Social Affairs",
        "department",
        "DEMO",
        ("LDTBXH",),
        1,
        0.6,
    ),
    (
        "VPDKDD",
        "Văn phòng Đăng ký đất đai",
        "Land Registration Office",
        "department",
        "STNMT",
        ("DAT_DAI",),
        2,
        1.5,
    ),
    (
        "CCTTBVTV",
        "Chi cục Trồng trọt và Bảo vệ thực vật",
        "Sub-department of Cultivation and Plant Protection",
        "department",
        "SNNPTNT",
        ("TRONG_TROT",),
        1,
        0.4,
    ),
    (
        "P_TAN_AN",
        "UBND phường Tân An",
        "Tan An Ward People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI", "XAY_DUNG", "KINH_DOANH"),
        3,
        3.0,
    ),
    (
        "P_BINH_MINH",
        "UBND phường Bình Minh",
        "Binh Minh Ward People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI", "XAY_DUNG"),
        2,
        2.0,
    ),
    (
        "X_AN_HOA",
        "UBND xã An Hòa",
        "An Hoa Commune People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "LDTBXH"),
        1,
        0.8,
    ),
    # Merged into X_AN_PHU on MERGER_DAY (responses before it only).
    (
        "X_PHU_THANH",
        "UBND xã Phú Thành",
        "Phu Thanh Commune People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI"),
        1,
        0.8,
    ),
    (
        "X_PHU_LOC",
        "UBND xã Phú Lộc",
        "Phu Loc Commune People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI"),
        1,
        0.7,
    ),
    (
        "X_PHU_MY",
        "UBND xã Phú Mỹ",
        "Phu My Commune People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI"),
        1,
        0.7,
    ),
    # The commune they formed (responses from MERGER_DAY on).
    (
        "X_AN_PHU",
        "UBND xã An Phú",
        "An Phu Commune People's Committee",
        "commune",
        "DEMO",
        ("HO_TICH", "TU_PHAP", "DAT_DAI", "XAY_DUNG", "KINH_DOANH", "LDTBXH"),
        2,
        2.2,
    ),
)

# The commune merger of the demo: predecessors, successor (a commune of the 2025 arrangement).
MERGED_COMMUNES: tuple[str, ...] = ("X_PHU_THANH", "X_PHU_LOC", "X_PHU_MY")
MERGED_INTO = "X_AN_PHU"

_PROCEDURES: tuple[tuple[str, str, str, str], ...] = (
    ("DAT_DAI.01", "DAT_DAI", "Đăng ký biến động quyền sử dụng đất", "Registering a land change"),
    (
        "DAT_DAI.02",
        "DAT_DAI",
        "Cấp đổi Giấy chứng nhận quyền sử dụng đất",
        "Replacing a land use certificate",
    ),
    ("MOI_TRUONG.01", "MOI_TRUONG", "Cấp giấy phép môi trường", "Environmental permit"),
    ("LAI_XE.01", "LAI_XE", "Đổi giấy phép lái xe", "Renewing a driving licence"),
    ("VAN_TAI.01", "VAN_TAI", "Cấp phù hiệu xe kinh doanh vận tải", "Commercial vehicle badge"),
    (
        "XAY_DUNG.01",
        "XAY_DUNG",
        "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "Building permit for a private house",
    ),
    (
        "QH_XAY_DUNG.01",
        "QH_XAY_DUNG",
        "Cung cấp thông tin quy hoạch xây dựng",
        "Construction planning information",
    ),
    (
        "VAN_HOA_CS.01",
        "VAN_HOA_CS",
        "Công nhận danh hiệu Gia đình văn hóa",
        "Recognition as a cultural family",
    ),
    (
        "THE_THAO.01",
        "THE_THAO",
        "Cấp giấy chứng nhận đủ điều kiện kinh doanh hoạt động thể thao",
        "Licence for a sports business",
    ),
    (
        "TRONG_TROT.01",
        "TRONG_TROT",
        "Cấp giấy chứng nhận kiểm dịch thực vật",
        "Plant quarantine certificate",
    ),
    (
        "CHAN_NUOI.01",
        "CHAN_NUOI",
        "Cấp giấy chứng nhận đủ điều kiện chăn nuôi",
        "Livestock farming licence",
    ),
    (
        "LLTP.01",
        "LLTP",
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        "Criminal record certificate",
    ),
    ("TGPL.01", "TGPL", "Thủ tục yêu cầu trợ giúp pháp lý", "Request for legal aid"),
    (
        "KINH_DOANH.01",
        "KINH_DOANH",
        "Đăng ký thành lập hộ kinh doanh",
        "Registering a household business",
    ),
    ("TU_PHAP.01", "TU_PHAP", "Chứng thực bản sao từ bản chính", "Certified copy of a document"),
    ("LDTBXH.01", "LDTBXH", "Giải quyết trợ cấp thất nghiệp", "Unemployment benefit"),
    ("HO_TICH.01", "HO_TICH", "Đăng ký khai sinh", "Birth registration"),
    ("HO_TICH.02", "HO_TICH", "Đăng ký kết hôn", "Marriage registration"),
)

# Comments of satisfied and of dissatisfied respondents (some get a phone number appended).
_COMMENTS_POSITIVE = (
    "Cán bộ hướng dẫn nhiệt tình, chu đáo.",
    "Thủ tục nhanh gọn, trả kết quả đúng hẹn.",
    "Rất hài lòng với thái độ phục vụ.",
    "Nơi làm việc sạch sẽ, có nước uống và ghế chờ.",
    "Được hướng dẫn một lần là hoàn thiện hồ sơ, cảm ơn cán bộ.",
)
_COMMENTS_NEGATIVE = (
    "Thời gian chờ đợi hơi lâu vào buổi sáng.",
    "Đề nghị bố trí thêm ghế ngồi chờ.",
    "Cần niêm yết phí, lệ phí rõ ràng hơn.",
    "Máy lấy số thứ tự hay bị lỗi.",
    "Phải đi lại nhiều lần mới bổ sung xong hồ sơ.",
    "Hẹn trả kết quả nhưng đến ngày hẹn vẫn chưa có.",
    "Mong được hướng dẫn nộp hồ sơ trực tuyến.",
)

# The response model of the demo province. Most units are alike; the Department of Natural
# Resources and Environment (and its land registration office) and the Department of
# Construction are clearly worse, An Hòa commune clearly better, Phú Mỹ (merged into An Phú)
# a little worse; Bình Minh ward improves over the year and the Department of Transport gets
# worse; counter 3 of Tân An ward is weaker than its other counters; land procedures score a
# little lower everywhere; feedback handling (e5) scores lowest and is often not applicable.
DEMO_PROFILE = SeedProfile(
    agency_fields={code: served for code, *_, served, _counters, _volume in _AGENCIES},
    agency_volume={code: volume for code, *_, volume in _AGENCIES},
    agency_effect={
        "STNMT": -0.45,
        "VPDKDD": -0.45,
        "SXD": -0.3,
        "X_AN_HOA": 0.4,
        "SKHDT": 0.05,
        "P_TAN_AN": -0.05,
        "X_PHU_MY": -0.3,
    },
    agency_trend={"P_BINH_MINH": 0.6, "SGTVT": -0.5},
    field_effect={"DAT_DAI": -0.15},
    counter_effect={"P_TAN_AN-Q3": -0.4},
    factor_effect={"e1": 0.1, "e2": -0.1, "e3": 0.3, "e4": 0.0, "e5": -0.4},
    not_applicable={"e5": 0.14},
    comments_positive=_COMMENTS_POSITIVE,
    comments_negative=_COMMENTS_NEGATIVE,
)


def merger_day(now: datetime | None = None) -> date:
    """The day the demo's communes merged: the first day of the sixth month before ``now``'s
    (default: today), so that the 12 months of responses hold about six months on each side."""
    today = (now or datetime.now(UTC)).date()
    index = today.year * 12 + today.month - 1 - 6
    return date(index // 12, index % 12 + 1, 1)


def seed_units(now: datetime | None = None) -> dict[str, int]:
    """Create the demo province's agencies, fields, counters and procedures (app context).

    The province has two levels (departments, some with an office under them, and communes
    and wards; no districts). Three communes (:data:`MERGED_COMMUNES`) were merged into
    :data:`MERGED_INTO` on :func:`merger_day` of ``now``: they are valid until the day before,
    the new commune from that day, and the lineage table records the merger.

    Returns
    -------
    dict
        How many ``agencies``, ``fields``, ``counters`` and ``procedures`` were created.
    """
    fields = {code: Field(code=code, name_vi=vi, name_en=en) for code, vi, en in FIELDS}
    db.session.add_all(fields.values())
    agencies: dict[str, Agency] = {}
    n_counters = 0
    for code, vi, en, level, parent, served, counters, _volume in _AGENCIES:
        agency = Agency(code=code, name_vi=vi, name_en=en, level=level)
        agency.parent = agencies[parent] if parent else None
        agencies[code] = agency
        db.session.add(agency)
        for i in range(1, counters + 1):
            field = fields[served[(i - 1) % len(served)]] if counters > 1 else None
            db.session.add(
                Counter(
                    code=f"{code}-Q{i}",
                    agency=agency,
                    name_vi=f"Quầy số {i}",
                    name_en=f"Counter {i}",
                    field=field,
                    active=True,
                )
            )
            n_counters += 1
    for code, field, vi, en in _PROCEDURES:
        db.session.add(Procedure(code=code, name_vi=vi, name_en=en, field=fields[field]))
    merged_on = merger_day(now)
    agencies[MERGED_INTO].valid_from = merged_on
    for code in MERGED_COMMUNES:
        agencies[code].valid_until = merged_on - timedelta(days=1)
        db.session.add(
            AgencyLineage(
                predecessor=agencies[code],
                successor=agencies[MERGED_INTO],
                effective_on=merged_on,
                kind="merge",
                note="Sắp xếp đơn vị hành chính cấp xã (demo)",
            )
        )
    db.session.commit()
    repository.clear_caches()
    return {
        "agencies": len(agencies),
        "fields": len(fields),
        "counters": n_counters,
        "procedures": len(_PROCEDURES),
    }


def seed_responses(
    n: int,
    *,
    random_seed: int = 2024,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add ``n`` synthetic ``sipas-counter`` responses over the 12 months before ``now``.

    In the app context, after :func:`seed_units`; the rows follow :data:`DEMO_PROFILE` and are
    written in bulk by :func:`survey.seeding.seed_responses` (``COPY`` on PostgreSQL), in one
    transaction.

    Returns
    -------
    int
        The number of responses added.
    """
    form = repository.load_form("sipas-counter")
    layout = repository.record_form_version(form)
    written = seeding.seed_responses(
        db.session.connection(),
        n,
        form=form,
        layout=layout,
        profile=DEMO_PROFILE,
        random_seed=random_seed,
        now=now,
        min_seconds=float(current_app.config["SIPAS_MIN_SECONDS"]),
        progress=progress,
    )
    db.session.commit()
    return written


def _demo_app(url: str, secret_dir: Path) -> Flask:
    """The app on the demo database; its secret key is kept in ``secret_dir`` (next to a SQLite
    database, else the instance folder) so that dossier QR codes printed earlier stay valid and
    the other commands find it (unless SIPAS_SECRET_KEY is set)."""
    from survey import create_app

    config: dict[str, object] = {"SQLALCHEMY_DATABASE_URI": url, "SIPAS_DEMO": True}
    if not os.environ.get("SIPAS_SESSION_COOKIE_SECURE"):
        # The demo is served over plain HTTP, also to phones on the LAN: Secure only over TLS.
        config["SESSION_COOKIE_SECURE"] = "auto"
    if not os.environ.get("SIPAS_SECRET_KEY"):
        secret_dir.mkdir(parents=True, exist_ok=True)
        secret_file = secret_dir / SECRET_KEY_FILE
        if not secret_file.exists():
            secret_file.write_text(secrets.token_hex(32), encoding="utf-8")
            secret_file.chmod(0o600)
        config["SECRET_KEY"] = secret_file.read_text(encoding="utf-8").strip()
    return create_app(config)


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _demo_state() -> tuple[str, int]:
    """``("empty" | "demo" | "other", number of responses)`` of the app's database."""
    responses = db.session.scalar(select(func.count()).select_from(Response)) or 0
    if db.session.scalar(select(Agency.id).where(Agency.code == DEMO_AGENCY)) is not None:
        return "demo", responses
    units = db.session.scalar(select(func.count()).select_from(Agency)) or 0
    users = db.session.scalar(select(func.count()).select_from(User)) or 0
    return ("empty" if units + users + responses == 0 else "other"), responses


def run_demo(
    *,
    host: str,
    port: int,
    n_responses: int,
    database: Path | None = None,
    db_url: str | None = None,
    fresh: bool = False,
    serve: bool = True,
    random_seed: int = 2024,
    reset_logins: bool = False,
) -> Flask:
    """Create (or reuse) the demo database, seed it, print how to use it, optionally serve.

    Parameters
    ----------
    host, port : str, int
        Where the server listens (and the base of the printed URLs).
    n_responses : int
        Responses to seed into a new demo database.
    database : Path, optional
        A SQLite file (default: the instance folder's ``sipas.db``, which every other command
        uses without configuration).
    db_url : str, optional
        Any SQLAlchemy URL instead (e.g. ``postgresql+psycopg://user@host/db``); it is migrated
        to the newest schema first.
    fresh : bool
        Delete the SQLite file first (not available for other databases).
    serve : bool
        Serve the app with gunicorn after seeding.
    random_seed : int
        Seed of the synthetic responses.
    reset_logins : bool
        Give the existing demo accounts new passwords (:func:`ensure_demo_accounts`).

    Raises
    ------
    click.UsageError
        Both ``database`` and ``db_url``, or ``fresh`` with a database that is not a file.
    click.ClickException
        The database holds data other than the demo province (nothing is written to it).
    """
    from survey.migrations import upgrade

    if database is not None and db_url is not None:
        raise click.UsageError("give either --database or --db-url, not both")
    reset_command = "sipas demo --reset-logins"
    if database is not None:
        reset_command += f" --database {database}"
    elif db_url is not None:
        reset_command += f" --db-url {make_url(db_url).render_as_string(hide_password=True)}"
    if db_url is None:
        # The default database of every other command, so that `sipas export responses` (and
        # the rest) see the demo's data without configuration.
        database = database or Path(Flask("survey").instance_path) / DEFAULT_INSTANCE_DB
        db_url = f"sqlite:///{database.resolve()}"
    sqlite_file = _sqlite_file(db_url)
    if fresh:
        if sqlite_file is None:
            raise click.UsageError("--fresh deletes a SQLite file; empty the database yourself")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    shown = make_url(db_url).render_as_string(hide_password=True)
    upgrade(db_url)
    secret_dir = sqlite_file.parent if sqlite_file else Path(Flask("survey").instance_path)
    app = _demo_app(db_url, secret_dir)
    base_url = f"http://{host}:{port}"
    try:
        with app.app_context():
            _seed_or_reuse(shown, n_responses, random_seed)
            passwords = ensure_demo_accounts(reset=reset_logins)
            _print_urls(base_url, repository.list_counters(active_only=True))
            _print_accounts(base_url, passwords, reset_command)
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()  # the server's workers open their own connections
    if serve:
        _serve(app, host, port)
    return app


def _seed_or_reuse(shown: str, n_responses: int, random_seed: int) -> None:
    """Seed an empty database, or reuse one that holds the demo (app context)."""
    state, stored = _demo_state()
    if state == "other":
        raise click.ClickException(
            f"the database {shown} already holds units, accounts or responses that are not "
            "the demo province's; sipas demo seeds only an empty database (nothing written)"
        )
    if state == "empty":
        seeded = seed_units()
        click.echo("Seeded Tỉnh Demo: " + ", ".join(f"{v} {k}" for k, v in seeded.items()))
    if stored == 0 and n_responses > 0:
        _seed_timed(n_responses, random_seed)
    elif state == "demo":
        click.echo(
            f"Using the existing demo database {shown} ({stored} responses; "
            "start from an empty database, or --fresh for a SQLite file, to seed anew)."
        )


def _seed_timed(n: int, random_seed: int) -> None:
    """Seed ``n`` responses, saying how far it got every tenth of a large ``n``."""
    step = n // 10 if n >= 1_000_000 else n + 1
    reported = [0]

    def progress(done: int) -> None:
        if done // step > reported[0]:
            reported[0] = done // step
            click.echo(f"  {done:,} of {n:,} responses written", err=True)

    start = time.perf_counter()
    added = seed_responses(n, random_seed=random_seed, progress=progress)
    click.echo(f"Added {added} responses ({time.perf_counter() - start:.1f} s).")


def ensure_demo_accounts(*, reset: bool = False) -> dict[str, str | None]:
    """Create the missing :data:`DEMO_ACCOUNTS` (app context, after :func:`seed_units`).

    Parameters
    ----------
    reset : bool
        Also give the existing demo accounts a new password (and their demo role, agency and
        active state back); their open sessions end.

    Returns
    -------
    dict
        ``{login: password}`` for every demo account, ``None`` as the password of an account
        kept as it was (only a hash of a password is stored).
    """
    passwords: dict[str, str | None] = {}
    for login, role, agency_code, display_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        user = db.session.scalar(select(User).where(User.username == login))
        if user is None:
            repository.create_user(
                login, password, role=role, display_name=display_name, agency_code=agency_code
            )
        elif reset:
            user.password_hash = generate_password_hash(password)
            user.role, user.active = role, True
            user.agency = repository.get_agency(agency_code) if agency_code else None
            user.session_epoch = (user.session_epoch or 0) + 1
            db.session.commit()
        else:
            password = None
        passwords[login] = password
    return passwords


def _print_accounts(base_url: str, passwords: dict[str, str | None], reset_command: str) -> None:
    click.echo(f"Sign in at {base_url}/login with a demo account:")
    names = {a.code: a.name_vi for a in repository.list_agencies()}
    for login, role, agency_code, _display_name in DEMO_ACCOUNTS:
        password = passwords.get(login)
        scope = (
            f"reports of {names.get(agency_code, agency_code)} and the units under it only"
            if agency_code
            else _ROLE_SCOPE[role]
        )
        shown = f"password {password}" if password else "password as set before"
        click.echo(f"  {login:<16} {shown:<28} {role}: {scope}")
    if None in passwords.values():
        click.echo(
            "Passwords are shown only when they are set (only their hashes are stored); "
            f"`{reset_command}` sets new ones and prints them."
        )


def _print_urls(base_url: str, counters: Sequence[Counter]) -> None:
    click.echo("Counter QR links (open one on a phone, or in a browser):")
    for counter in counters[:5]:
        click.echo(
            f"  {counter.agency.name_vi} – {counter.name_vi}: "
            f"{qrcodes.counter_url(base_url, counter.code)}"
        )
    if counters:
        click.echo(f"Kiosk mode: {qrcodes.kiosk_url(base_url, counters[0].code)}")
    click.echo(f"Admin pages: {base_url}/admin/   API: {base_url}/api/v1/units")


def _serve(app: Flask, host: str, port: int) -> None:
    """Serve with gunicorn (two threads in one worker: SQLite likes one writer process)."""
    from gunicorn.app.base import BaseApplication

    class _Demo(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # No dossier token and no client address in the demo's access log.
            self.cfg.set("logger_class", access_log.LOGGER_CLASS)
            self.cfg.set("access_log_format", access_log.DEMO_ACCESS_LOG_FORMAT)

        def load(self) -> Flask:
            return app

    click.echo(f"Serving on http://{host}:{port} (Ctrl+C to stop)")
    _Demo().run()
