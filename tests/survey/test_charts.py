"""The server-side SVG charts of the report pages (``survey.reports.charts``).

Each chart is parsed with ``xml.etree.ElementTree`` and its geometry checked against the data:
marks sit where their values put them on the axis, intervals end at their bounds, funnel limits
close in on the centre as n grows, trend lines break at missing periods. The browser test renders
every chart in headless Chromium at phone and laptop widths, writes screenshots under
``tests/output/charts/`` and checks rendered size, text size and that no text leaves the chart.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from survey.reports import charts
from survey.reports.charts import (
    Bar,
    FunnelLimit,
    FunnelPoint,
    IntervalPoint,
    IpaPoint,
    TrendPoint,
)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<script>&"'
HERE = Path(__file__).parent
CSS = HERE.parents[1] / "survey" / "static" / "charts.css"
OUTPUT = HERE.parents[1] / "tests" / "output" / "charts"


def parse(svg: Markup) -> ET.Element:
    """The chart's root element (fails the test if the markup is not well-formed XML)."""
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))


def all_of(root: ET.Element, tag: str) -> list[ET.Element]:
    return list(root.iter(SVG + tag))


def with_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [el for el in root.iter() if cls in el.get("class", "").split()]


def f(el: ET.Element, name: str) -> float:
    return float(el.get(name, "nan"))


def polyline_points(el: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in el.get("points", "").split()]  # type: ignore[misc]


def number(text: str | None) -> float:
    """A tick label written the Vietnamese way (``1.000``, ``0,5``) as a float."""
    return float((text or "nan").replace(".", "").replace(",", "."))


def tick_positions(root: ET.Element) -> dict[float, float]:
    """Tick label value -> x, for the horizontal axis of a chart."""
    return {number(t.text): f(t, "x") for t in with_class(root, "tick")}


def axis_map(root: ET.Element) -> Callable[[float], float]:
    """The linear value -> x map implied by the first and last tick labels."""
    ticks = sorted(tick_positions(root).items())
    (v0, x0), (v1, x1) = ticks[0], ticks[-1]
    return lambda value: x0 + (value - v0) * (x1 - x0) / (v1 - v0)


# ------------------------------------------------------------------------------------------------
# Data


def interval_points() -> list[IntervalPoint]:
    return [
        IntervalPoint(
            "Sở Tư pháp",
            87.2,
            85.1,
            89.0,
            "Sở Tư pháp: 87.2 (85.1–89.0), n = 412",
            mark="above",
            href="/reports/units/STP",
        ),
        IntervalPoint(
            "Sở Lao động - Thương binh và Xã hội tỉnh An Giang",
            80.4,
            76.0,
            84.1,
            "80.4 (76.0–84.1), n = 120",
            mark="same",
        ),
        IntervalPoint(NASTY, 71.5, 64.2, 78.0, f"{NASTY}: 71.5", mark="below"),
        IntervalPoint("UBND xã Mỹ Hòa Hưng", 75.0, 55.0, 90.0, "75.0, n = 12", muted=True),
        IntervalPoint("Sở Y tế", 83.0, 80.0, 86.0, "Sở Y tế: 83.0"),
    ]


def ranked(**kwargs: Any) -> Markup:
    args: dict[str, Any] = dict(
        center=82.0,
        center_label="Toàn tỉnh: 82,0",
        title="Chỉ số SIPAS theo đơn vị",
        description="Mỗi hàng là một đơn vị: điểm là ước tính, thanh là khoảng tin cậy 95%.",
        axis_label="Chỉ số SIPAS (%), khoảng tin cậy 95%",
        mark_labels={
            "above": "Cao hơn tỉnh",
            "same": "Không khác biệt",
            "below": "Thấp hơn tỉnh",
            "none": "Chưa so sánh",
        },
        muted_label="Không đủ tin cậy",
        lang="vi",
    )
    args.update(kwargs)
    return charts.ranked_intervals_svg(args.pop("points", interval_points()), **args)


def limit_table(center: float, levels: tuple[float, ...] = (0.95, 0.998)) -> list[FunnelLimit]:
    """Normal-approximation limits of a proportion (in %) around ``center`` at many n."""
    z = {0.95: 1.959964, 0.998: 3.090232}
    rows = []
    for k in range(60):
        n = 8 * 1.12**k
        se = math.sqrt(center * (100 - center) / n)
        for level in levels:
            rows.append(
                FunnelLimit(
                    n, level, max(0.0, center - z[level] * se), min(100.0, center + z[level] * se)
                )
            )
    return rows


