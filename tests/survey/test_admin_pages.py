"""Admin pages: who may enter, CSRF, unit imports and edits, dossier-volume frames and coverage,
questionnaire versions, accounts and API keys; bad uploads answered with the row-level list."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import Agency, DossierVolume
from survey.repository.frames import UnknownFrameCodes, coverage, replace_volumes, volumes
from tests.survey.submitted import counter_submission

PASSWORD = "mật khẩu quản trị"

PAGES = [
    "/admin/catalogue/units",
    "/admin/catalogue/fields",
    "/admin/catalogue/counters",
    "/admin/catalogue/procedures",
    "/admin/catalogue/units/edit?code=STP",
    "/admin/frames",
    "/admin/frames/coverage?period=2026-Q1",
    "/admin/forms",
    "/admin/users",
    "/admin/users/password?login=boss",
    "/admin/apikeys",
]
POSTS = [
    "/admin/catalogue/units/import",
    "/admin/catalogue/units/edit?code=STP",
    "/admin/catalogue/counters/deactivate",
    "/admin/frames",
    "/admin/users",
    "/admin/users/password?login=boss",
    "/admin/users/disable",
    "/admin/apikeys",
    "/admin/apikeys/revoke",
]


@pytest.fixture
def units(app, make_agency, make_field, make_counter):
    """A province with a department (STP) and a district (HAP); two fields; counter Q1 at STP."""
    province = make_agency("TINH", level="province", name_vi="UBND tỉnh")
    stp = make_agency("STP", parent=province, name_vi="Sở Tư pháp")
    make_agency("HAP", level="district", parent=province, name_vi="UBND huyện An Phú")
    make_field("HT", name_vi="Hộ tịch")
    make_field("LLTP", name_vi="Lý lịch tư pháp")
    make_counter("Q1", agency=stp, field="HT")
    with app.app_context():
        repository.create_user("boss", PASSWORD, role="admin", display_name="Quản trị")
        repository.create_user("analyst", PASSWORD, role="analyst")
        repository.create_user("canbo", PASSWORD, role="official", agency_code="STP")


def sign_in(client, login: str = "boss") -> None:
    answer = client.post("/login", data={"username": login, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def upload(client, url: str, name: str, content: bytes | str, **fields: str):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        url,
        data={"file": (io.BytesIO(data), name), **fields},
        content_type="multipart/form-data",
    )


def text(answer) -> str:
    return answer.get_data(as_text=True)


def problem_rows(answer) -> list[tuple[str, str, str]]:
    """The (row, column, problem) cells of the page's problem table."""
    table = re.search(r'<table class="problems">(.*?)</table>', text(answer), re.S)
    assert table is not None, text(answer)[:2000]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1), re.S)
    return [tuple(html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row) for row in rows]


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_for_admins_only(app, units, path) -> None:
    admin, analyst, official, anonymous = (app.test_client() for _ in range(4))
    sign_in(admin)
    sign_in(analyst, "analyst")
    sign_in(official, "canbo")
    assert admin.get(path).status_code == 200
    assert analyst.get(path).status_code == 403
    assert official.get(path).status_code == 403
    answer = anonymous.get(path)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", POSTS)
def test_actions_are_for_admins_only(app, units, path) -> None:
    analyst, official, anonymous = (app.test_client() for _ in range(3))
    sign_in(analyst, "analyst")
    sign_in(official, "canbo")
    data = {"target": "boss", "login": "x", "name": "x", "password": "abcdefghij"}
    assert analyst.post(path, data=data).status_code == 403
    assert official.post(path, data=data).status_code == 403
    answer = anonymous.post(path, data=data)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    with app.app_context():
        assert [u.active for u in repository.list_users()] == [True, True, True]
        assert repository.list_api_keys() == []


def test_index_links_every_admin_page_for_admins_only(app, units) -> None:
    admin, analyst = app.test_client(), app.test_client()
    sign_in(admin)
    sign_in(analyst, "analyst")
    page = text(admin.get("/admin/"))
    for path in ("/admin/catalogue/units", "/admin/frames", "/admin/forms", "/admin/users"):
        assert f'href="{path}"' in page
    assert 'href="/admin/apikeys"' in page
    assert 'href="/admin/frames"' not in text(analyst.get("/admin/"))


