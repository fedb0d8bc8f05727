"""``sipas demo``: a realistic demo province in SQLite, served on http://127.0.0.1:5000.

:func:`seed_units` creates "Tỉnh Demo" (departments, district-level and commune-level people's
committees, their one-stop counters, the 16 procedure fields of the 2019 SIPAS survey and a few
procedures each); :func:`seed_responses` adds synthetic responses over the last 12 months with
realistic satisfaction (about 80-90 % satisfied, varying by agency and by criterion), some
"not applicable" answers, some skipped items and a few comments in Vietnamese. Responses are
written with bulk inserts (thousands per second).

The 16th field of the 2019 survey is not named in our sources; "Hộ tịch" (civil status) stands in.
All names are invented for the demo ("Tỉnh Demo"); procedure names follow common Vietnamese usage.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
from flask import Flask
from sqlalchemy import func, insert, select

from survey import qrcodes, repository
from survey.config import DEFAULT_INSTANCE_DB, SECRET_KEY_FILE
from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure, Response, User
from survey.quality import format_flags, quality_flags
from survey.submissions import Submission, content_hash

__all__ = ["FIELDS", "run_demo", "seed_responses", "seed_units"]

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

# code, name_vi, name_en, level, parent, fields served, counters, satisfaction effect.
_AGENCIES: tuple[tuple[str, str, str, str, str | None, tuple[str, ...], int, float], ...] = (
    ("DEMO", "UBND Tỉnh Demo", "Demo Province People's Committee", "province", None, (), 0, 0),
    (
        "STP",
        "Sở Tư pháp",
        "Department of Justice",
        "department",
        "DEMO",
        ("LLTP", "TGPL", "TU_PHAP"),
        2,
        0.3,
    ),
    (
        "STNMT",
        "Sở Tài nguyên và Môi trường",
        "Department of Natural Resources and Environment",
        "department",
        "DEMO",
        ("DAT_DAI", "MOI_TRUONG"),
        3,
        -0.5,
    ),
    (
        "SXD",
        "Sở Xây dựng",
        "Department of Construction",
        "department",
        "DEMO",
        ("XAY_DUNG", "QH_XAY_DUNG"),
        2,
        -0.3,
    ),
    (
        "SGTVT",
        "Sở Giao thông vận tải",
        "Department of Transport",
        "department",
        "DEMO",
        ("LAI_XE", "VAN_TAI"),
        2,
        0.0,
    ),
    (
        "SVHTTDL",
        "Sở Văn hóa, Thể thao và Du lịch",
        "Department of Culture, Sports and Tourism",
        "department",
        "DEMO",
        ("VAN_HOA_CS", "THE_THAO"),
        1,
        0.2,
    ),
    (
        "SNNPTNT",
        "Sở Nông nghiệp và Phát triển nông thôn",
        "Department of Agriculture and Rural Development",
        "department",
        "DEMO",
        ("TRONG_TROT", "CHAN_NUOI"),
        1,
        0.1,
    ),
    (
        "SKHDT",
        "Sở Kế hoạch và Đầu tư",
        "Department of Planning and Investment",
        "department",
        "DEMO",
        ("KINH_DOANH",),
        2,
        0.2,
    ),
    (
        "SLDTBXH",
        "Sở Lao động – Thương binh và Xã hội",
        "Department of Labour, Invalids and Social Affairs",
        "department",
        "DEMO",
        ("LDTBXH",),
        1,
        0.0,
    ),
    (
        "TP_DEMO",
        "UBND thành phố Demo",
        "Demo City People's Committee",
        "district",
        "DEMO",
        ("DAT_DAI", "XAY_DUNG", "KINH_DOANH", "HO_TICH"),
        3,
        -0.1,
    ),
    (
        "H_AN_PHU",
        "UBND huyện An Phú",
        "An Phu District People's Committee",
        "district",
        "DEMO",
        ("DAT_DAI", "XAY_DUNG", "KINH_DOANH", "LDTBXH"),
        2,
        0.1,
    ),
    (
        "TX_BINH_MINH",
        "UBND thị xã Bình Minh",
        "Binh Minh Town People's Committee",
        "district",
        "DEMO",
        ("DAT_DAI", "XAY_DUNG", "HO_TICH"),
        2,
        -0.2,
    ),
    (
        "P_TAN_AN",
        "UBND phường Tân An",
        "Tan An Ward People's Committee",
        "commune",
        "TP_DEMO",
        ("HO_TICH", "TU_PHAP"),
        1,
        0.4,
    ),
    (
        "X_AN_HOA",
        "UBND xã An Hòa",
        "An Hoa Commune People's Committee",
        "commune",
        "H_AN_PHU",
        ("HO_TICH", "TU_PHAP", "LDTBXH"),
        1,
        0.5,
    ),
    (
        "X_PHU_THANH",
        "UBND xã Phú Thành",
        "Phu Thanh Commune People's Committee",
        "commune",
        "H_AN_PHU",
        ("HO_TICH", "TU_PHAP"),
        1,
        0.3,
    ),
    (
        "P_BINH_MINH",
        "UBND phường Bình Minh",
        "Binh Minh Ward People's Committee",
        "commune",
        "TX_BINH_MINH",
        ("HO_TICH", "TU_PHAP"),
        1,
        0.2,
    ),
)

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

_COMMENTS = (
    "Cán bộ hướng dẫn nhiệt tình, chu đáo.",
    "Thời gian chờ đợi hơi lâu vào buổi sáng.",
    "Đề nghị bố trí thêm ghế ngồi chờ.",
    "Thủ tục nhanh gọn, trả kết quả đúng hẹn.",
    "Cần niêm yết phí, lệ phí rõ ràng hơn.",
    "Rất hài lòng với thái độ phục vụ.",
    "Máy lấy số thứ tự hay bị lỗi.",
    "Mong được hướng dẫn nộp hồ sơ trực tuyến.",
)

# Factor-level shifts of the latent satisfaction (feedback handling scores lowest, as usual).
_FACTOR_EFFECT = {"e1": 0.1, "e2": -0.1, "e3": 0.3, "e4": 0.0, "e5": -0.4}


def seed_units() -> dict[str, int]:
    """Create the demo province's agencies, fields, counters and procedures (app context)."""
    fields = {code: Field(code=code, name_vi=vi, name_en=en) for code, vi, en in FIELDS}
    db.session.add_all(fields.values())
    agencies: dict[str, Agency] = {}
    n_counters = 0
    for code, vi, en, level, parent, served, counters, _effect in _AGENCIES:
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
    db.session.commit()
    repository.clear_caches()
    return {
        "agencies": len(agencies),
        "fields": len(fields),
        "counters": n_counters,
        "procedures": len(_PROCEDURES),
    }


