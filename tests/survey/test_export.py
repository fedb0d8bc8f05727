"""``sipas export responses``: the wide format (columns, order, values) in CSV and XLSX."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from survey.exporting import META_COLUMNS, NAME_COLUMNS, export_columns
from survey.repository import load_form, save_response
from survey.submissions import Submission

T0 = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def stored(app, make_agency, make_field, make_counter):
    province = make_agency("TINH", name_vi="Tỉnh Đồng Nai", level="province")
    agency = make_agency("STP", name_vi="Sở Tư pháp", parent=province)
    field = make_field("HT", name_vi="Hộ tịch")
    make_counter("Q1", agency=agency, field=field, name_vi="Quầy 1")
    subs = [
        Submission(
            uuid=uuid.UUID(int=1),
            form_id="sipas-counter",
            form_version=1,
            answers={"e1_1": 5, "e2_1": 0, "x1": 3, "sex": 2},
            comment='Tốt, "nhanh"\nvà gọn',
            counter_code="Q1",
            channel="kiosk",
            started_at=T0 - timedelta(seconds=5),
        ),
        Submission(
            uuid=uuid.UUID(int=2),
            form_id="sipas-counter",
            form_version=1,
            answers={},
            agency_code="STP",
            channel="api",
        ),
    ]
    with app.app_context():
        save_response(subs[0], now=T0)
        save_response(subs[1], now=T0 + timedelta(days=10))
    return subs


def test_columns_follow_the_architecture(app):
    with app.app_context():
        columns = export_columns("sipas-counter")
        form = load_form("sipas-counter")
    assert columns == [*META_COLUMNS, *NAME_COLUMNS, *form.item_keys, "comment"]
    assert columns[:16] == [
        "response_id",
        "submitted_at",
        "form_id",
        "form_version",
        "agency_code",
        "counter_code",
        "field_code",
        "procedure_code",
        "channel",
        "flags",
        "agency_name",
        "agency_parent_code",
        "agency_parent_name",
        "counter_name",
        "field_name",
        "procedure_name",
    ]


def test_csv_export(app, runner, stored):
    result = runner.invoke(["export", "responses", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2
    first, second = rows
    assert first["response_id"] == str(uuid.UUID(int=1))
    assert first["submitted_at"] == "2024-03-01T08:30:00Z"
    assert (first["form_id"], first["form_version"]) == ("sipas-counter", "1")
    assert (first["agency_code"], first["counter_code"], first["field_code"]) == ("STP", "Q1", "HT")
    assert (first["procedure_code"], first["channel"], first["flags"]) == ("", "kiosk", "too_fast")
    assert (first["e1_1"], first["e2_1"], first["x1"], first["sex"], first["e1_2"]) == (
        "5",
        "0",
        "3",
        "2",
        "",
    )
    assert first["comment"] == 'Tốt, "nhanh"\nvà gọn'
    names = [first[c] for c in NAME_COLUMNS]
    assert names == ["Sở Tư pháp", "TINH", "Tỉnh Đồng Nai", "Quầy 1", "Hộ tịch", ""]
    # no answer and no comment: flagged empty
    assert second["counter_code"] == "" and second["flags"] == "empty" and second["comment"] == ""
    assert (second["agency_name"], second["counter_name"]) == ("Sở Tư pháp", "")
    assert "Exported 2 response(s)." in result.stderr


def test_since_until_filter(app, runner, stored, tmp_path):
    out = tmp_path / "x.csv"
    result = runner.invoke(
        ["export", "responses", "--since", "2024-03-05", "--until", "2024-04-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["response_id"] for r in rows] == [str(uuid.UUID(int=2))]


def test_xlsx_round_trip(app, runner, stored, tmp_path):
    out = tmp_path / "responses.xlsx"
    result = runner.invoke(["export", "responses", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    workbook = load_workbook(out, read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    with app.app_context():
        assert list(rows[0]) == export_columns("sipas-counter")
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert first["e1_1"] == 5 and first["e2_1"] == 0 and first["e1_2"] is None
    assert first["submitted_at"] == "2024-03-01T08:30:00Z"
    assert first["comment"] == 'Tốt, "nhanh"\nvà gọn'
    names = [first[c] for c in NAME_COLUMNS]
    assert names == ["Sở Tư pháp", "TINH", "Tỉnh Đồng Nai", "Quầy 1", "Hộ tịch", None]
    assert len(rows) == 3


def test_unknown_form(runner):
    result = runner.invoke(["export", "responses", "--form", "nope"])
    assert result.exit_code != 0


PAYLOADS = ['=HYPERLINK("http://x","y")', "  =2+2", "\t=3+3", "\r\n=4+4", "+1", "-1+2", "@SUM(A1)"]


@pytest.fixture
def injected(app, make_agency, make_field, make_counter):
    """One response per formula payload in its comment, plus one negative-looking code."""
    agency = make_agency("STP")
    make_counter("Q1", agency=agency, field=make_field("HT"))
    with app.app_context():
        for i, payload in enumerate(PAYLOADS):
            save_response(
                Submission(
                    uuid=uuid.UUID(int=100 + i),
                    form_id="sipas-counter",
                    form_version=1,
                    answers={"e1_1": 4},
                    comment=payload,
                    counter_code="Q1",
                    channel="kiosk",
                ),
                now=T0 + timedelta(minutes=i),
            )


def test_csv_export_neutralizes_formulas(app, runner, injected, tmp_path):
    out = tmp_path / "x.csv"
    result = runner.invoke(["export", "responses", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    # comments are stored stripped; what is stored is written with an apostrophe
    assert [r["comment"] for r in rows] == ["'" + p.strip() for p in PAYLOADS]
    assert {r["e1_1"] for r in rows} == {"4"}


def test_xlsx_export_writes_no_formula(app, runner, injected, tmp_path):
    out = tmp_path / "x.xlsx"
    result = runner.invoke(["export", "responses", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml
    workbook = load_workbook(out)
    sheet = workbook["responses"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    header = [c.value for c in sheet[1]]
    comments = [
        row[header.index("comment")] for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    workbook.close()
    assert comments == ["'" + p.strip() for p in PAYLOADS]
