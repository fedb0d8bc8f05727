"""Coverage on the report pages: responses against the frame's dossiers per unit, the flag next to
the index, the columns of the downloads, and the notice when no frame covers the period.

The pages' counts are checked against the administration's coverage
(:func:`survey.repository.frames.coverage`, an independent SQL count) for units with no units
under them.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from flask import Flask
from markupsafe import escape
from openpyxl import load_workbook

from survey.repository.frames import coverage as stored_coverage
from survey.repository.frames import replace_volumes
from tests.survey.report_province import ANALYST, OTHER_CHILD, OWN, PASSWORD, seed_province

NOW = datetime.now(UTC)


def _last_quarter(now: datetime) -> tuple[str, str, str]:
    """The quarter before ``now``'s: its label and the report's ``from`` and ``to`` months."""
    first = 3 * ((now.month - 1) // 3) + 1 - 3
    year = now.year - 1 if first < 1 else now.year
    first = first + 12 if first < 1 else first
    quarter = (first - 1) // 3 + 1
    return f"{year}-Q{quarter}", f"{year}-{first:02d}", f"{year}-{first + 2:02d}"


PERIOD, FIRST, LAST = _last_quarter(NOW)
WINDOW = f"from={FIRST}&to={LAST}&exclude=none"
LOW, EXCESS = "SXD", "STP"


@pytest.fixture
def province(app: Flask) -> Flask:
    return seed_province(app, 1200, now=NOW)


@pytest.fixture
def analyst(province: Flask):
    client = province.test_client()
    answer = client.post("/login", data={"username": ANALYST, "password": PASSWORD})
    assert answer.status_code == 302
    return client


def _store_frame(province: Flask) -> dict[str, tuple[int, int]]:
    """A frame for the quarter: SXD at 0.1 %, STP with fewer dossiers than responses,
    X_AN_HOA left out, every other cell at 5 %. Returns the stored (responses, dossiers)."""
    with province.app_context():
        counted = stored_coverage(PERIOD)
        rows = []
        for unit in counted:
            if unit.agency_code == OTHER_CHILD:
                continue
            for cell in unit.cells:
                if cell.field_code is None or cell.responses == 0:
                    continue
                factor = {LOW: 1000, EXCESS: 0.5}.get(unit.agency_code, 20)
                rows.append(
                    (unit.agency_code, cell.field_code, PERIOD, int(cell.responses * factor))
                )
        replace_volumes(
            pd.DataFrame(rows, columns=["agency_code", "field_code", "period", "dossiers"])
        )
        return {u.agency_code: (u.responses, u.dossiers) for u in stored_coverage(PERIOD)}


def _csv(result) -> pd.DataFrame:
    assert result.status_code == 200, result.get_data(as_text=True)[:500]
    return pd.read_csv(io.BytesIO(result.data), encoding="utf-8-sig", keep_default_na=False)


def _row_html(html: str, name: str) -> str:
    row = re.search(rf">{re.escape(str(escape(name)))}</a></th>(.*?)</tr>", html, re.S)
    assert row is not None, name
    return row.group(1)


def _name(province: Flask, code: str) -> str:
    from survey import repository

    with province.app_context():
        agency = repository.get_agency(code)
        return agency.name_en or agency.name_vi


def test_without_a_frame_the_pages_say_coverage_is_unknown(analyst) -> None:
    html = analyst.get(f"/reports/?{WINDOW}&lang=en").get_data(as_text=True)
    assert "Response rate unknown: no dossier-volume frame covers" in html
    assert "Administration › Dossier volumes" in html
    assert "low coverage" not in html
    unit = analyst.get(f"/reports/units/{OWN}?{WINDOW}&lang=en").get_data(as_text=True)
    assert "Response rate unknown" in unit
    vi = analyst.get(f"/reports/?{WINDOW}&lang=vi").get_data(as_text=True)
    assert "Chưa biết tỷ lệ trả lời" in vi
    table = _csv(analyst.get(f"/reports/?{WINDOW}&format=csv"))
    assert {"responses", "dossiers", "coverage", "coverage_flag"} <= set(table.columns)
    assert (table["coverage"] == "").all() and (table["coverage_flag"] == "").all()


def test_the_overview_shows_each_units_response_rate_and_flags(province, analyst) -> None:
    stored = _store_frame(province)
    table = _csv(analyst.get(f"/reports/?{WINDOW}&format=csv"))
    sipas = table[table["level"] == "sipas"].set_index("agency_code")
    for code in (LOW, EXCESS, "P_TAN_AN", OTHER_CHILD):
        responses, dossiers = stored[code]
        assert int(sipas.at[code, "responses"]) == responses, code
        if dossiers:
            assert float(sipas.at[code, "dossiers"]) == dossiers, code
            assert float(sipas.at[code, "coverage"]) == pytest.approx(responses / dossiers)
    assert sipas.at[LOW, "coverage_flag"] == "low"
    assert float(sipas.at[LOW, "coverage"]) == pytest.approx(0.001, rel=0.01)
    assert sipas.at[EXCESS, "coverage_flag"] == "excess"
    assert sipas.at["P_TAN_AN", "coverage_flag"] == ""
    assert float(sipas.at["P_TAN_AN", "coverage"]) == pytest.approx(0.05, rel=0.05)
    assert sipas.at[OTHER_CHILD, "coverage_flag"] == "not_in_frame"
    assert sipas.at[OTHER_CHILD, "coverage"] == ""
    # every row of a unit carries its unit's coverage
    low_rows = table[table["agency_code"] == LOW]
    assert len(low_rows) > 1 and set(low_rows["coverage_flag"]) == {"low"}

    html = analyst.get(f"/reports/?{WINDOW}&lang=en").get_data(as_text=True)
    assert ">Response rate</th>" in html
    assert "Response rate: responses per 100 dossiers" in html
    low = _row_html(html, _name(province, LOW))
    assert 'class="cov cov-low"' in low and "low coverage" in low
    assert "0.1%" in low
    excess = _row_html(html, _name(province, EXCESS))
    assert 'class="cov cov-excess"' in excess and "check volumes" in excess
    plain = _row_html(html, _name(province, "P_TAN_AN"))
    assert 'class="cov' not in plain and re.search(r">\d\.\d%</span>", plain)
    missing = _row_html(html, _name(province, OTHER_CHILD))
    assert "not in the frame" in missing
    vi = analyst.get(f"/reports/?{WINDOW}&lang=vi").get_data(as_text=True)
    assert "Tỷ lệ trả lời" in vi and "độ bao phủ thấp" in vi


def test_the_unit_page_shows_its_response_rate(province, analyst) -> None:
    stored = _store_frame(province)
    html = analyst.get(f"/reports/units/{LOW}?{WINDOW}&lang=en").get_data(as_text=True)
    responses, dossiers = stored[LOW]
    assert f"Response rate: 0.1% ({responses:,} responses, {dossiers:,} dossiers)" in html
    assert 'class="cov cov-low"' in html
    parent = analyst.get(f"/reports/units/{OWN}?{WINDOW}&lang=en").get_data(as_text=True)
    assert ">Response rate</th>" in parent  # the units under it
    assert "Response rate:" in parent
    book = load_workbook(io.BytesIO(analyst.get(f"/reports/units/{LOW}?{WINDOW}&format=xlsx").data))
    sheet = book["indices"]
    header = [c.value for c in sheet[1]]
    assert {"responses", "dossiers", "coverage", "coverage_flag"} <= set(header)
    column = header.index("coverage")
    cell = sheet.cell(row=2, column=column + 1)
    assert cell.number_format == "0.0%" and cell.value == pytest.approx(responses / dossiers)
    assert sheet.cell(row=2, column=header.index("coverage_flag") + 1).value == "low"


def test_the_field_filter_sets_the_fields_responses_against_its_dossiers(province, analyst):
    _store_frame(province)
    with province.app_context():
        units = {u.agency_code: u for u in stored_coverage(PERIOD)}
    cell = next(c for c in units["P_TAN_AN"].cells if c.dossiers)
    table = _csv(analyst.get(f"/reports/?{WINDOW}&field={cell.field_code}&format=csv"))
    row = table[(table["agency_code"] == "P_TAN_AN") & (table["level"] == "sipas")].iloc[0]
    assert int(row["responses"]) == cell.responses and float(row["dossiers"]) == cell.dossiers


def test_the_method_page_explains_the_response_rate(analyst) -> None:
    en = analyst.get("/reports/method?lang=en").get_data(as_text=True)
    assert "The response rate (coverage)" in en and "fewer than 1% of its dossiers" in en
    vi = analyst.get("/reports/method?lang=vi").get_data(as_text=True)
    assert "Tỷ lệ trả lời (độ bao phủ)" in vi
