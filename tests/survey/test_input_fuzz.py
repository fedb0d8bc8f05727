"""Hypothesis fuzzing of what officials and citizens send in: the unit, field, counter and
procedure imports (CSV and XLSX), the dossier-volume frame upload, and the citizen form POST.

Files get hostile cells (NUL and other control characters, very long strings, formula prefixes
``= + - @``, any Unicode, blanks, repeated rows, numbers where codes go, a BOM, CRLF or LF,
shuffled, missing, repeated or unknown columns) next to plausible values, so that some files
are accepted. The importer must either store the file or raise :class:`ImportFailed` with
row-level errors, and on an error nothing may have changed in the database. The citizen form
must never answer 5xx.

Each example starts from the same small catalogue; both engines (PostgreSQL enforces column
lengths and refuses NUL, SQLite does neither). Bounded: the file runs in well under a minute.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import text

from survey import create_app, repository
from survey.extensions import db
from survey.importing import COLUMNS, ImportFailed, import_file, read_rows
from survey.models import AGENCY_LEVELS, Agency, AgencyLineage, Counter, Field, Procedure
from survey.volumes import store_volume_file

from .conftest import app_config, dispose_engines

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the database: one app per engine, reset to a small catalogue before each example ----------

_CATALOGUE_TABLES = ("agencies", "fields", "counters", "procedures", "dossier_volumes")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_app(request: pytest.FixtureRequest, empty_tables) -> Iterator[Flask]:
    url = request.getfixturevalue(f"{request.param}_url")
    app = create_app(app_config(url))
    app.config["FUZZ_URL"] = url
    yield app
    empty_tables(url)
    dispose_engines(app)


@pytest.fixture
def reset(fuzz_app: Flask, empty_tables) -> Callable[[], None]:
    """Empty the database and seed the catalogue (call at the start of each example)."""

    def run() -> None:
        empty_tables(fuzz_app.config["FUZZ_URL"])
        with fuzz_app.app_context():
            province = Agency(code="TINH", name_vi="Tỉnh", name_en="Province", level="province")
            db.session.add(province)
            db.session.flush()
            department = Agency(
                code="STP", name_vi="Sở", name_en="Dept", level="department",
                parent_id=province.id,
            )  # fmt: skip
            field = Field(code="HT", name_vi="Hộ tịch", name_en="Civil status")
            db.session.add_all([department, field])
            db.session.flush()
            db.session.add_all(
                [
                    Counter(code="Q1", agency_id=department.id, name_vi="Quầy 1", name_en="",
                            field_id=field.id, active=True),
                    Procedure(code="1.001", name_vi="Khai sinh", name_en="", field_id=field.id),
                ]
            )  # fmt: skip
            db.session.commit()
            repository.clear_caches()

    return run


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    with app.app_context():
        return {
            table: [tuple(row) for row in db.session.execute(text(f"SELECT * FROM {table}"))]
            for table in _CATALOGUE_TABLES
        }


# --- cells ---------------------------------------------------------------------------------------

_UTF8 = st.characters(codec="utf-8")  # no lone surrogates: the files are UTF-8
SPECIAL = [
    "",
    " ",
    "\t",
    "=1+1",
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    '=HYPERLINK("http://x","y")',
    "\ufeffSTP",
    "a\x00b",
    "\x00",
    "line\r\nbreak",
    "\x7f\x85\u2028",
    "x" * 64,
    "x" * 65,
    "ư" * 255,
    "ư" * 256,
    "z" * 5000,
    "NaN",
    "inf",
    "-1",
    "1e30",
    "99999999999999999999",
    "1,5",
    "１２",
    "٢٠٢٦",
    "🙂",
]
HOSTILE = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(_UTF8, max_size=12),
    st.text(_UTF8, min_size=200, max_size=400),
    st.integers().map(str),
    st.floats().map(str),
)


def plausible(*values: str) -> st.SearchStrategy[str]:
    """Mostly a value that fits the column, sometimes a hostile one."""
    return st.one_of(st.sampled_from(values), st.sampled_from(values), HOSTILE)


NAME = st.one_of(st.text(_UTF8, min_size=1, max_size=30), HOSTILE)
CELLS: dict[str, st.SearchStrategy[str]] = {
    "code": plausible("A1", "A2", "B 7", "STP", "TINH", "HT", "Q1", "Q2", "1.001", "2.002"),
    "name_vi": NAME,
    "name_en": NAME,
    "level": plausible(*AGENCY_LEVELS, "Department", "sở"),
    "parent_code": plausible("", "TINH", "STP", "A1", "A2", "NOPE"),
    "agency_code": plausible("STP", "TINH", "A1", "NOPE"),
    "field_code": plausible("", "HT", "NOPE"),
    "active": plausible("", "1", "0", "có", "không", "x", "TRUE", "maybe"),
    "period": plausible("2026", "2026-Q1", "2026-Q2", "2026-H1", "2026-07", "2026-13", "26"),
    "dossiers": plausible("0", "1", "17", "1520", "3.0", "1.5", "-4", "1 000", "1e3"),
}


@st.composite
def table(draw: st.DrawFn, columns: tuple[str, ...]) -> list[list[str]]:
    """A header (shuffled, sometimes damaged) and up to 6 rows, sometimes with a repeated one."""
    header = list(draw(st.permutations(columns)))
    damage = draw(st.sampled_from(["none"] * 6 + ["drop", "extra", "repeat", "case", "blank"]))
    if damage == "drop" and len(header) > 1:
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif damage == "extra":
        header.append(draw(st.sampled_from(["notes", "=cmd", "", "x" * 100, "\x00"])))
    elif damage == "repeat":
        header.append(draw(st.sampled_from(header)))
    elif damage == "case":
        header = [f" {name.upper()} " for name in header]
    elif damage == "blank":
        header = []
    rows = [
        [draw(CELLS.get(name.strip().lower(), HOSTILE)) for name in header]
        for _ in range(draw(st.integers(0, 6)))
    ]
    if rows and draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), list(draw(st.sampled_from(rows))))
    if rows and draw(st.integers(0, 4)) == 0:  # a ragged row: too short or too long
        rows[-1] = rows[-1][: draw(st.integers(0, len(rows[-1])))] + draw(
            st.lists(HOSTILE, max_size=2)
        )
    return [header, *rows] if header or rows else []


@st.composite
def spreadsheet(draw: st.DrawFn, columns: tuple[str, ...], tmp: Path) -> Path:
    """The table written as CSV (BOM or not, CRLF or LF, quoted or not) or as XLSX."""
    rows = draw(table(columns))
    if draw(st.booleans()):
        buffer = io.StringIO()
        writer = csv.writer(
            buffer,
            lineterminator=draw(st.sampled_from(["\r\n", "\n"])),
            quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        )
        writer.writerows(rows)
        path = tmp / f"{uuid.uuid4().hex}.csv"
        bom = "\ufeff" if draw(st.booleans()) else ""
        path.write_bytes((bom + buffer.getvalue()).encode("utf-8"))
        return path
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append([draw(_xlsx_cell(cell)) for cell in row])
    path = tmp / f"{uuid.uuid4().hex}.xlsx"
    workbook.save(path)
    return path


def _xlsx_cell(cell: str) -> st.SearchStrategy[Any]:
    """The cell as text (without the characters XLSX cannot hold) or as another cell type."""
    clean = ILLEGAL_CHARACTERS_RE.sub("", cell)
    return st.one_of(
        st.just(clean),
        st.just(clean),
        st.just(clean),
        st.none(),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.just(datetime(2026, 7, 1, 8, 30)),
    )


def assert_unchanged_on_error(app: Flask, action: Callable[[], Any]) -> Any | None:
    """Run ``action``: it succeeds, or raises ImportFailed with errors and writes nothing."""
    before = snapshot(app)
    with app.app_context():
        try:
            return action()
        except ImportFailed as exc:
            assert exc.errors, "ImportFailed without errors"
            for error in exc.errors:
                assert error.row >= 0 and error.message
        finally:
            db.session.rollback()
    assert snapshot(app) == before, "a refused file changed the database"
    return None


# --- the catalogue imports -----------------------------------------------------------------------

_MODELS = {"units": Agency, "fields": Field, "counters": Counter, "procedures": Procedure}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_catalogue_import_stores_or_refuses_cleanly(fuzz_app, reset, tmp_path, kind):
    required, optional = COLUMNS[kind]

    @FUZZ
    @given(data=st.data())
    def run(data):
        reset()
        path = data.draw(spreadsheet((*required, *optional), tmp_path))
        summary = assert_unchanged_on_error(fuzz_app, lambda: import_file(kind, path))
        if summary is None:
            return
        _header, rows = read_rows(path)
        assert summary.created + summary.updated == len(rows)
        if kind == "lineage":  # rows of predecessor and successor codes, no names
            with fuzz_app.app_context():
                assert db.session.scalar(db.select(db.func.count(AgencyLineage.id))) == len(rows)
            return
        with fuzz_app.app_context():
            stored = {obj.code: obj for obj in db.session.scalars(db.select(_MODELS[kind]))}
            for _number, values in rows:
                assert stored[values["code"]].name_vi == values["name_vi"]

    run()


# --- the dossier-volume frame upload -------------------------------------------------------------

FRAME = ("agency_code", "field_code", "period", "dossiers")


def test_frame_upload_stores_or_refuses_cleanly(fuzz_app, reset, tmp_path):
    @FUZZ
    @given(data=st.data())
    def run(data):
        reset()
        columns = FRAME if data.draw(st.booleans()) else FRAME[:2] + FRAME[3:]
        path = data.draw(spreadsheet(columns, tmp_path))
        period = data.draw(st.one_of(st.none(), CELLS["period"]))
        result = assert_unchanged_on_error(fuzz_app, lambda: store_volume_file(path, period=period))
        if result is None:
            return
        with fuzz_app.app_context():
            stored = repository.frames.volumes(list(result.periods))
        assert len(stored) == result.cells

    run()


def test_frame_upload_of_a_huge_volume_is_a_row_error(fuzz_app, reset, tmp_path):
    """Found while writing the fuzzing above: 1e30 dossiers passed the frame checks and
    overflowed the 64-bit column on storing (OverflowError on SQLite, an error from PostgreSQL)
    instead of a row error."""
    reset()
    path = tmp_path / "frame.csv"
    path.write_text("agency_code,field_code,period,dossiers\nSTP,HT,2026,1e30\n")
    with fuzz_app.app_context(), pytest.raises(ImportFailed) as refused:
        store_volume_file(path)
    assert [(e.row, e.column) for e in refused.value.errors] == [(2, "dossiers")]
    assert snapshot(fuzz_app)["dossier_volumes"] == []


@FUZZ
@given(content=st.one_of(st.binary(max_size=300), st.text(_UTF8).map(str.encode)))
def test_any_bytes_as_a_csv_file(fuzz_app, reset, tmp_path, content):
    reset()
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(b"code,name_vi,level\n" + content)
    assert_unchanged_on_error(fuzz_app, lambda: import_file("units", path))
    broken = tmp_path / f"{uuid.uuid4().hex}.xlsx"
    broken.write_bytes(content)
    assert_unchanged_on_error(fuzz_app, lambda: store_volume_file(broken, period="2026"))


# --- the citizen form ----------------------------------------------------------------------------

_FORM_KEYS = ("e1_1", "e2_1", "e3_1", "comment", "field", "form_id", "form_version")
FORM_VALUE = st.one_of(
    st.sampled_from(["", "0", "1", "5", "6", "-1", "sipas-counter", "1", "HT", "__unknown__"]),
    HOSTILE,
    st.text(max_size=8),  # with lone surrogates, as a broken client may send
)


@FUZZ
@given(
    path=st.sampled_from(["/s/Q1", "/k/Q1", "/s/NOPE", "/s/Q1?f=HT", "/s/Q1?f=%00"]),
    fields=st.dictionaries(
        st.one_of(
            st.sampled_from(
                [*_FORM_KEYS, "response_uuid", "started", "csrf_token", "confirm_empty", "website"]
            ),
            st.text(max_size=6),
        ),
        FORM_VALUE,
        max_size=10,
    ),
    valid_state=st.booleans(),
)
def test_citizen_form_post_never_answers_5xx(fuzz_app, reset, path, fields, valid_state):
    reset()
    client = fuzz_app.test_client()
    if valid_state:
        page = client.get("/s/Q1").get_data(as_text=True)
        for name in ("response_uuid", "started", "form_id", "form_version"):
            found = page.split(f'name="{name}" value="', 1)
            if len(found) == 2:
                fields.setdefault(name, found[1].split('"', 1)[0])
    answer = client.post(path, data=fields)
    assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