def test_posts_need_the_csrf_token(make_app, units) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    refused = client.post("/admin/users/disable", data={"target": "canbo"})
    assert refused.status_code == 400
    with app.app_context():
        assert repository.get_user("canbo").active
    page = text(client.get("/admin/users"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    done = client.post("/admin/users/disable", data={"target": "canbo", "csrf_token": token})
    assert done.status_code == 302
    with app.app_context():
        assert not repository.get_user("canbo").active


# --- units, fields, counters -------------------------------------------------------------------


def test_import_units_from_the_page(app, client, units) -> None:
    sign_in(client)
    csv = "code,name_vi,level,parent_code\nXAH,UBND xã An Hòa,commune,HAP\n"
    answer = upload(client, "/admin/catalogue/units/import", "units.csv", csv)
    assert answer.status_code == 302
    page = text(client.get(answer.headers["Location"]))
    assert "Đã nhập: 1 mới, 0 cập nhật." in page
    assert "UBND xã An Hòa" in page
    with app.app_context():
        assert repository.get_agency("XAH").parent.code == "HAP"


def test_import_xlsx_counters_from_the_page(app, client, units) -> None:
    sign_in(client)
    workbook = Workbook()
    workbook.active.append(["code", "agency_code", "name_vi", "field_code"])
    workbook.active.append(["Q2", "STP", "Quầy số 2", "LLTP"])
    data = io.BytesIO()
    workbook.save(data)
    answer = upload(client, "/admin/catalogue/counters/import", "quay.xlsx", data.getvalue())
    assert answer.status_code == 302
    with app.app_context():
        assert repository.get_counter("Q2").field.code == "LLTP"


def _agency_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Agency))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "units.csv",
            "code,ten,level\nA,Cơ quan A,province\n",
            [
                ("tiêu đề (1)", "name_vi", "Thiếu cột bắt buộc này."),
                (
                    "tiêu đề (1)",
                    "ten",
                    "Cột không có trong mẫu (cần: code, name_vi, level, name_en, parent_code,"
                    " valid_from, valid_until).",
                ),
            ],
        ),
        (
            "units.csv",
            "code,name_vi,level,parent_code\nA,Cơ quan A,province,\nB,Cơ quan B,district,NOPE\n"
            "C,Cơ quan C,village,A\n",
            [
                ("3", "parent_code", "Không có cơ quan 'NOPE'."),
                (
                    "4",
                    "level",
                    "Cấp 'village' không hợp lệ (cần một trong: province, department, district, "
                    "commune).",
                ),
            ],
        ),
        (
            "units.csv",
            "code,name_vi,level\nA\x00B,Cơ quan\x00A,province\n",
            [
                ("2", "code", "Có ký tự điều khiển (ví dụ NUL); hãy xoá ký tự đó."),
                ("2", "name_vi", "Có ký tự điều khiển (ví dụ NUL); hãy xoá ký tự đó."),
            ],
        ),
        (
            "units.csv",
            "code,name_vi,level\nA,Cơ quan A,province\nB," + "x" * 200_000 + ",province\n",
            [
                (
                    "3",
                    "—",
                    "Không đọc được tệp CSV: field larger than field limit (131072).",
                )
            ],
        ),
        (
            "units.csv",
            "code,name_vi,level\nA," + "x" * 300 + ",province\n",
            [("2", "name_vi", "Dài hơn 255 ký tự.")],
        ),
        (
            "units.txt",
            "code,name_vi,level\n",
            [("tệp", "—", "Không nhận loại tệp '.txt': hãy tải lên tệp .csv hoặc .xlsx.")],
        ),
        (
            "units.csv",
            b"code,name_vi,level\nA,C\xe1 quan,province\n",
            [
                (
                    "tệp",
                    "—",
                    "Tệp không phải văn bản UTF-8 (invalid continuation byte); hãy lưu tệp dưới "
                    "dạng UTF-8 (CSV UTF-8).",
                )
            ],
        ),
        ("units.xlsx", b"not a workbook", None),
    ],
)
def test_bad_imports_list_every_problem_and_write_nothing(
    app, client, units, name, content, expected
) -> None:
    sign_in(client)
    before = _agency_count(app)
    answer = upload(client, "/admin/catalogue/units/import", name, content)
    assert answer.status_code == 400
    rows = problem_rows(answer)
    if expected is None:
        assert rows[0][0] == "tệp" and rows[0][2].startswith("Không đọc được bảng tính")
    else:
        assert rows == expected
    assert "Không có gì được lưu." in text(answer)
    assert _agency_count(app) == before