def funnel_points() -> list[FunnelPoint]:
    return [
        FunnelPoint(
            "Sở Tư pháp",
            412,
            90.5,
            "Sở Tư pháp: 90.5, n = 412",
            "above_998",
            href="/reports/units/STP",
        ),
        FunnelPoint("Sở Y tế", 150, 88.0, "88.0, n = 150", "above_95"),
        FunnelPoint(NASTY, 60, 80.0, f"{NASTY}: 80.0", "within"),
        FunnelPoint("UBND huyện Phú Tân", 900, 79.0, "79.0, n = 900", "below_95"),
        FunnelPoint("UBND xã Vĩnh Thạnh Trung", 2500, 76.0, "76.0, n = 2500", "below_998"),
        FunnelPoint("UBND xã Mỹ Hòa Hưng", 14, 70.0, "70.0, n = 14", "within", muted=True),
    ]


def funnel(**kwargs: Any) -> Markup:
    args: dict[str, Any] = dict(
        center=82.0,
        title="Phễu SIPAS",
        description="Chỉ số của mỗi đơn vị theo cỡ mẫu, với giới hạn 95% và 99,8%.",
        x_label="Cỡ mẫu n (thang log)",
        y_label="Chỉ số SIPAS (%)",
        limit_labels={0.95: "Giới hạn 95%", 0.998: "Giới hạn 99,8%"},
        center_label="Toàn tỉnh",
        position_labels={
            "above_998": "Cao hơn rõ rệt",
            "above_95": "Cao hơn",
            "within": "Trong giới hạn",
            "below_95": "Thấp hơn",
            "below_998": "Thấp hơn rõ rệt",
        },
        muted_label="Không đủ tin cậy",
        lang="vi",
    )
    args.update(kwargs)
    points = args.pop("points", funnel_points())
    limits = args.pop("limits", limit_table(args["center"]))
    return charts.funnel_svg(points, limits, **args)


def trend_points() -> list[TrendPoint]:
    """Twelve months: a gap in months 5-6 (no estimate), a muted month 9, a lone month 11."""
    rows = []
    for month in range(1, 13):
        label = f"{month:02d}/2026"
        if month in (5, 6, 10):
            rows.append(TrendPoint(label, None, None, None, f"{label}: không có dữ liệu"))
            continue
        estimate = 78.0 + month
        rows.append(
            TrendPoint(
                label,
                estimate,
                estimate - 3,
                estimate + 2.5,
                f"{label}: {estimate}",
                muted=month == 9,
            )
        )
    rows[0] = TrendPoint("01/2026", 79.0, 76.0, 81.5, f"01/2026 {NASTY}")
    return rows


def trend(**kwargs: Any) -> Markup:
    args: dict[str, Any] = dict(
        title="Xu hướng chỉ số SIPAS",
        description="Chỉ số theo tháng với dải khoảng tin cậy 95%.",
        y_label="Chỉ số SIPAS (%)",
        band_label="Khoảng tin cậy 95%",
        line_label="Ước tính",
        muted_label="Không đủ tin cậy",
        lang="vi",
    )
    args.update(kwargs)
    return charts.trend_svg(args.pop("points", trend_points()), **args)


def ipa_points() -> list[IpaPoint]:
    return [
        IpaPoint("Tiếp cận dịch vụ", 88.0, 0.10, "Tiếp cận dịch vụ: 88.0; 0.10"),
        IpaPoint("Thủ tục hành chính", 72.0, 0.30, "Thủ tục hành chính: 72.0; 0.30"),
        IpaPoint(NASTY, 74.0, 0.12, f"{NASTY}: 74.0; 0.12"),
        IpaPoint("Kết quả giải quyết", 90.0, 0.28, "Kết quả giải quyết: 90.0; 0.28"),
    ]


IPA_QUADRANTS = ("Tập trung cải thiện", "Tiếp tục duy trì", "Ưu tiên thấp", "Có thể dư thừa")


def ipa(**kwargs: Any) -> Markup:
    points = kwargs.pop("points", ipa_points())
    args: dict[str, Any] = dict(
        x_cross=sum(p.performance for p in points) / len(points),
        y_cross=sum(p.importance for p in points) / len(points),
        title="Tầm quan trọng và mức độ hài lòng",
        description="Mỗi điểm là một tiêu chí.",
        x_label="Mức độ hài lòng (%)",
        y_label="Tầm quan trọng",
        quadrant_labels=IPA_QUADRANTS,
        lang="vi",
    )
    args.update(kwargs)
    return charts.importance_performance_svg(points, **args)


def bar_list() -> list[Bar]:
    return [
        Bar("Đất đai", 72.0, 68.0, 76.0, "Đất đai: 72.0 (68.0–76.0), n = 310"),
        Bar(NASTY, 91.0, 88.5, 93.0, f"{NASTY}: 91.0"),
        Bar("Xây dựng", 65.0, 50.0, 78.0, "Xây dựng: 65.0, n = 14", muted=True),
        Bar("Lao động - Thương binh và Xã hội", 80.0, 77.0, 83.0, "80.0"),
    ]