def _answers(
    rng: np.random.Generator, form, level: float, item_factor: dict[str, str]
) -> dict[str, int]:
    answers: dict[str, int] = {}
    for item in form.rating_items:
        draw = rng.random()
        if draw < 0.02:
            continue  # skipped
        factor = item_factor[item.key]
        if draw < (0.14 if factor == "e5" else 0.04):
            answers[item.key] = 0  # not applicable
            continue
        latent = level + _FACTOR_EFFECT[factor] + rng.normal(0, 0.55)
        answers[item.key] = int(np.clip(np.rint(latent), 1, 5))
    if rng.random() < 0.6:
        for item in form.expectation_items:
            if rng.random() < 0.9:
                answers[item.key] = int(rng.integers(1, 4))
    for item in form.profile_items:
        if rng.random() < 0.9:
            codes = sorted(item.codes)
            weights = np.ones(len(codes))
            if item.key == "ethnicity":
                weights = np.array([0.88, 0.12])
            answers[item.key] = int(rng.choice(codes, p=weights / weights.sum()))
    return answers


def seed_responses(n: int, *, random_seed: int = 2024, now: datetime | None = None) -> int:
    """Add ``n`` synthetic responses over the 12 months before ``now`` (bulk inserts)."""
    rng = np.random.default_rng(random_seed)
    form = repository.load_form("sipas-counter")
    item_factor = {key: f.key for f in form.factors for key in f.item_keys}
    layout = repository.record_form_version(form)
    now = now or datetime.now(UTC)
    agency_effect = {row[0]: row[7] for row in _AGENCIES}
    counters = db.session.execute(
        select(Counter.id, Counter.code, Agency.id, Agency.code, Counter.field_id, Field.code)
        .join(Agency, Counter.agency_id == Agency.id)
        .outerjoin(Field, Counter.field_id == Field.id)
        .order_by(Counter.code)
    ).all()
    if not counters:
        raise ValueError("seed the units first (no counters)")
    field_ids = dict(db.session.execute(select(Field.code, Field.id)).all())
    served = {row[0]: row[5] for row in _AGENCIES}
    offsets = np.sort(rng.uniform(0, 365 * 24 * 3600, size=n))[::-1]
    rows = []
    for offset in offsets:
        counter_id, counter_code, agency_id, agency_code, field_id, field_code = counters[
            int(rng.integers(len(counters)))
        ]
        if field_code is None:
            field_code = str(rng.choice(served.get(agency_code) or [FIELDS[0][0]]))
            field_id = field_ids[field_code]
        submitted_at = now - timedelta(seconds=float(offset))
        started_at = submitted_at - timedelta(seconds=float(rng.gamma(4.0, 30.0)))
        level = 4.3 + agency_effect.get(agency_code, 0.0) + rng.normal(0, 0.45)
        answers = _answers(rng, form, level, item_factor)
        comment = str(rng.choice(_COMMENTS)) if rng.random() < 0.06 else None
        channel = str(rng.choice(["counter_qr", "dossier_qr", "kiosk"], p=[0.6, 0.25, 0.15]))
        sub = Submission(
            uuid=uuid.UUID(bytes=rng.bytes(16), version=4),
            form_id=form.id,
            form_version=form.version,
            answers=answers,
            comment=comment,
            counter_code=counter_code,
            field_code=field_code,
            channel=channel,
            started_at=started_at,
        )
        rating = {i.key: answers[i.key] for i in form.rating_items if i.key in answers}
        flags = quality_flags(
            rating,
            started_at=started_at,
            submitted_at=submitted_at,
            min_seconds=15,
            honeypot=None,
        )
        rows.append(
            {
                "uuid": sub.uuid,
                "form_version_id": layout.id,
                "form_id": form.id,
                "form_version": form.version,
                "submitted_at": submitted_at,
                "started_at": started_at,
                "agency_id": agency_id,
                "counter_id": counter_id,
                "field_id": field_id,
                "procedure_id": None,
                "channel": channel,
                "flags": format_flags(flags),
                "comment": comment,
                "locale": "vi" if rng.random() < 0.95 else "en",
                "content_hash": content_hash(
                    sub, answers, agency_code=agency_code, field_code=field_code
                ),
                "token_id": None,
                "dossier_hash": None,
                "answer_codes": layout.encode(answers),
            }
        )
    if rows:
        db.session.execute(insert(Response), rows)
    db.session.commit()
    return len(rows)