def test_import_without_a_file_is_a_form_error(client, units) -> None:
    sign_in(client)
    answer = client.post("/admin/catalogue/units/import", data={})
    assert answer.status_code == 400
    assert '<span class="fielderror">Hãy chọn tệp CSV hoặc XLSX.</span>' in text(answer)
    blank = client.post("/admin/users", data={"login": "", "password": "", "role": ""})
    assert blank.status_code == 400
    assert text(blank).count('<span class="fielderror">Cần điền mục này.</span>') == 2
    role = client.post("/admin/users", data={"login": "x", "password": PASSWORD, "role": "boss"})
    assert role.status_code == 400 and "Không có vai trò “boss”." in text(role)


def test_edit_names(app, client, units) -> None:
    sign_in(client)
    form = text(client.get("/admin/catalogue/units/edit?code=STP"))
    assert 'value="Sở Tư pháp"' in form
    answer = client.post(
        "/admin/catalogue/units/edit?code=STP",
        data={"name_vi": "Sở Tư pháp tỉnh", "name_en": "Department of Justice"},
    )
    assert answer.status_code == 302
    with app.app_context():
        agency = repository.get_agency("STP")
        assert (agency.name_vi, agency.name_en) == ("Sở Tư pháp tỉnh", "Department of Justice")
    blank = client.post("/admin/catalogue/units/edit?code=STP", data={"name_vi": " "})
    assert blank.status_code == 400
    nul = client.post(
        "/admin/catalogue/fields/edit?code=HT", data={"name_vi": "Hộ\x00tịch", "name_en": ""}
    )
    assert nul.status_code == 400 and "ký tự không được phép" in text(nul)  # survey.guards
    with app.app_context():
        assert repository.get_field("HT").name_vi == "Hộ tịch"
    for code in ("NOPE", ""):
        assert client.get(f"/admin/catalogue/units/edit?code={code}").status_code == 404
    assert client.get("/admin/catalogue/units/edit?code=ST%00P").status_code == 400  # guards


def test_deactivate_and_activate_a_counter(app, client, units) -> None:
    sign_in(client)
    answer = client.post("/admin/catalogue/counters/deactivate", data={"target": "Q1"})
    assert answer.status_code == 302
    with app.app_context():
        assert not repository.get_counter("Q1").active
        with pytest.raises(repository.UnknownCounter):
            repository.save_response(counter_submission({}))
    page = text(client.get("/admin/catalogue/counters"))
    assert "Quầy Q1 không nhận trả lời nữa." in page and "ngừng hoạt động" in page
    client.post("/admin/catalogue/counters/activate", data={"target": "Q1"})
    with app.app_context():
        assert repository.get_counter("Q1").active
    assert client.post("/admin/catalogue/counters/deactivate", data={}).status_code == 400
    missing = client.post("/admin/catalogue/counters/deactivate", data={"target": "Q9"})
    assert missing.status_code == 404


# --- frames and coverage -----------------------------------------------------------------------


def _respond(app, n: int, when: datetime, **overrides: str) -> None:
    with app.app_context():
        for _ in range(n):
            repository.save_response(counter_submission({}, **overrides), now=when)


def test_upload_a_frame_and_see_coverage(app, client, units) -> None:
    sign_in(client)
    _respond(app, 3, datetime(2026, 2, 10, tzinfo=UTC))
    _respond(app, 1, datetime(2026, 2, 11, tzinfo=UTC), field_code="LLTP")
    _respond(app, 2, datetime(2026, 4, 1, tzinfo=UTC))  # next quarter: not counted
    csv = "agency_code,field_code,period,dossiers\nSTP,HT,2026-Q1,120\nHAP,HT,2026-Q1,40\n"
    answer = upload(client, "/admin/frames", "frame.csv", csv)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/admin/frames/coverage?period=2026-Q1"
    page = text(client.get(answer.headers["Location"]))
    assert "Đã lưu 2 ô cho 2026-Q1." in page
    with app.app_context():
        units_ = {u.agency_code: u for u in coverage("2026-Q1")}
    assert (units_["STP"].dossiers, units_["STP"].responses) == (120, 4)
    cells = {c.field_code: (c.dossiers, c.responses) for c in units_["STP"].cells}
    assert cells == {"HT": (120, 3), "LLTP": (None, 1)}
    assert (units_["HAP"].responses, units_["HAP"].rate) == (0, 0.0)
    assert "3.3 %" in page and "2.5 %" in page  # 4 of 120 for STP, 3 of 120 for STP × HT
    listing = text(client.get("/admin/frames"))
    assert "2026-Q1" in listing and "160" in listing