def bars(**kwargs: Any) -> Markup:
    args: dict[str, Any] = dict(
        title="Chỉ số SIPAS theo lĩnh vực",
        description="Mỗi thanh là một lĩnh vực thủ tục.",
        axis_label="Chỉ số SIPAS (%), khoảng tin cậy 95%",
        muted_label="Không đủ tin cậy",
        lang="vi",
    )
    args.update(kwargs)
    return charts.bars_svg(args.pop("bars", bar_list()), **args)


COMMUNES = (
    "UBND xã Vĩnh Thạnh Trung",
    "UBND phường Mỹ Bình",
    "UBND thị trấn Chợ Vàm",
    "Trung tâm Phục vụ hành chính công tỉnh An Giang",
    "Sở Nông nghiệp và Phát triển nông thôn",
    NASTY,
)


def ranked_long(**kwargs: Any) -> Markup:
    """Thirty rows of long names, as on a province's commune list."""
    points = [
        IntervalPoint(
            f"{COMMUNES[i % len(COMMUNES)]} {i + 1}",
            60.0 + i,
            55.0 + i * 1.1,
            min(100.0, 63.0 + i),
            f"{i}",
            mark=("above", "same", "below", "none")[i % 4],
            muted=i % 7 == 3,
            href=f"/reports/units/C{i}",
        )
        for i in range(30)
    ]
    return ranked(points=points, center=75.5, center_label="Toàn tỉnh: 75,5", **kwargs)


def trend_long(**kwargs: Any) -> Markup:
    """Thirty-six months: labels must thin out."""
    labels = [f"{m % 12 + 1:02d}/{2024 + m // 12}" for m in range(36)]
    points = [
        TrendPoint(
            label,
            80.0 + 5 * math.sin(i / 4),
            77.0 + 5 * math.sin(i / 4),
            83.0 + 5 * math.sin(i / 4),
            f"{label} {NASTY}",
            muted=i in (20, 21),
        )
        for i, label in enumerate(labels)
    ]
    return trend(points=points, **kwargs)


CHARTS: dict[str, Callable[..., Markup]] = {
    "ranked_long": ranked_long,
    "trend_long": trend_long,
    "ranked": ranked,
    "funnel": funnel,
    "trend": trend,
    "ipa": ipa,
    "bars": bars,
}
CHARTS_TITLES = {
    "ranked_long": "Chỉ số SIPAS theo đơn vị",
    "trend_long": "Xu hướng chỉ số SIPAS",
    "ranked": "Chỉ số SIPAS theo đơn vị",
    "funnel": "Phễu SIPAS",
    "trend": "Xu hướng chỉ số SIPAS",
    "ipa": "Tầm quan trọng và mức độ hài lòng",
    "bars": "Chỉ số SIPAS theo lĩnh vực",
}


# ------------------------------------------------------------------------------------------------
# Every chart


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_an_accessible_scalable_image(name: str) -> None:
    root = parse(CHARTS[name]())
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("height") is None
    x0, y0, width, height = map(float, root.get("viewBox", "").split())
    assert (x0, y0, width) == (0, 0, charts.VIEW_WIDTH) and height > 100
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    assert title.text == CHARTS_TITLES[name] and desc.text
    assert root.get("lang") == "vi"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_has_no_inline_style(name: str) -> None:
    svg = str(CHARTS[name]())
    root = parse(Markup(svg))
    assert not all_of(root, "style")
    assert all("style" not in el.attrib for el in root.iter())
    assert "style=" not in svg and "<style" not in svg


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_escapes_labels(name: str) -> None:
    svg = str(CHARTS[name]())
    assert "<script>" not in svg
    assert "&lt;script&gt;&amp;&#34;" in svg
    root = parse(Markup(svg))
    texts = ["".join(el.itertext()) for el in root.iter()]
    assert any(NASTY in text for text in texts)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_text_is_readable_on_a_phone(name: str) -> None:
    root = parse(CHARTS[name]())
    sizes = {f(el, "font-size") for el in all_of(root, "text")}
    assert sizes == {charts.FONT_SIZE}
    assert charts.FONT_SIZE / charts.VIEW_WIDTH * (375 - 4 * 16) >= 11


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_ids_differ_between_charts_and_can_be_set(name: str) -> None:
    first = parse(CHARTS[name]()).get("id")
    other = parse(CHARTS[name](title="Another title")).get("id")
    assert first != other
    assert parse(CHARTS[name](chart_id="mine")).get("id") == "mine"


# ------------------------------------------------------------------------------------------------
# 1. Ranked intervals


