"""Units that merge, in the demo province and the reports: a merged commune's trend, period
comparison and rank change include its predecessors' responses, and the pages say so."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from analysis import Design, satisfaction_indices
from analysis.lineage import attribution
from survey.demo import MERGED_COMMUNES, MERGED_INTO, merger_day
from survey.extensions import db
from survey.models import Agency, Response
from survey.reports.cache import data_stamp
from survey.repository import load_form
from survey.repository.lineage import lineage_table
from survey.statistics import counts_from_selection, select_responses
from tests.survey.report_province import ANALYST, PASSWORD, seed_province

NOW = datetime.now(UTC)
MERGED_ON = merger_day(NOW)


def _month(day, shift: int = 0) -> str:
    index = day.year * 12 + day.month - 1 + shift
    return f"{index // 12}-{index % 12 + 1:02d}"


@pytest.fixture
def province(app: Flask) -> Flask:
    return seed_province(app, 1500, now=NOW)


@pytest.fixture
def analyst(province: Flask):
    client = province.test_client()
    result = client.post("/login", data={"username": ANALYST, "password": PASSWORD})
    assert result.status_code == 302
    return client


def _counts_by_unit(province: Flask) -> dict[str, tuple[datetime, datetime, int]]:
    with province.app_context():
        rows = db.session.execute(
            select(
                Agency.code,
                func.min(Response.submitted_at),
                func.max(Response.submitted_at),
                func.count(),
            )
            .join(Agency, Agency.id == Response.agency_id)
            .group_by(Agency.code)
        ).all()
    return {code: (first, last, n) for code, first, last, n in rows}


def _local_day(moment: datetime):
    return (moment.replace(tzinfo=moment.tzinfo or UTC) + timedelta(hours=7)).date()


def test_the_demo_has_two_levels_and_a_merger_in_its_year(province) -> None:
    with province.app_context():
        agencies = {a.code: a for a in db.session.scalars(select(Agency))}
        lineage = lineage_table()
    assert {a.level for a in agencies.values()} == {"province", "department", "commune"}
    assert sorted(lineage["predecessor_code"]) == sorted(MERGED_COMMUNES)
    assert set(lineage["successor_code"]) == {MERGED_INTO}
    assert set(lineage["effective_on"]) == {MERGED_ON}
    assert agencies[MERGED_INTO].valid_from == MERGED_ON
    assert {agencies[c].valid_until for c in MERGED_COMMUNES} == {MERGED_ON - timedelta(days=1)}
    counts = _counts_by_unit(province)
    for code in MERGED_COMMUNES:  # answered only while they existed
        assert counts[code][2] > 0 and _local_day(counts[code][1]) < MERGED_ON
    assert counts[MERGED_INTO][2] > 0 and _local_day(counts[MERGED_INTO][0]) >= MERGED_ON


def _sheet(client, url: str, name: str) -> pd.DataFrame:
    result = client.get(url)
    assert result.status_code == 200, result.get_data(as_text=True)[:300]
    book = load_workbook(io.BytesIO(result.data))
    sheet = next(book[n] for n in book.sheetnames if name in n.lower())
    rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def _monthly_responses(province: Flask, codes: list[str]) -> dict[str, int]:
    with province.app_context():
        moments = db.session.scalars(
            select(Response.submitted_at)
            .join(Agency, Agency.id == Response.agency_id)
            .where(Agency.code.in_(codes), Response.flags.not_like("%honeypot%"))
        ).all()
    months = pd.Series([m.replace(tzinfo=m.tzinfo or UTC).strftime("%Y-%m") for m in moments])
    return months.value_counts().to_dict()


def test_a_merged_communes_trend_includes_its_predecessors_months(province, analyst) -> None:
    trend = _sheet(analyst, f"/reports/units/{MERGED_INTO}?format=xlsx", "trend")
    sipas = trend[trend["level"] == "sipas"].set_index("period")
    before = [p for p in sipas.index if p < _month(MERGED_ON)]
    after = [p for p in sipas.index if p >= _month(MERGED_ON)]
    assert before and after  # months before the merger come from the predecessors
    first = _month(NOW, -11)  # the default period: the 12 months up to this one
    stored = _monthly_responses(province, [*MERGED_COMMUNES, MERGED_INTO])
    expected = {month: n for month, n in stored.items() if month >= first}
    assert {p: int(sipas.at[p, "n"]) for p in sipas.index} == expected

    english = analyst.get(f"/reports/units/{MERGED_INTO}?lang=en").get_data(as_text=True)
    names = "UBND xã Phú Thành, UBND xã Phú Lộc, UBND xã Phú Mỹ"
    spelled = [
        "Phu Thanh Commune People&#39;s Committee",
        "Phu Loc Commune People&#39;s Committee",
        "Phu My Commune People&#39;s Committee",
    ]
    assert "Includes the figures of the merged units:" in english
    assert all(name in english for name in spelled)
    assert f"(from {MERGED_ON:%d/%m/%Y})" in english
    vietnamese = analyst.get(f"/reports/units/{MERGED_INTO}?lang=vi").get_data(as_text=True)
    assert "Bao gồm số liệu của các đơn vị đã sáp nhập:" in vietnamese
    assert all(name in vietnamese for name in names.split(", "))
    assert f"(từ {MERGED_ON:%d/%m/%Y})" in vietnamese


def test_the_overview_lists_current_units_and_a_past_period_the_old_ones(province, analyst):
    current = pd.read_csv(
        io.BytesIO(analyst.get("/reports/?format=csv").data), encoding="utf-8-sig"
    )
    units = set(current["agency_code"])
    assert MERGED_INTO in units and units.isdisjoint(MERGED_COMMUNES)
    sipas = current[(current["agency_code"] == MERGED_INTO) & (current["level"] == "sipas")]
    stored = _monthly_responses(province, [*MERGED_COMMUNES, MERGED_INTO])
    all_of_them = sum(n for month, n in stored.items() if month >= _month(NOW, -11))
    assert int(sipas["n"].iloc[0]) == all_of_them
    page = analyst.get("/reports/?lang=en").get_data(as_text=True)
    assert "includes the figures of the merged units" in page

    past = f"from={_month(MERGED_ON, -3)}&to={_month(MERGED_ON, -1)}"
    before = pd.read_csv(
        io.BytesIO(analyst.get(f"/reports/?{past}&format=csv").data), encoding="utf-8-sig"
    )
    assert set(MERGED_COMMUNES) <= set(before["agency_code"])
    assert MERGED_INTO not in set(before["agency_code"])
    html = analyst.get(f"/reports/?{past}&lang=en").get_data(as_text=True)
    assert "merged units" not in html
    # a predecessor's own page in a period after the merger points to its successor
    notice = analyst.get(f"/reports/units/{MERGED_COMMUNES[0]}?lang=en").get_data(as_text=True)
    assert "was merged into An Phu Commune People&#39;s Committee" in notice


def test_rank_change_compares_the_successor_with_its_predecessors_pooled(province, analyst):
    period = f"from={_month(MERGED_ON)}&to={_month(MERGED_ON, 5)}"
    table = pd.read_csv(
        io.BytesIO(analyst.get(f"/reports/?{period}&format=csv").data), encoding="utf-8-sig"
    )
    row = table[(table["agency_code"] == MERGED_INTO) & (table["level"] == "sipas")].iloc[0]
    assert np.isfinite(row["previous"]) and np.isfinite(row["rank_previous"])
    # the previous period's figure is the three predecessors' responses pooled
    with province.app_context():
        form = load_form("sipas-counter")
        since = datetime(*map(int, _month(MERGED_ON, -6).split("-")), 1, tzinfo=UTC)
        until = datetime(MERGED_ON.year, MERGED_ON.month, 1, tzinfo=UTC)
        mapping = attribution(lineage_table(), MERGED_ON)
        selection = select_responses(
            db.session,
            form,
            since=since,
            until=until,
            exclude_flags=("honeypot",),
            successors=mapping,
        )
    assert MERGED_INTO in set(selection["agency_code"])
    assert set(selection["agency_code"]).isdisjoint(MERGED_COMMUNES)
    design = Design(strata="agency_code", lonely_psu="adjust")
    counts = counts_from_selection(selection, form, design, ["agency_code"])
    result = satisfaction_indices(counts, form, design, by=["agency_code"]).table
    pooled = result[(result["agency_code"] == MERGED_INTO) & (result["level"] == "sipas")]
    np.testing.assert_allclose(row["previous"], pooled["estimate"].iloc[0], rtol=1e-9)
    peers = table[(table["level"] == "sipas") & table["rank_previous"].notna()]
    communes = {"P_TAN_AN", "P_BINH_MINH", "X_AN_HOA", MERGED_INTO}
    assert communes <= set(peers["agency_code"])


def test_a_lineage_change_changes_the_data_stamp(province, tmp_path) -> None:
    from survey.importing import import_file

    path = tmp_path / "lineage.csv"
    path.write_text(
        "predecessor_code,successor_code,effective_on,kind\nX_AN_HOA,P_TAN_AN,2030-01-01,merge\n",
        encoding="utf-8",
    )
    with province.app_context():
        before = data_stamp()
        import_file("lineage", path)
        after = data_stamp()
        import_file("lineage", path)  # the same file again: nothing changes
        again = data_stamp()
        path.write_text(
            "predecessor_code,successor_code,effective_on,kind\n"
            "X_AN_HOA,P_TAN_AN,2031-01-01,merge\n",
            encoding="utf-8",
        )
        import_file("lineage", path)  # a changed date: the row is replaced
        changed = data_stamp()
    assert before != after == again != changed