def test_a_new_upload_replaces_the_period(app, client, units) -> None:
    sign_in(client)
    upload(
        client,
        "/admin/frames",
        "a.csv",
        "agency_code,field_code,dossiers\nSTP,HT,10\n",
        period="2026",
    )
    upload(
        client,
        "/admin/frames",
        "b.csv",
        "agency_code,field_code,dossiers\nSTP,HT,10\n",
        period="2025",
    )
    answer = upload(
        client,
        "/admin/frames",
        "c.csv",
        "agency_code,field_code,dossiers\nHAP,LLTP,7\n",
        period="2026",
    )
    assert answer.status_code == 302
    with app.app_context():
        frame = volumes(["2025", "2026"])
    assert frame.to_dict("records") == [
        {"agency_code": "STP", "field_code": "HT", "period": "2025", "dossiers": 10},
        {"agency_code": "HAP", "field_code": "LLTP", "period": "2026", "dossiers": 7},
    ]
    assert list(frame.columns) == ["agency_code", "field_code", "period", "dossiers"]
    assert str(frame["dossiers"].dtype) == "int64"


def _volume_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(DossierVolume))


@pytest.mark.parametrize(
    ("content", "period", "expected"),
    [
        (
            "agency,field_code,dossiers\nSTP,HT,1\n",
            "2026",
            [("tiêu đề (1)", "agency_code", "Thiếu cột bắt buộc này.")],
        ),
        (
            "agency_code,field_code,dossiers\nSTP,HT,1\n",
            "",
            [
                (
                    "tiêu đề (1)",
                    "period",
                    "Tệp không có cột period: hãy thêm cột này, hoặc chọn kỳ trong biểu mẫu.",
                )
            ],
        ),
        (
            "agency_code,field_code,dossiers\nSTP,HT,1\n",
            "Q1-2026",
            [
                (
                    "tệp",
                    "period",
                    "'Q1-2026' không phải là một kỳ (dùng 2026, 2026-H1, 2026-Q3 hoặc 2026-07).",
                )
            ],
        ),
        (
            "agency_code,field_code,period,dossiers\nSTP,HT,2026,5\nNOPE,HT,2026,3\n\nSTP,XX,2026,1\n",
            "",
            [
                ("3", "agency_code", "Không có cơ quan 'NOPE'."),
                ("5", "field_code", "Không có lĩnh vực 'XX'."),
            ],
        ),
        (
            "agency_code,field_code,period,dossiers\nST\x00P,HT,2026,5\n",
            "",
            [("2", "agency_code", "Không có cơ quan 'ST\\x00P'.")],
        ),
        (
            "agency_code,field_code,period,dossiers\nSTP,HT,2026,5\nSTP,LLTP,2026\x00,5\n",
            "",
            [
                (
                    "3",
                    "period",
                    "'2026\\x00' không phải là một kỳ (dùng 2026, 2026-H1, 2026-Q3 hoặc 2026-07).",
                )
            ],
        ),
        (
            "agency_code,field_code,period,dossiers\nSTP,HT,2026,1.649\nSTP,LLTP,2026,-3\n"
            "HAP,HT,2026,abc\nHAP,LLTP,2026,\n",
            "",
            [
                (
                    "2",
                    "dossiers",
                    "'1.649' không phải là số hồ sơ nguyên "
                    "(viết 1649, không viết 1.649 hay 1,649).",
                ),
                ("3", "dossiers", "Số hồ sơ -3 là số âm."),
                ("4", "dossiers", "'abc' không phải là số."),
                ("5", "dossiers", "Số hồ sơ để trống."),
            ],
        ),
        (
            "agency_code,field_code,period,dossiers\nSTP,HT,2026,1\nSTP,HT,2026,2\nHAP,HT,2026-Q1,1\n",
            "",
            [
                (
                    "tệp",
                    "period",
                    "Các kỳ lẫn năm, nửa năm, quý hoặc tháng: year (row 2), quarter (row 4).",
                ),
                ("2", "—", "Ô STP/HT/2026 xuất hiện nhiều lần (các dòng 2, 3)."),
                ("3", "—", "Ô STP/HT/2026 xuất hiện nhiều lần (các dòng 2, 3)."),
            ],
        ),
        (
            "agency_code,field_code,period,dossiers\nSTP,HT,2026," + "9" * 200_000 + "\n",
            "",
            [("2", "—", "Không đọc được tệp CSV: field larger than field limit (131072).")],
        ),
    ],
)
def test_bad_frames_list_every_problem_and_store_nothing(
    app, client, units, content, period, expected
) -> None:
    sign_in(client)
    upload(
        client,
        "/admin/frames",
        "ok.csv",
        "agency_code,field_code,dossiers\nSTP,HT,9\n",
        period="2026",
    )
    answer = upload(client, "/admin/frames", "frame.csv", content, period=period)
    assert answer.status_code == 400
    assert problem_rows(answer) == expected
    with app.app_context():
        assert volumes(["2026"])["dossiers"].tolist() == [9]