def test_ranked_rows_follow_the_given_order_with_one_tooltip_each() -> None:
    points = interval_points()
    root = parse(ranked(points=points))
    rows = with_class(root, "row")
    assert len(rows) == len(points)
    mids = [f(with_class(row, "interval")[0], "y1") for row in rows]
    assert mids == sorted(mids)
    titles = [row.find(SVG + "title").text for row in rows]  # type: ignore[union-attr]
    assert titles[0] == "Sở Tư pháp: 87.2 (85.1–89.0), n = 412"
    # A label the tooltip does not name is put in front of it.
    assert titles[1].startswith("Sở Lao động - Thương binh và Xã hội tỉnh An Giang\n")


def test_ranked_marks_and_bars_sit_at_their_values_on_the_axis() -> None:
    points = interval_points()
    root = parse(ranked(points=points))
    x_of = axis_map(root)
    for row, point in zip(with_class(root, "row"), points, strict=True):
        bar = with_class(row, "interval")[0]
        assert f(bar, "x1") == pytest.approx(x_of(point.low), abs=0.02)
        assert f(bar, "x2") == pytest.approx(x_of(point.high), abs=0.02)
        mark = with_class(row, "mark")[0]
        x = f(mark, "cx") if mark.tag == SVG + "circle" else polyline_points(mark)[0][0]
        assert x == pytest.approx(x_of(point.estimate), abs=0.02)
    centre = with_class(root, "center")[0]
    assert f(centre, "x1") == pytest.approx(x_of(82.0), abs=0.02)


def test_ranked_axis_has_four_to_six_round_ticks_covering_the_data() -> None:
    root = parse(ranked())
    ticks = sorted(tick_positions(root))
    assert 4 <= len(ticks) <= 6
    assert ticks[0] <= 55.0 and ticks[-1] >= 90.0
    assert ticks[0] >= 0 and ticks[-1] <= 100
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1


def test_ranked_axis_takes_given_ends() -> None:
    root = parse(ranked(lo=0.0, hi=100.0))
    ticks = sorted(tick_positions(root))
    assert ticks[0] == 0 and ticks[-1] == 100 and 4 <= len(ticks) <= 6


def test_ranked_draws_mark_shapes_and_muted_rows_distinctly() -> None:
    root = parse(ranked())
    rows = with_class(root, "row")
    above, same, below, muted, plain = (with_class(row, "mark")[0] for row in rows)
    assert above.tag == below.tag == SVG + "polygon"
    # ▲ points up (apex above the centre line), ▼ points down.
    above_y = [y for _, y in polyline_points(above)]
    below_y = [y for _, y in polyline_points(below)]
    assert above_y[0] == min(above_y) and below_y[0] == max(below_y)
    assert same.tag == SVG + "circle"
    for diamond in (plain, muted):  # ◆, hollow when muted
        assert diamond.tag == SVG + "polygon" and len(polyline_points(diamond)) == 4
    assert len({above.get("fill"), same.get("fill"), below.get("fill"), plain.get("fill")}) == 4
    assert "muted" in muted.get("class", "") and muted.get("fill") == "#ffffff"
    assert with_class(rows[3], "interval")[0].get("stroke-dasharray")
    assert with_class(rows[0], "interval")[0].get("stroke-dasharray") is None


def test_ranked_links_rows_with_href_only() -> None:
    root = parse(ranked())
    links = all_of(root, "a")
    assert [a.get("href") for a in links] == ["/reports/units/STP"]
    assert "row" in links[0][0].get("class", "")


def test_ranked_wraps_long_labels_in_two_lines_at_most() -> None:
    root = parse(ranked())
    for label in with_class(root, "row-label"):
        lines = [t.text or "" for t in label.iter(SVG + "tspan")]
        assert 1 <= len(lines) <= 2
        assert all(charts._text_width(line) <= 200 for line in lines)
    long_label = with_class(with_class(root, "row")[1], "row-label")[0]
    assert "".join(long_label.itertext()).endswith("…")


def test_ranked_legend_lists_the_marks_used() -> None:
    root = parse(ranked())
    legend = " ".join(t.text or "" for t in with_class(root, "legend-label"))
    for text in ("Cao hơn tỉnh", "Không khác biệt", "Thấp hơn tỉnh", "Không đủ tin cậy"):
        assert text in legend
    root = parse(ranked(points=interval_points()[:1]))
    assert [t.text for t in with_class(root, "legend-label")] == ["Cao hơn tỉnh"]


def test_ranked_clamps_values_beyond_given_axis_ends_to_the_plot() -> None:
    root = parse(ranked(lo=70.0, hi=90.0))
    x_of = axis_map(root)
    bars = [with_class(row, "interval")[0] for row in with_class(root, "row")]
    ends = [x for bar in bars for x in (f(bar, "x1"), f(bar, "x2"))]
    assert min(ends) == pytest.approx(x_of(70.0), abs=0.02)
    assert max(ends) == pytest.approx(x_of(90.0), abs=0.02)