def _demo_app(database: Path) -> Flask:
    """The app on the demo database; its secret key is kept next to the database so that dossier
    QR codes printed earlier stay valid and the other commands find it (unless SIPAS_SECRET_KEY
    is set)."""
    from survey import create_app

    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    if not os.environ.get("SIPAS_SECRET_KEY"):
        secret_file = database.parent / SECRET_KEY_FILE
        if not secret_file.exists():
            secret_file.write_text(secrets.token_hex(32), encoding="utf-8")
            secret_file.chmod(0o600)
        config["SECRET_KEY"] = secret_file.read_text(encoding="utf-8").strip()
    return create_app(config)


def run_demo(
    *,
    host: str,
    port: int,
    n_responses: int,
    database: Path | None,
    fresh: bool,
    serve: bool,
    random_seed: int,
) -> Flask:
    """Create (or reuse) the demo database, seed it, print how to use it, optionally serve."""
    from survey.migrations import upgrade

    if database is None:
        # The default database of every other command, so that `sipas export responses` (and
        # the rest) see the demo's data without configuration.
        database = Path(Flask("survey").instance_path) / DEFAULT_INSTANCE_DB
    database = database.resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    upgrade(f"sqlite:///{database}")
    app = _demo_app(database)
    base_url = f"http://{host}:{port}"
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Agency)):
            click.echo(f"Using the existing demo database {database} (--fresh to start over).")
        else:
            seeded = seed_units()
            click.echo("Seeded Tỉnh Demo: " + ", ".join(f"{v} {k}" for k, v in seeded.items()))
            click.echo(f"Added {seed_responses(n_responses, random_seed=random_seed)} responses.")
            _create_admin(secrets.token_urlsafe(9))
        _print_urls(base_url, repository.list_counters(active_only=True))
    if serve:
        _serve(app, host, port)
    return app


def _create_admin(password: str) -> None:
    if db.session.scalar(select(User.id).where(User.username == "admin")) is None:
        repository.create_user("admin", password, role="admin", display_name="Quản trị viên (demo)")
        click.echo(f"Admin login: admin / {password}")


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

        def load(self) -> Flask:
            return app

    click.echo(f"Serving on http://{host}:{port} (Ctrl+C to stop)")
    _Demo().run()