def test_frames_from_xlsx(app, client, units) -> None:
    sign_in(client)
    workbook = Workbook()
    workbook.active.append(["agency_code", "field_code", "period", "dossiers"])
    workbook.active.append(["STP", "HT", "2026-07", 1649])
    data = io.BytesIO()
    workbook.save(data)
    assert upload(client, "/admin/frames", "khung.xlsx", data.getvalue()).status_code == 302
    with app.app_context():
        assert volumes(["2026-07"])["dossiers"].tolist() == [1649]


def test_replace_volumes_checks_codes_before_writing(app, units) -> None:
    frame = pd.DataFrame(
        {
            "agency_code": ["STP", "X"],
            "field_code": ["HT", "HT"],
            "period": ["2026"] * 2,
            "dossiers": [1, 2],
        }
    )
    with app.app_context():
        with pytest.raises(UnknownFrameCodes) as info:
            replace_volumes(frame)
        assert info.value.problems == [(1, "agency_code", "X")]
        assert volumes(["2026"]).empty
        assert replace_volumes(frame.iloc[:1]) == 1


def test_coverage_needs_a_period(client, units) -> None:
    sign_in(client)
    for bad in ("", "2026-Q5", "%00", "2026-13"):
        answer = client.get(f"/admin/frames/coverage?period={bad}")
        assert answer.status_code == 400
        expected = "ký tự không được phép" if bad == "%00" else "Hãy chọn một kỳ"
        assert expected in text(answer)


# --- form versions -----------------------------------------------------------------------------


