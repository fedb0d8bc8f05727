"""``sipas import``: CSV (with or without BOM) and XLSX, upserts, row-level errors, all or
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import Agency, Counter, Field

DATA = Path(__file__).parent / "data"


def import_all(runner) -> None:
    for kind in ("units", "fields", "counters", "procedures"):
        result = runner.invoke(["import", kind, str(DATA / f"{kind}.csv")])
        assert result.exit_code == 0, result.output


def test_import_sample_files(app, runner):
    import_all(runner)
    with app.app_context():
        commune = repository.get_agency("X_AN_HOA")
        assert commune.name_vi == "UBND xã An Hòa" and commune.level == "commune"
        assert commune.parent.code == "H_AN_PHU" and commune.parent.parent.code == "DEMO"
        counters = {c.code: c for c in repository.list_counters()}
        assert counters["STP-Q1"].field.code == "LLTP" and counters["STP-Q1"].active
        assert counters["STP-Q2"].field is None and counters["STP-Q2"].active
        assert not counters["X_AN_HOA-Q1"].active
        assert repository.get_procedure("HO_TICH.01").field.code == "HO_TICH"


def test_reimport_updates_instead_of_duplicating(app, runner, tmp_path):
    import_all(runner)
    changed = tmp_path / "fields.csv"
    changed.write_text("code,name_vi\nHO_TICH,Hộ tịch (sửa)\nNEW,Mới\n", encoding="utf-8")
    result = runner.invoke(["import", "fields", str(changed)])
    assert result.exit_code == 0 and "1 created, 1 updated" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Field)) == 3
        assert db.session.scalar(select(Field.name_vi).where(Field.code == "HO_TICH")) == (
            "Hộ tịch (sửa)"
        )


def test_xlsx_import(app, runner, tmp_path):
    import_all(runner)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "agency_code", "name_vi", "active"])
    sheet.append(["STP-Q9", "STP", "Quầy số 9", 1])
    sheet.append([None, None, None, None])  # blank rows are ignored
    sheet.append(["STP-Q10", "STP", "Quầy số 10", 0])
    path = tmp_path / "counters.xlsx"
    workbook.save(path)
    result = runner.invoke(["import", "counters", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert repository.get_counter("STP-Q9").active
        assert not repository.get_counter("STP-Q10").active


@pytest.mark.parametrize(
    ("kind", "content", "errors"),
    [
        (
            "units",
            "code,name_vi,level,parent_code\nA,Cơ quan A,province,\nB,Cơ quan B,district,X\n"
            "C,Cơ quan C,village,A\n,Không mã,commune,A\nA,Trùng,province,\n",
            [
                "row 3, column parent_code: unknown agency 'X'",
                "row 4, column level: unknown level 'village' (expected one of province, "
                "department, district, commune)",
                "row 5, column code: a value is required",
                "row 6, column code: code 'A' already appears on row 2",
            ],
        ),
        (
            "units",
            "code,name_vi,level,parent_code\nA,Cơ quan A,district,B\nB,Cơ quan B,district,A\n",
            [
                "row 2, column parent_code: agency 'A' would be its own ancestor",
                "row 3, column parent_code: agency 'B' would be its own ancestor",
            ],
        ),
        (
            "counters",
            "code,agency_code,name_vi,field_code,active\nQ1,NOPE,Quầy,,1\nQ2,STP,Quầy,ZZ,maybe\n",
            [
                "row 2, column agency_code: unknown agency 'NOPE'",
                "row 3, column active: expected 1 or 0, got 'maybe'",
                "row 3, column field_code: unknown field 'ZZ'",
            ],
        ),
        (
            "fields",
            "code,nam_vi\nA,B\n",
            [
                "row 1, column name_vi: required column is missing",
                "row 1, column nam_vi: unknown column (expected: code, name_vi, name_en)",
            ],
        ),
        ("procedures", "", ["file: the file is empty (no header row)"]),
    ],
)
def test_bad_files_list_every_error_and_write_nothing(app, runner, tmp_path, kind, content, errors):
    runner.invoke(["import", "units", str(DATA / "units.csv")])
    with app.app_context():
        before = [
            db.session.scalar(select(func.count()).select_from(m)) for m in (Agency, Counter, Field)
        ]
    path = tmp_path / f"{kind}.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(["import", kind, str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[:-1] == errors
    assert lines[-1] == f"{len(errors)} error(s); nothing was imported."
    with app.app_context():
        after = [
            db.session.scalar(select(func.count()).select_from(m)) for m in (Agency, Counter, Field)
        ]
    assert after == before


def test_not_utf8_and_unknown_type(runner, tmp_path):
    latin = tmp_path / "fields.csv"
    latin.write_bytes("code,name_vi\nA,Café\n".encode("latin-1"))
    result = runner.invoke(["import", "fields", str(latin)])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    odd = tmp_path / "fields.ods"
    odd.write_text("x", encoding="utf-8")
    result = runner.invoke(["import", "fields", str(odd)])
    assert result.exit_code == 1 and "unsupported file type '.ods'" in result.output


def test_a_value_over_the_csv_field_limit_is_a_row_error(app, runner, tmp_path):
    path = tmp_path / "fields.csv"
    path.write_text(
        "code,name_vi\nA,Một\nB," + "x" * 131_073 + "\nC,Ba\n", encoding="utf-8", newline=""
    )
    result = runner.invoke(["import", "fields", str(path)])
    assert result.exit_code == 1
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    assert "row 3: cannot read the CSV file: field larger than field limit" in result.stderr
    assert "nothing was imported" in result.stderr
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Field)) == 0


def test_a_nul_in_a_name_is_a_row_error(app, runner, tmp_path):
    path = tmp_path / "fields.csv"
    path.write_text("code,name_vi\nA,Một\nB,Ha\x00i\n", encoding="utf-8", newline="")
    result = runner.invoke(["import", "fields", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "row 3, column name_vi: contains a control character (such as NUL)" in result.stderr
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Field)) == 0
