"""The officials' report pages: access by role and unit, parameters, downloads, figures.

The figures are checked against ``sipas analyze`` run on ``sipas export responses``; access is
checked by requesting every report URL and format as a signed-out visitor and as officials of
other units.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, update

from survey import repository
from survey.extensions import db
from survey.models import Response
from tests.survey.report_province import (
    ANALYST,
    OFFICIAL,
    OTHER,
    OTHER_CHILD,
    OWN,
    OWN_CHILD,
    PASSWORD,
    seed_province,
)

NOW = datetime.now(UTC)
YEAR = f"from={NOW.year - 1}-{NOW.month:02d}&to={NOW.year}-{NOW.month:02d}"


@pytest.fixture
def province(app: Flask) -> Flask:
    """The demo province with responses over the last 12 months and three accounts."""
    return seed_province(app, 1200, now=NOW)


def _login(client, username: str) -> None:
    result = client.post("/login", data={"username": username, "password": PASSWORD})
    assert result.status_code == 302, result.get_data(as_text=True)


@pytest.fixture
def analyst(province: Flask):
    client = province.test_client()
    _login(client, ANALYST)
    return client


@pytest.fixture
def official(province: Flask):
    client = province.test_client()
    _login(client, OFFICIAL)
    return client


def _csv(result) -> pd.DataFrame:
    assert result.status_code == 200, result.get_data(as_text=True)[:500]
    assert result.headers["Content-Type"].startswith("text/csv")
    return pd.read_csv(io.BytesIO(result.data), encoding="utf-8-sig", keep_default_na=False)


PAGES = ["/reports/", f"/reports/units/{OWN}", "/reports/fields/HO_TICH", "/reports/par"]


@pytest.mark.parametrize("path", [*PAGES, "/reports/method"])
def test_signed_out_pages_redirect_to_the_sign_in_page(client, path: str) -> None:
    result = client.get(path)
    assert result.status_code == 302
    assert result.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_signed_out_downloads_get_401(client, path: str, fmt: str) -> None:
    assert client.get(f"{path}?format={fmt}").status_code == 401


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("fmt", ["html", "csv", "xlsx", "print"])
def test_every_page_and_format_answers_the_analyst(analyst, path: str, fmt: str) -> None:
    result = analyst.get(f"{path}?format={fmt}")
    assert result.status_code == 200, result.get_data(as_text=True)[:800]
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(result.data))
        assert "Notes" in book.sheetnames
        notes = {row[0].value: row[1].value for row in book["Notes"].iter_rows()}
        assert "design" in notes and "reliability rule" in notes and "software" in notes
        first = book[book.sheetnames[0]]
        assert first.freeze_panes == "A2"


OTHER_URLS = [
    f"/reports/units/{OTHER}",
    f"/reports/units/{OTHER_CHILD}",
    f"/reports/units/{OTHER}?format=csv",
    f"/reports/units/{OTHER}?format=xlsx",
    f"/reports/units/{OTHER}?format=print",
    f"/reports/units/{OTHER}?q=a",
    f"/reports/?unit={OTHER}",
    f"/reports/?unit={OTHER}&format=csv",
    f"/reports/fields/HO_TICH?unit={OTHER}&format=xlsx",
    f"/reports/par?unit={OTHER}&format=csv",
    "/reports/units/NO_SUCH_UNIT",
]


@pytest.mark.parametrize("url", OTHER_URLS)
def test_an_official_cannot_reach_another_unit(official, url: str) -> None:
    assert official.get(url).status_code == 404


def _names_of(province: Flask, codes: list[str]) -> list[str]:
    with province.app_context():
        return [repository.get_agency(c).name_vi for c in codes]


@pytest.mark.parametrize("path", PAGES)
def test_an_official_sees_only_their_subtree_and_the_province(province, official, path) -> None:
    if path == f"/reports/units/{OWN}":
        pass
    html = official.get(path).get_data(as_text=True)
    table = _csv(official.get(f"{path}{'&' if '?' in path else '?'}format=csv"))
    others = [a.code for a in _agencies(province) if a.code not in (OWN, OWN_CHILD, "DEMO")]
    for name in _names_of(province, others):
        assert name not in html
    if "agency_code" in table.columns:
        assert set(table["agency_code"]) <= {OWN, OWN_CHILD, "DEMO"}


def _agencies(province: Flask):
    with province.app_context():
        return repository.list_agencies()


def test_the_official_sees_own_unit_and_comments(official) -> None:
    result = official.get(f"/reports/units/{OWN}")
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "SIPAS" in html and "Ý kiến góp ý" in html


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=2026-13", "from"),
        ("to=26-01", "to"),
        ("from=2026-06&to=2026-01", "from"),
        ("channel=fax", "channel"),
        ("weights=magic", "weights"),
        ("ci=bayes", "ci"),
        ("level=2", "level"),
        ("level=x", "level"),
        ("exclude=spam", "exclude"),
        ("format=pdf", "format"),
        ("colour=red", "colour"),
        ("field=NOPE", "field"),
        ("form=nope", "form"),
        ("sort=height", "sort"),
        ("ci=logit&ci=beta", "ci"),
    ],
)
def test_bad_parameters_get_a_clear_400(analyst, query: str, parameter: str) -> None:
    result = analyst.get(f"/reports/?{query}", headers={"Accept": "application/json"})
    assert result.status_code == 400
    error = result.get_json()["error"]
    assert error["code"] == "bad_parameter" and error["parameter"] == parameter
    page = analyst.get(f"/reports/?{query}")
    assert page.status_code == 400 and "Tham số" in page.get_data(as_text=True)


def test_every_page_names_its_design_and_links_the_method(analyst) -> None:
    for path in PAGES:
        html = analyst.get(path).get_data(as_text=True)
        assert "Thiết kế" in html, path
        assert 'href="/reports/method"' in html, path
    method = analyst.get("/reports/method?lang=en").get_data(as_text=True)
    assert "Why every figure has an interval" in method


def test_the_overview_draws_every_unit_on_the_funnel_plot(analyst) -> None:
    """One funnel point per unit with an index: its SIPAS estimate against its n_eff, as the
    download has them; the 95 % and 99.8 % limits around the province are labelled."""
    html = analyst.get(f"/reports/?{YEAR}&lang=en").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*class="[^"]*funnel.*?</svg>', html, re.S)
    assert svg is not None and "95% limits" in svg.group(0) and "99.8% limits" in svg.group(0)
    marks = re.findall(r'data-n="([^"]+)" data-estimate="([^"]+)"', svg.group(0))
    table = _csv(analyst.get(f"/reports/?{YEAR}&format=csv"))
    units = table[(table["level"] == "sipas") & (table["agency_code"] != "DEMO")]
    units = units[units["estimate"].astype(str) != ""]
    assert len(marks) == len(units) > 2
    got = sorted((float(n), float(e)) for n, e in marks)
    pairs = zip(units["n_eff"].astype(float), units["estimate"].astype(float), strict=True)
    want = sorted(pairs)
    np.testing.assert_allclose(np.array(got), np.array(want), atol=0.01)


def test_filters_are_kept_in_the_links(analyst) -> None:
    html = analyst.get(f"/reports/?{YEAR}&channel=counter_qr&level=0.9").get_data(as_text=True)
    link = re.search(r'href="(/reports/units/STP\?[^"]+)"', html)
    assert link is not None
    assert "channel=counter_qr" in link.group(1) and "level=0.9" in link.group(1)


def test_suppressed_estimates_are_shown_greyed_with_the_reason(province, analyst) -> None:
    with province.app_context():
        keep = db.session.scalars(
            select(Response.id).join(Response.agency).where(Response.agency.has(code="SXD"))
        ).all()[:20]
        db.session.execute(
            update(Response)
            .where(Response.agency.has(code="SXD"), Response.id.not_in(keep))
            .values(flags="honeypot")
        )
        db.session.commit()
    html = analyst.get("/reports/").get_data(as_text=True)
    row = re.search(r"Sở Xây dựng</a></th>(.*?)</tr>", html, re.S)
    assert row is not None and 'class="rel rel-s"' in row.group(1)
    table = _csv(analyst.get("/reports/?format=csv"))
    sxd = table[(table["agency_code"] == "SXD") & (table["level"] == "sipas")].iloc[0]
    assert str(sxd["suppressed"]) == "True" and sxd["suppression_reason"]


def test_comments_are_searchable_and_personal_numbers_masked(province, official) -> None:
    with province.app_context():
        ids = db.session.scalars(
            select(Response.id)
            .where(Response.agency.has(code=OWN_CHILD), Response.flags == "")
            .order_by(Response.submitted_at.desc())
        ).all()
        db.session.execute(
            update(Response)
            .where(Response.id == ids[0])
            .values(comment="Cán bộ nhiệt tình, gọi tôi 0912 345 678 nếu cần")
        )
        db.session.commit()
    html = official.get(f"/reports/units/{OWN}?q=nhiệt tình").get_data(as_text=True)
    assert "Cán bộ nhiệt tình" in html
    assert "0912 345 678" not in html and "•78" in html


def test_formula_text_is_neutralised_in_downloads(province, analyst) -> None:
    with province.app_context():
        agency = repository.get_agency("STP")
        agency.name_vi = '=HYPERLINK("http://x","y")'
        db.session.commit()
    table = _csv(analyst.get("/reports/?format=csv"))
    names = set(table["agency_name"])
    assert '\'=HYPERLINK("http://x","y")' in names
    book = load_workbook(io.BytesIO(analyst.get("/reports/?format=xlsx").data))
    cells = [c.value for row in book["indices"].iter_rows() for c in row]
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)


def test_page_figures_equal_sipas_analyze_on_the_export(province, analyst, runner, tmp_path):
    """Leaf units (no units under them): the page's figures are sipas analyze's, to 1e-9."""
    export = tmp_path / "export.csv"
    assert runner.invoke(["export", "responses", "--out", str(export)]).exit_code == 0
    out = tmp_path / "analyze.csv"
    result = runner.invoke(
        [
            "analyze",
            str(export),
            "--form",
            "sipas-counter",
            "--by",
            "agency_code",
            "--strata",
            "agency_code",
            "--lonely-psu",
            "adjust",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    reference = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    window = f"from={NOW.year - 2}-01&to={NOW.year}-{NOW.month:02d}"
    page = _csv(analyst.get(f"/reports/?{window}&exclude=none&format=csv"))
    leaves = ["STP", "SXD", OWN_CHILD, OTHER_CHILD]
    keys = ["agency_code", "level", "indicator"]
    got = page[page["agency_code"].isin(leaves)].sort_values(keys).reset_index(drop=True)
    want = reference[reference["agency_code"].isin(leaves)].sort_values(keys)
    want = want.reset_index(drop=True)
    assert len(got) == len(want) > 0
    assert list(got["indicator"]) == list(want["indicator"])
    for column in ("estimate", "se", "ci_low", "ci_high", "n", "n_eff"):
        np.testing.assert_allclose(
            got[column].astype(float),
            want[column].astype(float),
            rtol=1e-9,
            atol=1e-9,
            err_msg=column,
        )


def test_counters_of_units_below_name_their_unit(province, analyst) -> None:
    """Every unit has its own "Quầy số 1": on a department's page the by-counter table tells
    the department's counters from its office's."""
    book = load_workbook(io.BytesIO(analyst.get(f"/reports/units/{OWN}?format=xlsx").data))
    sheet = next(book[n] for n in book.sheetnames if "counter" in n.lower())
    header = [c.value for c in sheet[1]]
    names = {
        row[header.index("counter_name")] for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert names, "the department has counters with responses"
    own = [n for n in names if " · " not in n]
    below = [n for n in names if " · " in n]
    assert own and below
    assert len(names) == len(set(names))
    assert {n.split(" · ")[1] for n in below} == set(_names_of(province, [OWN_CHILD])), below


def test_the_unit_page_shows_key_drivers_and_the_importance_performance_grid(analyst) -> None:
    page = analyst.get(f"/reports/units/{OWN}?lang=en").get_data(as_text=True)
    assert "Importance and performance of the criteria" in page
    assert "Concentrate here" in page
    book = load_workbook(io.BytesIO(analyst.get(f"/reports/units/{OWN}?format=xlsx").data))
    sheet = next(book[n] for n in book.sheetnames if "driver" in n.lower())
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert {"criterion", "importance", "performance", "quadrant", "r2", "n"} <= set(header)
    importance = [r[header.index("importance")] for r in rows]
    assert len(rows) >= 2 and all(value >= 0 for value in importance)
    # within each factor's model the importances add up to its R² (Shapley decomposition)
    frame = pd.DataFrame(rows, columns=header)
    sums = frame.groupby("model")["importance"].sum()
    r2 = frame.groupby("model")["r2"].first()
    pd.testing.assert_series_equal(sums, r2, check_names=False, atol=1e-9)


def test_the_default_overview_is_warmed_before_anyone_asks(province, make_app) -> None:
    """A worker's first request starts a background build of the default overview; the first
    official's overview then comes from the cache (nothing new is built for it)."""
    from survey.reports import warmup
    from survey.reports.context import report_cache

    worker = make_app()  # a new process on the seeded database
    warmup.install(worker)  # testing apps do not install it themselves
    client = worker.test_client()
    assert client.get("/healthz").status_code == 200
    worker.extensions["sipas_report_warmup"].join(timeout=60)
    with worker.app_context():
        cache = report_cache()
    built = cache.misses
    assert built >= 3  # the selections, count tables and figures
    _login(client, ANALYST)
    assert client.get("/reports/").status_code == 200
    assert cache.misses == built