def test_form_versions_in_use(app, client, units) -> None:
    sign_in(client)
    assert "Chưa nhận được câu trả lời nào." in text(client.get("/admin/forms"))
    _respond(app, 2, datetime(2026, 1, 5, tzinfo=UTC))
    page = text(client.get("/admin/forms"))
    row = re.search(r"<tr><td><code>sipas-counter</code></td>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[0] == "1" and cells[-1] == "2"


# --- accounts and API keys ---------------------------------------------------------------------


def _new_user(client, **data: str):
    values = {
        "login": "hoa",
        "display_name": "",
        "role": "official",
        "agency": "",
        "password": PASSWORD,
    }
    values.update(data)
    return client.post("/admin/users", data=values)


def test_create_accounts_with_the_role_rule(app, client, units) -> None:
    sign_in(client)
    refused = _new_user(client)
    assert refused.status_code == 400
    assert "Cán bộ cần có một cơ quan" in text(refused)
    limited = _new_user(client, login="an", role="analyst", agency="STP")
    assert limited.status_code == 400 and "để trống cơ quan" in text(limited)
    taken = _new_user(client, login="boss", role="admin")
    assert taken.status_code == 400 and "Tên đăng nhập “boss” đã có người dùng." in text(taken)
    nul = _new_user(client, login="h\x00a", role="admin")
    assert nul.status_code == 400
    created = _new_user(client, agency="HAP", display_name="Chị Hoa")
    assert created.status_code == 302
    with app.app_context():
        user = repository.get_user("hoa")
        assert (user.role, user.agency.code, user.display_name) == ("official", "HAP", "Chị Hoa")
    page = text(client.get("/admin/users"))
    assert "UBND huyện An Phú (HAP)" in page
    other = app.test_client()
    sign_in(other, "hoa")


def test_new_password_ends_the_sessions(app, client, units) -> None:
    sign_in(client)
    official = app.test_client()
    sign_in(official, "canbo")
    assert official.get("/reports/method").status_code == 200
    short = client.post("/admin/users/password?login=canbo", data={"password": "ngắn"})
    assert short.status_code == 400 and "ít nhất 8 ký tự" in text(short)
    done = client.post("/admin/users/password?login=canbo", data={"password": "mật khẩu mới dài"})
    assert done.status_code == 302
    assert official.get("/reports/method").status_code == 302
    assert (
        official.post("/login", data={"username": "canbo", "password": PASSWORD}).status_code == 401
    )
    sign_in_new = official.post(
        "/login", data={"username": "canbo", "password": "mật khẩu mới dài"}
    )
    assert sign_in_new.status_code == 302
    assert client.get("/admin/users/password?login=ghost").status_code == 404


def test_disable_an_account_but_not_ones_own(app, client, units) -> None:
    sign_in(client)
    official = app.test_client()
    sign_in(official, "canbo")
    assert client.post("/admin/users/disable", data={"target": "canbo"}).status_code == 302
    assert official.get("/reports/method").status_code == 302
    own = client.post("/admin/users/disable", data={"target": "boss"})
    assert "Bạn không thể vô hiệu hoá tài khoản của chính mình." in text(
        client.get(own.headers["Location"])
    )
    with app.app_context():
        assert repository.get_user("boss").active and not repository.get_user("canbo").active
    assert client.post("/admin/users/disable", data={"target": "ghost"}).status_code == 404


def test_api_keys_shown_once_listed_and_revoked(app, client, units) -> None:
    sign_in(client)
    answer = client.post("/admin/apikeys", data={"name": "Sở Tư pháp", "agency": "STP"})
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    key = re.search(r'<code class="key">(sipas_[^<]+)</code>', text(answer)).group(1)
    with app.app_context():
        access = repository.api_key_access(key)
        assert access.agency_id == repository.get_agency("STP").id
    listing = text(client.get("/admin/apikeys"))
    assert key not in listing and "Sở Tư pháp (STP)" in listing
    unknown = client.post("/admin/apikeys", data={"name": "x", "agency": "NOPE"})
    assert unknown.status_code == 400 and "Không có cơ quan “NOPE”." in text(unknown)
    with app.app_context():
        key_id = repository.list_api_keys()[0].id
    revoked = client.post("/admin/apikeys/revoke", data={"target": str(key_id)})
    assert revoked.status_code == 302
    with app.app_context():
        assert repository.api_key_access(key) is None
    again = client.post("/admin/apikeys/revoke", data={"target": str(key_id)})
    assert "Không có khoá API đang dùng" in text(client.get(again.headers["Location"]))
    assert client.post("/admin/apikeys/revoke", data={"target": "abc"}).status_code == 400


def test_pages_in_english(client, units) -> None:
    sign_in(client)
    answer = upload(client, "/admin/catalogue/units/import?lang=en", "u.csv", "code\nA\n")
    assert answer.status_code == 400
    assert ("header (1)", "name_vi", "This required column is missing.") in problem_rows(answer)


def test_uploads_may_exceed_the_request_limit_up_to_their_own(make_app, units) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1024, SIPAS_UPLOAD_MAX_BYTES=200_000)
    client = app.test_client()
    sign_in(client)
    rows = "".join(f"F{i:05d},Lĩnh vực {i}\n" for i in range(3000))  # ~80 kB
    answer = upload(client, "/admin/catalogue/fields/import", "fields.csv", "code,name_vi\n" + rows)
    assert answer.status_code == 302
    with app.app_context():
        assert len(repository.list_fields()) == 3002
    too_big = upload(client, "/admin/catalogue/fields/import", "f.csv", "code,name_vi\n" + rows * 3)
    assert too_big.status_code == 413
    assert client.post("/admin/users", data={"login": "x" * 2000}).status_code == 413


def test_unknown_frame_sentences_are_shown_as_they_are(app) -> None:
    from survey.admin.messages import frame_problem

    with app.test_request_context("/?lang=vi"):
        assert frame_problem("blank code") == "Mã để trống."
        assert frame_problem("volume '5' is negative") == "Số hồ sơ '5' là số âm."
        assert frame_problem("something new") == "something new"