def test_ranked_without_center_draws_no_reference_line() -> None:
    root = parse(ranked(center=None))
    assert not with_class(root, "center") and not with_class(root, "center-label")
    # A centre outside given axis ends is not drawn at the edge as if it were there.
    root = parse(ranked(center=95.0, lo=50.0, hi=90.0))
    assert not with_class(root, "center")


def test_wrap_keeps_to_the_line_count_and_width() -> None:
    name = "Trung tâm Phục vụ hành chính công tỉnh An Giang và các huyện"
    for max_lines in (1, 2, 3):
        lines = charts._wrap(name, 150, max_lines)
        assert 1 <= len(lines) <= max_lines
        assert all(charts._text_width(line) <= 150 for line in lines)
        assert lines[-1].endswith("…")
    assert charts._wrap("Sở Y tế", 150) == ["Sở Y tế"]
    assert charts._wrap("", 150) == []


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="low"):
        IntervalPoint("a", 5.0, 6.0, 4.0, "t")
    with pytest.raises(ValueError, match="finite"):
        IntervalPoint("a", math.nan, 1.0, 2.0, "t")
    with pytest.raises(ValueError, match="href"):
        IntervalPoint("a", 5.0, 4.0, 6.0, "t", href="javascript:alert(1)")
    with pytest.raises(ValueError, match="mark"):
        IntervalPoint("a", 5.0, 4.0, 6.0, "t", mark="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        FunnelPoint("a", 0, 5.0, "t", "within")
    with pytest.raises(ValueError, match="at least one"):
        charts.ranked_intervals_svg(
            [], center=None, center_label="", title="t", description="d", axis_label="a"
        )


# ------------------------------------------------------------------------------------------------
# 2. Funnel


def funnel_axes(root: ET.Element) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """(n -> x for the log axis, value -> y) implied by the tick labels."""
    ticks = with_class(root, "tick")
    y_ticks = sorted((number(t.text), f(t, "y")) for t in ticks if t.get("text-anchor") == "end")
    x_ticks = sorted((number(t.text), f(t, "x")) for t in ticks if t.get("text-anchor") == "middle")
    (n0, x0), (n1, x1) = x_ticks[0], x_ticks[-1]
    (v0, y0), (v1, y1) = y_ticks[0], y_ticks[-1]
    shift = charts.FONT_SIZE * 0.35  # tick labels sit on the baseline below the grid line
    return (
        lambda n: (
            x0 + (math.log10(n) - math.log10(n0)) * (x1 - x0) / (math.log10(n1) - math.log10(n0))
        ),
        lambda v: (y0 - shift) + (v - v0) * ((y1 - shift) - (y0 - shift)) / (v1 - v0),
    )


def test_funnel_points_sit_at_their_n_and_estimate() -> None:
    points = funnel_points()
    root = parse(funnel(points=points))
    x_of, y_of = funnel_axes(root)
    marks = with_class(root, "mark")
    assert len(marks) == len(points)
    for mark in marks:
        n, estimate = f(mark, "data-n"), f(mark, "data-estimate")
        shape = mark[1]
        if shape.tag == SVG + "circle":
            x, y = f(shape, "cx"), f(shape, "cy")
        else:
            pts = polyline_points(shape)
            x = pts[0][0]
            y = (min(p[1] for p in pts) + max(p[1] for p in pts)) / 2
        assert x == pytest.approx(x_of(n), abs=0.05)
        assert y == pytest.approx(y_of(estimate), abs=2.0)  # triangles' centroid is off-centre
    centre = with_class(root, "center")[0]
    assert f(centre, "y1") == pytest.approx(y_of(82.0), abs=0.05)


def test_funnel_limits_close_in_on_the_center_as_n_grows() -> None:
    root = parse(funnel())
    x_of, y_of = funnel_axes(root)
    centre_y = y_of(82.0)
    lines = with_class(root, "limit")
    kinds = {(el.get("data-level"), "limit-low" in el.get("class", "")) for el in lines}
    assert kinds == {("0.95", True), ("0.95", False), ("0.998", True), ("0.998", False)}
    assert len(lines) == 4
    for line in lines:
        pts = polyline_points(line)
        assert len(pts) > 10
        xs = [x for x, _ in pts]
        assert xs == sorted(xs)
        gaps = [abs(y - centre_y) for _, y in pts]
        assert all(b <= a + 1e-6 for a, b in zip(gaps, gaps[1:], strict=False)), gaps
        assert gaps[-1] < gaps[0]
        is_low = "limit-low" in line.get("class", "")
        assert all((y > centre_y) == is_low for _, y in pts)  # SVG y grows downward
    dashed = {("limit-998" in el.get("class", "")): el.get("stroke-dasharray") for el in lines}
    assert dashed[True] and dashed[False] is None


def test_funnel_limits_are_sorted_by_n_whatever_the_input_order() -> None:
    rows = limit_table(82.0)
    assert str(funnel(limits=rows[::-1], chart_id="f")) == str(funnel(limits=rows, chart_id="f"))


def test_funnel_draws_each_position_distinctly() -> None:
    root = parse(funnel())
    shapes = {}
    for mark in with_class(root, "mark"):
        shape = mark[1]
        shapes[shape.get("class")] = (shape.tag, shape.get("fill"), shape.get("stroke"))
    assert set(shapes) == {
        "point point-above_998",
        "point point-above_95",
        "point point-within",
        "point point-below_95",
        "point point-below_998",
        "point muted",
    }
    assert len(set(shapes.values())) == 6
    assert shapes["point muted"][1] == "#ffffff"
    assert shapes["point point-within"][0] == SVG + "circle"
    assert shapes["point point-above_998"][0] == SVG + "polygon"


def test_funnel_links_points_with_href() -> None:
    root = parse(funnel())
    links = all_of(root, "a")
    assert [a.get("href") for a in links] == ["/reports/units/STP"]
    assert f(links[0][0], "data-n") == 412


def test_funnel_legend_names_levels_center_and_positions() -> None:
    root = parse(funnel())
    legend = [t.text for t in with_class(root, "legend-label")]
    assert legend[:3] == ["Toàn tỉnh", "Giới hạn 95%", "Giới hạn 99,8%"]
    assert "Thấp hơn rõ rệt" in legend and "Không đủ tin cậy" in legend


@pytest.mark.parametrize("scale", ["log", "sqrt", "linear"])
def test_funnel_x_scales_keep_n_order_and_ticks_apart(scale: str) -> None:
    root = parse(funnel(x_scale=scale))
    xs = {
        f(m, "data-n"): f(m[1], "cx") if m[1].tag == SVG + "circle" else polyline_points(m[1])[0][0]
        for m in with_class(root, "mark")
    }
    ordered = [xs[n] for n in sorted(xs)]
    assert ordered == sorted(ordered)
    x_ticks = sorted(
        f(t, "x") for t in with_class(root, "tick") if t.get("text-anchor") == "middle"
    )
    assert len(x_ticks) >= 2
    assert all(b - a > 30 for a, b in zip(x_ticks, x_ticks[1:], strict=False))


def test_suggested_x_scale() -> None:
    assert charts.suggested_x_scale([20, 2000]) == "log"
    assert charts.suggested_x_scale([100, 500]) == "sqrt"
    assert charts.suggested_x_scale([100, 200]) == "linear"


def test_tick_labels_follow_the_language() -> None:
    assert charts._tick_text(1000.0, "vi") == "1.000"
    assert charts._tick_text(0.25, "vi") == "0,25"
    assert charts._tick_text(1000.0, "en") == "1,000"
    assert charts._tick_text(0.25, None) == "0.25"
    root = parse(funnel(lang="en", x_scale="linear"))
    labels = [t.text or "" for t in with_class(root, "tick")]
    assert "2,000" in labels


# ------------------------------------------------------------------------------------------------
# 3. Trend


def period_groups(root: ET.Element) -> list[ET.Element]:
    return sorted(with_class(root, "period"), key=lambda g: int(g.get("data-index", "-1")))


def test_trend_line_breaks_where_estimates_are_missing() -> None:
    points = trend_points()
    root = parse(trend(points=points))
    lines = with_class(root, "trend-line")
    # Runs with estimates: months 1-4, 7-9 and 11-12; a gap at 5-6 and at 10.
    assert [len(polyline_points(line)) for line in lines] == [4, 3, 2]
    groups = period_groups(root)
    assert len(groups) == 12
    gaps = [int(g.get("data-index", "")) for g in groups if "gap" in g.get("class", "")]
    assert gaps == [4, 5, 9]
    for index in gaps:
        assert groups[index].find(SVG + "circle") is None
        assert "không có dữ liệu" in (groups[index].find(SVG + "title").text or "")  # type: ignore[union-attr]
    line_x = [x for line in lines for x, _ in polyline_points(line)]
    dot_x = [f(g.find(SVG + "circle"), "cx") for g in groups if g.find(SVG + "circle") is not None]  # type: ignore[arg-type]
    assert line_x == dot_x


def test_trend_points_are_evenly_spaced_and_at_their_values() -> None:
    root = parse(trend())
    ticks = sorted(
        (number(t.text), f(t, "y"))
        for t in with_class(root, "tick")
        if t.get("text-anchor") == "end"
    )
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    dots = [(g, g.find(SVG + "circle")) for g in period_groups(root)]
    xs = []
    for group, dot in dots:
        if dot is None:
            continue
        expected = y0 + (f(group, "data-estimate") - v0) * (y1 - y0) / (v1 - v0)
        assert f(dot, "cy") == pytest.approx(expected - charts.FONT_SIZE * 0.35, abs=0.05)
        xs.append((int(group.get("data-index", "")), f(dot, "cx")))
    steps = [(x2 - x1) / (i2 - i1) for (i1, x1), (i2, x2) in zip(xs, xs[1:], strict=False)]
    assert max(steps) - min(steps) < 0.02


def test_trend_band_is_lighter_next_to_muted_points_and_whiskers_lone_points() -> None:
    root = parse(trend())
    bands = with_class(root, "band")
    normal = [b for b in bands if "muted" not in b.get("class", "")]
    light = [b for b in bands if "muted" in b.get("class", "")]
    # Normal bands over months 1-4, 7-8 and 11-12; a light one over 8-9 (month 9 is muted).
    assert len(normal) == 3 and len(light) == 1
    assert float(light[0].get("fill-opacity", "")) < float(normal[0].get("fill-opacity", ""))
    # Month 10 has no interval, so the light band has two points: four corners.
    assert len(polyline_points(light[0])) == 4
    muted_dot = period_groups(root)[8].find(SVG + "circle")
    assert muted_dot is not None and muted_dot.get("fill") == "#ffffff"
    assert len(with_class(root, "whisker")) == 0
    lone = trend_points()
    lone[10] = TrendPoint("11/2026", 80.0, 78.0, 82.0, "lone")
    lone[11] = TrendPoint("12/2026", None, None, None, "none")
    whiskers = with_class(parse(trend(points=lone)), "whisker")
    assert len(whiskers) == 1 and f(whiskers[0], "y1") > f(whiskers[0], "y2")


def test_trend_thins_x_labels_and_keeps_the_newest() -> None:
    labels = [f"{m % 12 + 1:02d}/{2024 + m // 12}" for m in range(36)]
    points = [TrendPoint(label, 80.0, 78.0, 82.0, label) for label in labels]
    root = parse(trend(points=points))
    shown = [(t.text, f(t, "x")) for t in with_class(root, "x-tick")]
    assert 2 <= len(shown) < len(labels)
    assert shown[-1][0] == labels[-1]
    widest = max(charts._text_width(label) for label in labels)
    assert all(b[1] - a[1] >= widest + 10 for a, b in zip(shown, shown[1:], strict=False))
    few = parse(trend(points=points[:4]))
    assert len(with_class(few, "x-tick")) == 4


def test_trend_with_one_point_and_checks() -> None:
    root = parse(trend(points=[TrendPoint("07/2026", 80.0, 75.0, 85.0, "t")]))
    assert len(with_class(root, "whisker")) == 1 and not with_class(root, "trend-line")
    with pytest.raises(ValueError, match="value"):
        charts.trend_svg(
            [TrendPoint("a", None, None, None, "t")], title="t", description="d", y_label="y"
        )


# ------------------------------------------------------------------------------------------------
# 4. Importance-performance


def test_ipa_points_and_crosshairs_sit_at_their_values() -> None:
    points = ipa_points()
    root = parse(ipa(points=points))
    ticks = with_class(root, "tick")
    x_ticks = sorted((number(t.text), f(t, "x")) for t in ticks if t.get("text-anchor") == "middle")
    y_ticks = sorted((number(t.text), f(t, "y")) for t in ticks if t.get("text-anchor") == "end")
    assert 4 <= len(x_ticks) <= 6 and 4 <= len(y_ticks) <= 6
    (a0, x0), (a1, x1) = x_ticks[0], x_ticks[-1]
    (b0, y0), (b1, y1) = y_ticks[0], y_ticks[-1]
    shift = charts.FONT_SIZE * 0.35

    def at(performance: float, importance: float) -> tuple[float, float]:
        return (
            x0 + (performance - a0) * (x1 - x0) / (a1 - a0),
            y0 - shift + (importance - b0) * (y1 - y0) / (b1 - b0),
        )

    marks = with_class(root, "mark")
    assert len(marks) == 4
    for mark, point in zip(marks, points, strict=True):
        circle = mark.find(SVG + "circle")
        assert circle is not None
        x, y = at(point.performance, point.importance)
        assert (f(circle, "cx"), f(circle, "cy")) == (
            pytest.approx(x, abs=0.05),
            pytest.approx(y, abs=0.05),
        )
    vertical, horizontal = with_class(root, "cross")
    x_cross, y_cross = at(81.0, 0.2)
    assert f(vertical, "x1") == pytest.approx(x_cross, abs=0.05)
    assert f(horizontal, "y1") == pytest.approx(y_cross, abs=0.05)


def test_ipa_colours_points_by_quadrant_and_names_the_quadrants() -> None:
    root = parse(ipa())
    quadrants = [
        with_class(m, "point")[0].get("class", "").split()[1] for m in with_class(root, "mark")
    ]
    assert quadrants == [
        "quadrant-overkill",
        "quadrant-concentrate",
        "quadrant-low-priority",
        "quadrant-keep",
    ]
    labels = with_class(root, "quadrant-label")
    named = [
        " ".join(t.text or "" for t in labels if f"quadrant-{quadrant}" in t.get("class", ""))
        for quadrant in ("concentrate", "keep", "low-priority", "overkill")
    ]
    assert named == list(IPA_QUADRANTS)
    keys = ["".join(t.itertext()) for t in with_class(root, "key-label")]
    assert keys == [p.label for p in ipa_points()]
    numbers = [t.text for t in with_class(root, "point-number")]
    assert numbers == ["1", "2", "3", "4"]


# ------------------------------------------------------------------------------------------------
# 5. Bars


def test_bars_start_at_zero_and_whiskers_end_at_the_bounds() -> None:
    items = bar_list()
    root = parse(bars(bars=items))
    x_of = axis_map(root)
    rows = with_class(root, "row")
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        rect = with_class(row, "bar")[0]
        assert f(rect, "x") == pytest.approx(x_of(0.0), abs=0.02)
        assert f(rect, "x") + f(rect, "width") == pytest.approx(x_of(item.value), abs=0.03)
        whisker = with_class(row, "interval")[0]
        assert (f(whisker, "x1"), f(whisker, "x2")) == (
            pytest.approx(x_of(item.low), abs=0.02),
            pytest.approx(x_of(item.high), abs=0.02),
        )
    assert min(tick_positions(root)) == 0


def test_bars_hatch_muted_bars() -> None:
    root = parse(bars())
    fills = [with_class(row, "bar")[0].get("fill", "") for row in with_class(root, "row")]
    pattern = root.find(f"{SVG}defs/{SVG}pattern")
    assert pattern is not None
    assert fills[2] == f"url(#{pattern.get('id')})"
    assert all(not fill.startswith("url(") for i, fill in enumerate(fills) if i != 2)
    assert [t.text for t in with_class(root, "legend-label")] == ["Không đủ tin cậy"]


# ------------------------------------------------------------------------------------------------
# In a real browser: rendered size, text size, nothing clipped or overlapping; screenshots

PAGE_CSS = "body{margin:0;background:#f3f5f8;font:17px/1.5 system-ui,sans-serif}" + (
    "main{max-width:72rem;margin:0 auto;padding:1rem}.card{background:#fff;padding:1rem}"
)
# Only file: styles may load and no inline style at all: a chart needing one would break.
CSP = "default-src 'none'; style-src file:"

MEASURE = """svg => {
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect();
    return {cls: t.getAttribute('class'), text: t.textContent, left: r.left, right: r.right,
            top: r.top, bottom: r.bottom,
            px: parseFloat(getComputedStyle(t).fontSize) * scale};
  });
  return {width: box.width, height: box.height, left: box.left, right: box.right,
          top: box.top, bottom: box.bottom, texts,
          maxWidth: getComputedStyle(svg).maxWidth};
}"""


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        min(a["right"], b["right"]) - max(a["left"], b["left"]) > 1
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 1
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_renders_readably_in_chromium(browser: Any, name: str, width: int) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "page.css").write_text(PAGE_CSS, encoding="utf-8")
    html = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{(OUTPUT / "page.css").as_uri()}">'
        f'<link rel="stylesheet" href="{CSS.as_uri()}">'
        f'</head><body><main><div class="card">{CHARTS[name]()}</div></main></body></html>'
    )
    page_file = OUTPUT / f"{name}.html"
    page_file.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    try:
        page.goto(page_file.as_uri())
        page.screenshot(path=str(OUTPUT / f"{name}-{width}.png"), full_page=True)
        box = page.eval_on_selector("svg.chart", MEASURE)
    finally:
        page.close()
    assert not problems, problems  # e.g. a refused inline style
    assert box["width"] > 250 and box["height"] > 150
    assert box["maxWidth"] == "576px"  # charts.css was applied
    assert box["texts"]
    for text in box["texts"]:
        assert text["px"] >= 11, text
        assert box["left"] - 1 <= text["left"] and text["right"] <= box["right"] + 1, text
        assert box["top"] - 1 <= text["top"] and text["bottom"] <= box["bottom"] + 1, text
    spaced = [t for t in box["texts"] if t["cls"] != "point-number"]
    clashes = [
        (a["text"], b["text"])
        for i, a in enumerate(spaced)
        for b in spaced[i + 1 :]
        if overlaps(a, b)
    ]
    assert not clashes
