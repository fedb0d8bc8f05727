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


# --- lineage and validity --------------------------------------------------------------------

_COMMUNES = (
    "code,name_vi,level,parent_code,valid_from,valid_until\n"
    "DEMO,UBND Tỉnh Demo,province,,,\n"
    "X_A,UBND xã A,commune,DEMO,,2025-06-30\n"
    "X_B,UBND xã B,commune,DEMO,,30/06/2025\n"
    "X_C,UBND xã C,commune,DEMO,,2025-06-30\n"
    "X_NEW,UBND xã Mới,commune,DEMO,01/07/2025,\n"
)
_MERGER = (
    "predecessor_code,successor_code,effective_on,kind,note\n"
    "X_A,X_NEW,2025-07-01,merge,Nghị quyết 1234/NQ-UBTVQH15\n"
    "X_B,X_NEW,01/07/2025,merge,\n"
    "X_C,X_NEW,2025-07-01,,\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _lineage(app) -> list[tuple]:
    from survey.models import AgencyLineage

    with app.app_context():
        rows = db.session.scalars(select(AgencyLineage).order_by(AgencyLineage.id)).all()
        return [
            (r.predecessor.code, r.successor.code, r.effective_on.isoformat(), r.kind, r.note)
            for r in rows
        ]


def test_units_carry_their_validity_and_the_lineage_links_them(app, runner, tmp_path):
    units = runner.invoke(["import", "units", str(_write(tmp_path, "u.csv", _COMMUNES))])
    assert units.exit_code == 0, units.output
    result = runner.invoke(["import", "lineage", str(_write(tmp_path, "l.csv", _MERGER))])
    assert result.exit_code == 0, result.output
    assert "Imported lineage: 3 created, 0 updated." in result.output
    with app.app_context():
        old, new = repository.get_agency("X_B"), repository.get_agency("X_NEW")
        assert (old.valid_from, old.valid_until.isoformat()) == (None, "2025-06-30")
        assert (new.valid_from.isoformat(), new.valid_until) == ("2025-07-01", None)
    assert _lineage(app) == [
        ("X_A", "X_NEW", "2025-07-01", "merge", "Nghị quyết 1234/NQ-UBTVQH15"),
        ("X_B", "X_NEW", "2025-07-01", "merge", ""),
        ("X_C", "X_NEW", "2025-07-01", "merge", ""),  # kind defaults to merge
    ]


def test_lineage_reimport_is_idempotent_and_replaces_changed_rows(app, runner, tmp_path):
    runner.invoke(["import", "units", str(_write(tmp_path, "u.csv", _COMMUNES))])
    path = _write(tmp_path, "l.csv", _MERGER)
    assert runner.invoke(["import", "lineage", str(path)]).exit_code == 0
    first = _lineage(app)
    again = runner.invoke(["import", "lineage", str(path)])
    assert again.exit_code == 0 and "0 created, 3 updated" in again.output
    assert _lineage(app) == first
    changed = _MERGER.replace("X_C,X_NEW,2025-07-01,,", "X_C,X_NEW,2025-08-01,merge,muộn hơn")
    result = runner.invoke(["import", "lineage", str(_write(tmp_path, "c.csv", changed))])
    assert result.exit_code == 0, result.output
    assert sorted(_lineage(app)) == sorted(
        [*first[:2], ("X_C", "X_NEW", "2025-08-01", "merge", "muộn hơn")]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "predecessor_code,successor_code,effective_on,kind\nX_A,X_NOPE,2025-07-01,merge\n",
            "row 2, column successor_code: unknown agency 'X_NOPE'",
        ),
        (
            "predecessor_code,successor_code,effective_on\nX_A,X_NEW,2025-13-01\n",
            "row 2, column effective_on: '2025-13-01' is not a date (use 2025-07-01 or 01/07/2025)",
        ),
        (
            "predecessor_code,successor_code,effective_on,kind\nX_A,X_NEW,2025-07-01,fusion\n",
            "row 2, column kind: unknown kind 'fusion' (expected one of merge, split, rename)",
        ),
        (
            "predecessor_code,successor_code,effective_on\nX_A,X_A,2025-07-01\n",
            "row 2, column successor_code: unit X_A cannot succeed itself",
        ),
        (
            "predecessor_code,successor_code,effective_on\n"
            "X_A,X_NEW,2025-07-01\nX_NEW,X_A,2026-01-01\n",
            "row 3, column successor_code: the succession X_A → X_NEW → X_A goes round in a circle",
        ),
        (
            "predecessor_code,successor_code,effective_on\nX_A,X_B,2025-07-01\nX_A,X_C,2025-07-01\n",
            "row 3, column successor_code: unit X_A is merged into or renamed to several units"
            " (X_B, X_C); a unit divided among several units is a split",
        ),
        (
            "predecessor_code,successor_code,effective_on\nX_A,X_NEW,2025-07-01\n"
            "X_A,X_NEW,2025-07-01\n",
            "row 3, column successor_code: X_A → X_NEW already appears on row 2",
        ),
    ],
)
def test_bad_lineage_lines_are_named_and_nothing_is_written(app, runner, tmp_path, text, expected):
    runner.invoke(["import", "units", str(_write(tmp_path, "u.csv", _COMMUNES))])
    result = runner.invoke(["import", "lineage", str(_write(tmp_path, "bad.csv", text))])
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert "nothing was imported" in result.output
    assert _lineage(app) == []


def test_a_cycle_through_stored_lineage_is_refused(app, runner, tmp_path):
    runner.invoke(["import", "units", str(_write(tmp_path, "u.csv", _COMMUNES))])
    assert (
        runner.invoke(["import", "lineage", str(_write(tmp_path, "l.csv", _MERGER))]).exit_code == 0
    )
    back = "predecessor_code,successor_code,effective_on\nX_NEW,X_B,2026-01-01\n"
    result = runner.invoke(["import", "lineage", str(_write(tmp_path, "b.csv", back))])
    assert result.exit_code == 1 and "goes round in a circle" in result.output, result.output
    assert len(_lineage(app)) == 3


def test_a_validity_that_ends_before_it_starts_is_refused(app, runner, tmp_path):
    text = "code,name_vi,level,valid_from,valid_until\nX,UBND xã X,commune,2025-07-01,2025-06-30\n"
    result = runner.invoke(["import", "units", str(_write(tmp_path, "u.csv", text))])
    assert result.exit_code == 1
    assert (
        "row 2, column valid_until: valid_from 2025-07-01 is after valid_until 2025-06-30"
        in result.output
    )
