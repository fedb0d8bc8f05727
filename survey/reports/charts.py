"""Server-side SVG charts for the officials' report pages.

Pure functions: each takes frozen dataclasses and already-translated text, and returns one inline
``<svg>`` element as :class:`markupsafe.Markup`, to be placed directly in a page. The module holds
no user-facing text of its own.

Every chart

- scales with its container (``viewBox``, ``width="100%"``, no fixed height); the view box is
  :data:`VIEW_WIDTH` units wide and text is :data:`FONT_SIZE` units, so text stays at least
  11 px on a 311 px wide container (a 375 px phone less two 1rem paddings);
- works under a Content-Security-Policy without inline styles: no ``style`` attribute or element,
  only SVG presentation attributes and ``class`` names, whose rules are in ``static/charts.css``;
- is an image for assistive technology (``role="img"``, ``<title>`` and ``<desc>`` referenced by
  ``aria-labelledby`` / ``aria-describedby``);
- draws marks with shape differences as well as colour-blind-safe colours (Okabe & Ito), greys
  and hollows muted (suppressed) values, and gives every mark a ``<title>`` tooltip;
- escapes every label, tooltip and link (unit names come from the database).

A view passes the result to its template, where ``{{ chart }}`` inserts it unescaped (it is
``Markup``); the page layout links ``static/charts.css``. Each function raises ``ValueError``
when given nothing to draw, so a page shows its "no data" sentence instead::

    chart = ranked_intervals_svg(
        [IntervalPoint("Sở Tư pháp", 87.2, 85.1, 89.0, "Sở Tư pháp: 87,2 (85,1–89,0), n = 412",
                       mark="above", href=url_for("reports.unit", agency_code="STP"))],
        center=84.0, center_label=_("Province: %(v)s", v="84,0"), title=..., description=...,
        axis_label=_("SIPAS (%), 95% confidence interval"), lang=get_locale().language,
    )
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

__all__ = [
    "Bar",
    "bars_svg",
    "importance_performance_svg",
    "trend_svg",
    "FunnelLimit",
    "FunnelPoint",
    "IntervalPoint",
    "IpaPoint",
    "TrendPoint",
    "funnel_svg",
    "ranked_intervals_svg",
    "suggested_x_scale",
]

VIEW_WIDTH = 500
"""Width of every chart's view box, in user units."""
FONT_SIZE = 18
"""Size of all chart text in user units: 18 / 500 x 311 px = 11.2 px on a 311 px container
(a 375 px phone less two 1rem paddings)."""
LINE_HEIGHT = 22
MARGIN = 8

Mark = Literal["above", "same", "below", "none"]
Position = Literal["above_998", "above_95", "within", "below_95", "below_998"]
XScale = Literal["linear", "sqrt", "log"]

# Okabe & Ito colours; each is paired with a distinct shape.
INK = "#1a1a1a"
GRID = "#d0d4d9"
MUTED = "#767676"  # 4.5:1 on white
BLUE = "#0072B2"
SKY = "#56B4E9"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
ZEBRA = "#f2f4f7"

_MARK_STYLE: dict[str, tuple[str, str]] = {
    # mark -> (shape, colour)
    "above": ("up", BLUE),
    "same": ("circle", "#4d4d4d"),
    "below": ("down", VERMILLION),
    "none": ("diamond", INK),
}
_POSITION_STYLE: dict[str, tuple[str, str, float, float]] = {
    # position -> (shape, colour, size, width of a dark outline; 0 for a thin white one).
    # The light colours get an outline so that the shape stands out on white (WCAG 1.4.11).
    "above_998": ("up", BLUE, 9.0, 2.5),
    "above_95": ("up", SKY, 7.5, 1.0),
    "within": ("circle", "#4d4d4d", 5.5, 0.0),
    "below_95": ("down", ORANGE, 7.5, 1.0),
    "below_998": ("down", VERMILLION, 9.0, 2.5),
}
_SAFE_HREF_PREFIXES = ("/", "#", "?", "https://", "http://")


# --------------------------------------------------------------------------------------------
# Inputs


def _check_finite(owner: str, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{owner}.{name} must be finite, got {value!r}")


def _check_interval(owner: str, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{owner}: low ({low}) is above high ({high})")


def _check_href(href: str | None) -> None:
    if href is not None and not href.startswith(_SAFE_HREF_PREFIXES):
        raise ValueError(f"href must be a relative path or an http(s) URL, got {href!r}")


@dataclass(frozen=True, slots=True)
class IntervalPoint:
    """One row of a ranked interval (caterpillar) chart.

    Parameters
    ----------
    label : str
        Name of the unit, drawn on the left (wrapped to two lines, then shortened).
    estimate, low, high : float
        Point estimate and interval bounds, on the axis scale (0-100).
    tooltip : str
        Text shown on hover, e.g. ``"Sở Tư pháp: 87.2 (85.1–89.0), n = 412"``.
    mark : {"above", "same", "below", "none"}
        Comparison with the reference value: drawn as ▲, ● or ▼ in blue, grey or vermillion;
        ◆ black for no comparison.
    muted : bool
        A suppressed (unreliable) estimate: drawn grey and hollow with a dashed bar.
    href : str or None
        Link for the whole row (a relative path or an http(s) URL).
    """

    label: str
    estimate: float
    low: float
    high: float
    tooltip: str
    mark: Mark = "none"
    muted: bool = False
    href: str | None = None

    def __post_init__(self) -> None:
        _check_finite("IntervalPoint", estimate=self.estimate, low=self.low, high=self.high)
        _check_interval("IntervalPoint", self.low, self.high)
        if self.mark not in _MARK_STYLE:
            raise ValueError(f"IntervalPoint.mark must be one of {sorted(_MARK_STYLE)}")
        _check_href(self.href)


@dataclass(frozen=True, slots=True)
class FunnelPoint:
    """One unit on a funnel plot: its estimate against its sample size.

    Parameters
    ----------
    label : str
        Name of the unit (used in the tooltip only).
    n : float
        Sample size (or effective sample size), > 0.
    estimate : float
        Point estimate on the y scale.
    tooltip : str
        Text shown on hover.
    position : {"above_998", "above_95", "within", "below_95", "below_998"}
        Where the point lies against the control limits (computed by the statistics engine).
    muted : bool
        A suppressed estimate: grey, hollow, dashed.
    href : str or None
        Link for the point.
    """

    label: str
    n: float
    estimate: float
    tooltip: str
    position: Position
    muted: bool = False
    href: str | None = None

    def __post_init__(self) -> None:
        _check_finite("FunnelPoint", n=self.n, estimate=self.estimate)
        if self.n <= 0:
            raise ValueError(f"FunnelPoint.n must be positive, got {self.n}")
        if self.position not in _POSITION_STYLE:
            raise ValueError(f"FunnelPoint.position must be one of {sorted(_POSITION_STYLE)}")
        _check_href(self.href)


@dataclass(frozen=True, slots=True)
class FunnelLimit:
    """One row of the control-limit table: at sample size ``n``, the ``level`` limits."""

    n: float
    level: float
    low: float
    high: float

    def __post_init__(self) -> None:
        _check_finite("FunnelLimit", n=self.n, level=self.level, low=self.low, high=self.high)
        _check_interval("FunnelLimit", self.low, self.high)
        if self.n <= 0:
            raise ValueError(f"FunnelLimit.n must be positive, got {self.n}")


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One period of a trend chart; ``estimate`` None leaves a gap in the line."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    tooltip: str
    muted: bool = False

    def __post_init__(self) -> None:
        _check_finite("TrendPoint", estimate=self.estimate, low=self.low, high=self.high)
        _check_interval("TrendPoint", self.low, self.high)


@dataclass(frozen=True, slots=True)
class IpaPoint:
    """One criterion on an importance-performance grid."""

    label: str
    performance: float
    importance: float
    tooltip: str

    def __post_init__(self) -> None:
        _check_finite("IpaPoint", performance=self.performance, importance=self.importance)


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar (value from the axis origin) with an interval whisker."""

    label: str
    value: float
    low: float
    high: float
    tooltip: str
    muted: bool = False

    def __post_init__(self) -> None:
        _check_finite("Bar", value=self.value, low=self.low, high=self.high)
        _check_interval("Bar", self.low, self.high)


# --------------------------------------------------------------------------------------------
# SVG building blocks


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _attr_name(keyword: str) -> str:
    """``class_`` -> ``class``, ``stroke_width`` -> ``stroke-width``."""
    return keyword.rstrip("_").replace("_", "-")


def _tag(name: str, attrs: Mapping[str, object], content: str = "") -> str:
    """One element; attribute values are escaped, ``content`` must already be markup."""
    parts = [name]
    for key, value in attrs.items():
        if value is None:
            continue
        text = _num(value) if isinstance(value, float) else str(value)
        parts.append(f'{key}="{escape(text)}"')
    opening = " ".join(parts)
    if content:
        return f"<{opening}>{content}</{name}>"
    return f"<{opening}/>"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    cls: str,
    anchor: str = "start",
    weight: str | None = None,
    fill: str = INK,
) -> str:
    return _tag(
        "text",
        {
            "x": float(x),
            "y": float(y),
            "class": cls,
            "font-size": FONT_SIZE,
            "text-anchor": anchor,
            "font-weight": weight,
            "fill": fill,
        },
        str(escape(text)),
    )


def _line(x1: float, y1: float, x2: float, y2: float, **attrs: object) -> str:
    base: dict[str, object] = {"x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2)}
    base.update({_attr_name(key): value for key, value in attrs.items()})
    return _tag("line", base)


def _marker(shape: str, x: float, y: float, size: float, **attrs: object) -> str:
    """A circle (radius ``size``), an up / down triangle or a diamond (half-width ``size``)
    centred at x, y; the triangles and the diamond list their apex (at x) first."""
    rendered = {_attr_name(key): value for key, value in attrs.items()}
    if shape == "circle":
        return _tag("circle", {"cx": float(x), "cy": float(y), "r": float(size), **rendered})
    h = size * 1.15
    if shape == "up":
        pts = [(x, y - h), (x + size, y + h * 0.75), (x - size, y + h * 0.75)]
    elif shape == "down":
        pts = [(x, y + h), (x + size, y - h * 0.75), (x - size, y - h * 0.75)]
    elif shape == "diamond":
        pts = [(x, y - h), (x + size, y), (x, y + h), (x - size, y)]
    else:
        raise ValueError(f"unknown marker shape {shape!r}")
    return _tag("polygon", {"points": _points(pts), **rendered})


def _points(pts: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_num(px)},{_num(py)}" for px, py in pts)


def _chart_id(kind: str, *parts: object) -> str:
    digest = hashlib.blake2s(repr((kind, parts)).encode(), digest_size=5).hexdigest()
    return f"chart-{kind}-{digest}"


def _svg(
    chart_id: str,
    kind: str,
    height: float,
    title: str,
    description: str,
    body: Sequence[str],
    lang: str | None,
) -> Markup:
    attrs = {
        "xmlns": "http://www.w3.org/2000/svg",
        "id": chart_id,
        "class": f"chart chart-{kind}",
        "viewBox": f"0 0 {VIEW_WIDTH} {_num(math.ceil(height))}",
        "width": "100%",
        "preserveAspectRatio": "xMinYMin meet",
        "role": "img",
        "aria-labelledby": f"{chart_id}-title",
        "aria-describedby": f"{chart_id}-desc",
        "lang": lang,
        "font-family": "system-ui, sans-serif",
        "font-size": FONT_SIZE,
    }
    head = (
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )
    return Markup(_tag("svg", attrs, head + "".join(body)))


def _link(href: str | None, content: str) -> str:
    if href is None:
        return content
    return _tag("a", {"href": href, "class": "chart-link"}, content)


# --------------------------------------------------------------------------------------------
# Text measurement (an estimate: the server has no fonts; kept on the generous side)

_NARROW = set("iljtfrI.,:;'!|()[] ")
_WIDE = set("mwMWĐ@%")


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """Estimated rendered width of ``text`` in a system sans-serif at ``size`` units."""
    width = 0.0
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            continue
        if char in _NARROW:
            width += 0.33
        elif char in _WIDE:
            width += 0.9
        elif char.isupper() and char.isalpha():
            width += 0.72
        elif char.isdigit():
            width += 0.64
        else:
            width += 0.6
    return width * size


def _fit(text: str, width: float) -> str:
    """``text`` shortened with an ellipsis to fit ``width``."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, width: float, max_lines: int = 2) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines, the last one shortened if needed."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if _text_width(candidate) <= width or not current:
            current = candidate
            continue
        if len(lines) >= max_lines - 1:  # the last line takes the rest, shortened below
            current = " ".join([current, *words[index:]])
            break
        lines.append(current)
        current = word
    lines.append(current)
    return [_fit(line, width) for line in lines if line]


def _full_tooltip(label: str, tooltip: str) -> str:
    """The tooltip, with the full label in front when the tooltip does not already name it."""
    return tooltip if label in tooltip else f"{label}\n{tooltip}"


# --------------------------------------------------------------------------------------------
# Scales and ticks


@dataclass(frozen=True, slots=True)
class _Linear:
    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        span = self.d1 - self.d0
        t = 0.5 if span == 0 else (value - self.d0) / span
        return self.r0 + t * (self.r1 - self.r0)


def _nice_domain(
    values: Sequence[float], lo: float | None, hi: float | None, *, bounds: tuple[float, float]
) -> tuple[float, float, list[float]]:
    """A padded domain with 4-6 round ticks at its ends and inside it.

    ``lo`` / ``hi`` fix the ends when given. Otherwise the data range is padded by 4 % of its
    span (5 % of the value when all values are equal) and widened to round ticks, the round
    ticks preferring the tightest domain with 4-6 of them, without crossing ``bounds`` (0-100)
    when the data lie in it.
    """
    data_lo, data_hi = min(values), max(values)
    span = data_hi - data_lo
    pad = span * 0.04 if span > 0 else max(abs(data_hi) * 0.05, 0.5)
    start = lo if lo is not None else data_lo - pad
    end = hi if hi is not None else data_hi + pad
    if end <= start:
        end = start + 1.0
    candidates = []  # (badness, t0, t1, step)
    for exponent in range(-3, 5):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0**exponent
            t0 = start if lo is not None else math.floor(start / step + 1e-9) * step
            t1 = end if hi is not None else math.ceil(end / step - 1e-9) * step
            if lo is None and data_lo >= bounds[0]:
                t0 = max(t0, bounds[0])
            if hi is None and data_hi <= bounds[1]:
                t1 = min(t1, bounds[1])
            count = len(_ticks_in(t0, t1, step))
            badness = (t1 - t0) / (end - start) + (0 if 4 <= count <= 6 else 10 + abs(count - 5))
            candidates.append((badness, t0, t1, step))
    _, t0, t1, step = min(candidates)
    return t0, t1, _ticks_in(t0, t1, step)


def _ticks_in(t0: float, t1: float, step: float) -> list[float]:
    first = math.ceil(t0 / step - 1e-9)
    last = math.floor(t1 / step + 1e-9)
    if last - first > 50:
        return []
    return [round(k * step, 10) for k in range(first, last + 1)]


_COMMA_DECIMAL_LANGS = ("vi", "fr", "de", "es", "it", "pt", "ru", "id", "nl")


def _tick_text(value: float, lang: str | None = None) -> str:
    """A tick label: whole numbers without decimals, else up to two decimals.

    Vietnamese (and other comma-decimal languages given by ``lang``) write ``0,5`` and
    ``1.000``; otherwise ``0.5`` and ``1,000``.
    """
    if abs(value - round(value)) < 1e-9:
        text = f"{int(round(value)):,}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if lang and lang.split("-")[0].lower() in _COMMA_DECIMAL_LANGS:
        text = text.translate(str.maketrans(",.", ".,"))
    return text


_TICK_BASELINE = LINE_HEIGHT + 8  # below the axis line: clear of the lowest y tick label


def _x_axis(
    scale: _Linear,
    ticks: Sequence[float],
    top: float,
    bottom: float,
    label: str,
    lang: str | None,
    *,
    grid: bool = True,
) -> list[str]:
    """Vertical grid lines from ``top`` to ``bottom`` (unless the rows draw their own), tick
    labels and the axis label below."""
    out = []
    for tick in ticks:
        x = scale(tick)
        if grid:
            out.append(_line(x, top, x, bottom, class_="grid", stroke=GRID, stroke_width=1))
        out.append(
            _text(x, bottom + _TICK_BASELINE, _tick_text(tick, lang), cls="tick", anchor="middle")
        )
    out.append(_line(scale.r0, bottom, scale.r1, bottom, class_="axis", stroke=INK, stroke_width=1))
    centre = VIEW_WIDTH / 2
    for index, line in enumerate(_wrap(label, VIEW_WIDTH - 2 * MARGIN)):
        y = bottom + _TICK_BASELINE + LINE_HEIGHT * (index + 1) + 2
        out.append(_text(centre, y, line, cls="axis-label", anchor="middle"))
    return out


def _axis_label_height(label: str) -> float:
    return _TICK_BASELINE + LINE_HEIGHT * len(_wrap(label, VIEW_WIDTH - 2 * MARGIN)) + 12


def _y_axis(
    scale: _Linear, ticks: Sequence[float], left: float, right: float, lang: str | None
) -> list[str]:
    """Horizontal grid lines from ``left`` to ``right`` and tick labels left of ``left``."""
    out = []
    for tick in ticks:
        y = scale(tick)
        out.append(_line(left, y, right, y, class_="grid", stroke=GRID, stroke_width=1))
        out.append(
            _text(left - 6, y + FONT_SIZE * 0.35, _tick_text(tick, lang), cls="tick", anchor="end")
        )
    return out


# --------------------------------------------------------------------------------------------
# Legend


@dataclass(frozen=True, slots=True)
class _LegendItem:
    swatch: str  # markup drawn around (0, 0), at most 24 units wide
    label: str


def _legend(items: Sequence[_LegendItem], top: float) -> tuple[list[str], float]:
    """Items flowed left to right, wrapping at the view width; returns markup and height."""
    out: list[str] = []
    x, y = MARGIN, top + LINE_HEIGHT / 2
    available = VIEW_WIDTH - 2 * MARGIN
    for item in items:
        label = _fit(item.label, available - 32)
        width = 32 + _text_width(label) + 16
        if x > MARGIN and x + width > VIEW_WIDTH - MARGIN:
            x, y = MARGIN, y + LINE_HEIGHT + 4
        transform = f"translate({_num(x + 12)},{_num(y)})"
        out.append(_tag("g", {"class": "legend-item", "transform": transform}, item.swatch))
        out.append(_text(x + 30, y + FONT_SIZE * 0.35, label, cls="legend-label"))
        x += width
    return [_tag("g", {"class": "legend"}, "".join(out))] if out else [], (
        y - top + LINE_HEIGHT / 2 + 6 if out else 0.0
    )


# --------------------------------------------------------------------------------------------
# 1. Ranked intervals (caterpillar / forest chart)

_ROW_LABEL_WIDTH = 200
_PLOT_RIGHT = VIEW_WIDTH - 24


def _row_label(label: str, x: float, y_mid: float) -> tuple[str, float]:
    """A left label wrapped into one or two lines centred on ``y_mid``; returns markup, height."""
    lines = _wrap(label, _ROW_LABEL_WIDTH - MARGIN)
    first = y_mid - (len(lines) - 1) * LINE_HEIGHT / 2 + FONT_SIZE * 0.35
    tspans = "".join(
        _tag("tspan", {"x": float(x), "y": float(first + i * LINE_HEIGHT)}, str(escape(line)))
        for i, line in enumerate(lines)
    )
    attrs = {"class": "row-label", "font-size": FONT_SIZE, "fill": INK}
    return _tag("text", attrs, tspans), len(lines) * LINE_HEIGHT


def _row_frame(index: int, y: float, height: float, label: str, grid: Sequence[float]) -> str:
    """A row's background (zebra striped; the hover and link target), its left label and the
    vertical grid lines at ``grid`` across the row (drawn here so that they stay under the marks).
    """
    background = _tag(
        "rect",
        {
            "class": "row-bg" + (" zebra" if index % 2 == 0 else ""),
            "x": 0.0,
            "y": float(y),
            "width": VIEW_WIDTH,
            "height": float(height),
            "fill": ZEBRA if index % 2 == 0 else "#ffffff",
        },
    )
    lines = "".join(
        _line(x, y, x, y + height, class_="grid", stroke=GRID, stroke_width=1) for x in grid
    )
    return background + _row_label(label, MARGIN, y + height / 2)[0] + lines


def _row_height(label: str) -> float:
    return max(2, len(_wrap(label, _ROW_LABEL_WIDTH - MARGIN))) * LINE_HEIGHT + 6


def ranked_intervals_svg(
    points: Sequence[IntervalPoint],
    *,
    center: float | None,
    center_label: str,
    title: str,
    description: str,
    axis_label: str,
    lo: float | None = None,
    hi: float | None = None,
    mark_labels: Mapping[str, str] | None = None,
    muted_label: str | None = None,
    lang: str | None = None,
    chart_id: str | None = None,
) -> Markup:
    """A ranked interval (caterpillar) chart: one row per point, in the order given.

    Each row has the label on the left (two lines at most, then shortened; the full label is in
    the tooltip), a bar from ``low`` to ``high`` and a mark at ``estimate``: ▲ blue when
    significantly above the reference, ● grey when not different, ▼ vermillion when below, ◆
    black without a comparison; muted (suppressed) rows are grey, hollow and dashed.

    Parameters
    ----------
    points : sequence of IntervalPoint
        The rows, top to bottom.
    center : float or None
        Reference value (the province), drawn as a vertical dashed line; None for none. Not
        drawn (nor its label) when it lies outside given axis ends ``lo`` / ``hi``.
    center_label : str
        Label of the reference line, drawn above the plot.
    title, description : str
        Accessible name and description of the chart.
    axis_label : str
        Label under the horizontal axis (say which interval level is drawn).
    lo, hi : float, optional
        Axis ends; by default the data range padded a little and widened to round ticks.
    mark_labels : mapping of mark to str, optional
        Legend text per mark (``"above"``, ``"same"``, ``"below"``, ``"none"``); marks used
        by the points and present here get a legend entry.
    muted_label : str, optional
        Legend text for muted rows, drawn when some row is muted.
    lang : str, optional
        Language of the texts (``lang`` attribute), e.g. ``"vi"``.
    chart_id : str, optional
        Element id (unique in the page); derived from the inputs by default.

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``points`` is empty.
    """
    if not points:
        raise ValueError("ranked_intervals_svg needs at least one point")
    chart_id = chart_id or _chart_id("ranked", points, center, title)
    values = [v for p in points for v in (p.low, p.high, p.estimate)]
    if center is not None:
        values.append(center)
    d0, d1, ticks = _nice_domain(values, lo, hi, bounds=(0.0, 100.0))
    scale = _Linear(d0, d1, _ROW_LABEL_WIDTH + 12, _PLOT_RIGHT)

    def x_of(value: float) -> float:
        return scale(min(max(value, d0), d1))

    if center is not None and not d0 <= center <= d1:
        center = None  # outside the given axis ends: no line drawn at a false place
    body: list[str] = []
    top = MARGIN
    if center is not None and center_label:
        for line in _wrap(center_label, VIEW_WIDTH - 2 * MARGIN):
            top += LINE_HEIGHT
            width = _text_width(line)
            x_text = min(max(x_of(center) - width / 2, MARGIN), VIEW_WIDTH - MARGIN - width)
            body.append(_text(x_text, top - 6, line, cls="center-label", weight="600"))
        top += 4
    plot_top = top
    rows: list[str] = []
    y = plot_top
    for index, point in enumerate(points):
        height = _row_height(point.label)
        mid = y + height / 2
        shape, colour = _MARK_STYLE[point.mark]
        colour = MUTED if point.muted else colour
        parts = [_title(_full_tooltip(point.label, point.tooltip))]
        parts.append(_row_frame(index, y, height, point.label, [scale(t) for t in ticks]))
        parts.append(
            _line(
                x_of(point.low),
                mid,
                x_of(point.high),
                mid,
                class_="interval" + (" muted" if point.muted else ""),
                stroke=colour,
                stroke_width=3,
                stroke_linecap="butt",
                stroke_dasharray="5 3" if point.muted else None,
            )
        )
        for end in (point.low, point.high):
            parts.append(
                _line(
                    x_of(end),
                    mid - 6,
                    x_of(end),
                    mid + 6,
                    class_="cap",
                    stroke=colour,
                    stroke_width=2,
                )
            )
        parts.append(
            _marker(
                shape,
                x_of(point.estimate),
                mid,
                6.5 if shape == "circle" else 8.0,
                class_=f"mark mark-{point.mark}" + (" muted" if point.muted else ""),
                fill="#ffffff" if point.muted else colour,
                stroke=colour if point.muted else "#ffffff",
                stroke_width=2 if point.muted else 1,
                data_estimate=_num(point.estimate),
            )
        )
        cls = f"row row-{point.mark}" + (" muted" if point.muted else "")
        rows.append(_link(point.href, _tag("g", {"class": cls}, "".join(parts))))
        y += height
    plot_bottom = y
    body.extend(rows)
    body.extend(_x_axis(scale, ticks, plot_top, plot_bottom, axis_label, lang, grid=False))
    if center is not None:
        body.append(
            _line(
                x_of(center),
                plot_top - 4,
                x_of(center),
                plot_bottom,
                class_="center",
                stroke=INK,
                stroke_width=2,
                stroke_dasharray="6 4",
                data_value=_num(center),
            )
        )
    bottom = plot_bottom + _axis_label_height(axis_label)
    items = []
    used = {p.mark for p in points}
    for mark in ("above", "same", "below", "none"):
        if mark_labels and mark in mark_labels and mark in used:
            shape, colour = _MARK_STYLE[mark]
            swatch = _marker(
                shape, 0, 0, 6.5 if shape == "circle" else 8.0, fill=colour, stroke="#ffffff"
            )
            items.append(_LegendItem(swatch, mark_labels[mark]))
    muted_marks = [p.mark for p in points if p.muted]
    if muted_label and muted_marks:
        shape = _MARK_STYLE[muted_marks[0]][0]  # drawn as the first muted row is
        swatch = _line(-12, 0, 12, 0, stroke=MUTED, stroke_width=3, stroke_dasharray="5 3") + (
            _marker(
                shape,
                0,
                0,
                6.5 if shape == "circle" else 8.0,
                fill="#ffffff",
                stroke=MUTED,
                stroke_width=2,
            )
        )
        items.append(_LegendItem(swatch, muted_label))
    legend, legend_height = _legend(items, bottom)
    body.extend(legend)
    return _svg(chart_id, "ranked", bottom + legend_height + MARGIN, title, description, body, lang)


# --------------------------------------------------------------------------------------------
# 2. Funnel plot

_PLOT_LEFT = 60
_FUNNEL_HEIGHT = 320


def suggested_x_scale(sizes: Iterable[float]) -> XScale:
    """The x scale a funnel plot of these sample sizes reads best on.

    ``"log"`` when the largest size is at least 20 times the smallest, ``"sqrt"`` when at least
    4 times, else ``"linear"``. Callers pass the result to :func:`funnel_svg` and name the scale
    in the axis label.
    """
    values = [s for s in sizes if s > 0]
    if not values:
        return "linear"
    ratio = max(values) / min(values)
    return "log" if ratio >= 20 else "sqrt" if ratio >= 4 else "linear"


@dataclass(frozen=True, slots=True)
class _NScale:
    kind: XScale
    d0: float
    d1: float
    r0: float
    r1: float

    def _t(self, n: float) -> float:
        if self.kind == "log":
            return math.log10(n)
        if self.kind == "sqrt":
            return math.sqrt(n)
        return n

    def __call__(self, n: float) -> float:
        a, b = self._t(self.d0), self._t(self.d1)
        t = 0.5 if b == a else (self._t(min(max(n, self.d0), self.d1)) - a) / (b - a)
        return self.r0 + t * (self.r1 - self.r0)


def _n_domain(sizes: Sequence[float], kind: XScale) -> tuple[float, float]:
    low, high = min(sizes), max(sizes)
    if kind == "log":
        return low / 1.3, high * 1.3
    return (low - (high - low) * 0.05 if kind == "linear" else 0.0), high * 1.05


def _n_ticks(scale: _NScale, lang: str | None) -> list[float]:
    """Round sample sizes inside the domain whose labels do not collide."""
    if scale.kind == "log":
        candidates_sets = [(1, 2, 5), (1, 3), (1,)]
        sets = []
        for mantissas in candidates_sets:
            ticks = []
            for exponent in range(0, 8):
                for mantissa in mantissas:
                    value = float(mantissa * 10**exponent)
                    if scale.d0 <= value <= scale.d1:
                        ticks.append(value)
            sets.append(ticks)
    else:
        sets = []
        for wanted in (6, 5, 4, 3, 2):
            step = _nice_step((scale.d1 - max(scale.d0, 0.0)) / wanted)
            first = math.ceil(max(scale.d0, 0.0) / step)
            sets.append(
                [k * step for k in range(first, int(scale.d1 // step) + 1) if k * step >= scale.d0]
            )
    for ticks in sets:
        right_edges = []
        ok = True
        for tick in ticks:
            half = _text_width(_tick_text(tick, lang)) / 2
            x = scale(tick)
            if right_edges and x - half < right_edges[-1] + 10:
                ok = False
                break
            if x + half > VIEW_WIDTH - 2:
                ok = False
                break
            right_edges.append(x + half)
        if ok and len(ticks) >= 2:
            return ticks
    return sets[-1][:1] + sets[-1][-1:] if sets[-1] else []


def _nice_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mantissa * 10.0**exponent >= raw:
            return mantissa * 10.0**exponent
    return 10.0 ** (exponent + 1)


def _level_class(level: float) -> str:
    return f"limit-{round(level * 1000):d}"


def funnel_svg(
    points: Sequence[FunnelPoint],
    limits: Sequence[FunnelLimit],
    *,
    center: float,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    limit_labels: Mapping[float, str],
    center_label: str | None = None,
    position_labels: Mapping[str, str] | None = None,
    muted_label: str | None = None,
    x_scale: XScale = "log",
    lang: str | None = None,
    chart_id: str | None = None,
) -> Markup:
    """A funnel plot: each unit's estimate (y) against its sample size n (x), with control limits.

    The limits of each level are drawn as two polylines (low and high) through the rows of
    ``limits`` sorted by n: levels of 0.99 and above dashed, lower levels solid. The reference
    ``center`` is a horizontal line. Points are drawn by position: ▲ above and ▼ below the limits
    (larger, darker and thickly outlined beyond the outer limit; blue above, orange / vermillion
    below), ● grey within; muted points are grey and hollow.

    Parameters
    ----------
    points : sequence of FunnelPoint
        The units.
    limits : sequence of FunnelLimit
        The control-limit table (rows at many n, for each level), e.g. from
        ``analysis.funnel.funnel_limits(center, sizes, levels=(0.95, 0.998))``. Rows outside the
        x range are left out and limits beyond the y range are drawn at its edge.
    center : float
        Reference value (the province).
    title, description : str
        Accessible name and description.
    x_label : str
        Label of the sample-size axis; it should name the scale (see ``x_scale``).
    y_label : str
        Label of the estimate axis, drawn above the plot.
    limit_labels : mapping of level to str
        Legend text of each limit level, e.g. ``{0.95: "95 % limits", 0.998: "99.8 % limits"}``.
    center_label : str, optional
        Legend text of the reference line.
    position_labels : mapping of position to str, optional
        Legend text per point position; positions used by the points get an entry.
    muted_label : str, optional
        Legend text for muted points, drawn when some point is muted.
    x_scale : {"log", "sqrt", "linear"}
        Scale of the n axis; :func:`suggested_x_scale` picks one from the sizes.
    lang, chart_id : str, optional
        As in :func:`ranked_intervals_svg`.

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``points`` is empty or ``x_scale`` is unknown.
    """
    if not points:
        raise ValueError("funnel_svg needs at least one point")
    if x_scale not in ("log", "sqrt", "linear"):
        raise ValueError(f"x_scale must be 'log', 'sqrt' or 'linear', got {x_scale!r}")
    chart_id = chart_id or _chart_id("funnel", points, limits, center, title)
    n0, n1 = _n_domain([p.n for p in points], x_scale)
    body: list[str] = []
    top = MARGIN
    for line in _wrap(y_label, VIEW_WIDTH - 2 * MARGIN):
        top += LINE_HEIGHT
        body.append(_text(MARGIN, top - 6, line, cls="axis-label"))
    plot_top = top + 12
    plot_bottom = plot_top + _FUNNEL_HEIGHT
    xs = _NScale(x_scale, n0, n1, _PLOT_LEFT + 8, _PLOT_RIGHT - 8)
    n_min = min(p.n for p in points)
    y_values = [p.estimate for p in points] + [center]
    y_values += [v for lim in limits if n_min <= lim.n <= n1 for v in (lim.low, lim.high)]
    d0, d1, ticks = _nice_domain(y_values, None, None, bounds=(0.0, 100.0))
    ys = _Linear(d0, d1, plot_bottom, plot_top)

    def y_of(value: float) -> float:
        return ys(min(max(value, d0), d1))

    body.extend(_y_axis(ys, ticks, _PLOT_LEFT, _PLOT_RIGHT, lang))
    x_ticks = _n_ticks(xs, lang)
    for tick in x_ticks:
        x = xs(tick)
        body.append(_line(x, plot_bottom, x, plot_bottom + 6, class_="axis", stroke=INK))
        body.append(
            _text(
                x,
                plot_bottom + LINE_HEIGHT + 2,
                _tick_text(tick, lang),
                cls="tick",
                anchor="middle",
            )
        )
    body.append(_line(_PLOT_LEFT, plot_bottom, _PLOT_RIGHT, plot_bottom, class_="axis", stroke=INK))
    for index, line in enumerate(_wrap(x_label, VIEW_WIDTH - 2 * MARGIN)):
        y = plot_bottom + LINE_HEIGHT * (index + 2) + 6
        body.append(_text(VIEW_WIDTH / 2, y, line, cls="axis-label", anchor="middle"))
    by_level: dict[float, list[FunnelLimit]] = {}
    for lim in limits:
        if n0 <= lim.n <= n1:
            by_level.setdefault(lim.level, []).append(lim)
    for level, rows in sorted(by_level.items()):
        rows.sort(key=lambda r: r.n)
        dashed = "7 5" if level >= 0.99 else None
        for side in ("low", "high"):
            pts = [(xs(r.n), y_of(getattr(r, side))) for r in rows]
            body.append(
                _tag(
                    "polyline",
                    {
                        "class": f"limit {_level_class(level)} limit-{side}",
                        "data-level": f"{level:g}",
                        "points": _points(pts),
                        "fill": "none",
                        "stroke": "#4d4d4d",
                        "stroke-width": 2,
                        "stroke-dasharray": dashed,
                    },
                )
            )
    body.append(
        _line(
            _PLOT_LEFT,
            ys(center),
            _PLOT_RIGHT,
            ys(center),
            class_="center",
            stroke=BLUE,
            stroke_width=2,
            data_value=_num(center),
        )
    )
    # Points: within first, outliers last so they are drawn on top.
    order = {"within": 0, "above_95": 1, "below_95": 1, "above_998": 2, "below_998": 2}
    for point in sorted(points, key=lambda p: (not p.muted, order[p.position])):
        shape, colour, size, outline = _POSITION_STYLE[point.position]
        if point.muted:
            marker = _marker(
                "circle",
                xs(point.n),
                y_of(point.estimate),
                5.5,
                fill="#ffffff",
                stroke=MUTED,
                stroke_width=2,
                stroke_dasharray="3 2",
                class_="point muted",
            )
        else:
            marker = _marker(
                shape,
                xs(point.n),
                y_of(point.estimate),
                size,
                fill=colour,
                stroke=INK if outline else "#ffffff",
                stroke_width=outline or 1.0,
                class_=f"point point-{point.position}",
            )
        group = _tag(
            "g",
            {"class": "mark", "data-n": _num(point.n), "data-estimate": _num(point.estimate)},
            _title(_full_tooltip(point.label, point.tooltip)) + marker,
        )
        body.append(_link(point.href, group))
    bottom = plot_bottom + LINE_HEIGHT * (len(_wrap(x_label, VIEW_WIDTH - 2 * MARGIN)) + 1) + 14
    items = []
    if center_label:
        items.append(_LegendItem(_line(-12, 0, 12, 0, stroke=BLUE, stroke_width=2), center_label))
    for level in sorted(by_level):
        if level in limit_labels:
            dashed = "7 5" if level >= 0.99 else None
            swatch = _line(-12, 0, 12, 0, stroke="#4d4d4d", stroke_width=2, stroke_dasharray=dashed)
            items.append(_LegendItem(swatch, limit_labels[level]))
    used = {p.position for p in points if not p.muted}
    for position in ("above_998", "above_95", "within", "below_95", "below_998"):
        if position_labels and position in position_labels and position in used:
            shape, colour, size, outline = _POSITION_STYLE[position]
            swatch = _marker(
                shape,
                0,
                0,
                size,
                fill=colour,
                stroke=INK if outline else "#ffffff",
                stroke_width=outline or 1.0,
            )
            items.append(_LegendItem(swatch, position_labels[position]))
    if muted_label and any(p.muted for p in points):
        swatch = _marker(
            "circle",
            0,
            0,
            5.5,
            fill="#ffffff",
            stroke=MUTED,
            stroke_width=2,
            stroke_dasharray="3 2",
        )
        items.append(_LegendItem(swatch, muted_label))
    legend, legend_height = _legend(items, bottom)
    body.extend(legend)
    return _svg(chart_id, "funnel", bottom + legend_height + MARGIN, title, description, body, lang)


# --------------------------------------------------------------------------------------------
# 3. Trend with an interval band

_TREND_HEIGHT = 260


def _runs(flags: Sequence[bool]) -> list[list[int]]:
    """Maximal runs of consecutive indices whose flag is true."""
    runs: list[list[int]] = []
    for index, flag in enumerate(flags):
        if not flag:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _label_stride(labels: Sequence[str], spacing: float) -> int:
    """Show every k-th x label so that labels ``spacing`` apart do not collide."""
    if len(labels) < 2 or spacing <= 0:
        return 1
    widest = max(_text_width(label) for label in labels) + 14
    return max(1, math.ceil(widest / spacing))


def trend_svg(
    points: Sequence[TrendPoint],
    *,
    title: str,
    description: str,
    y_label: str,
    lo: float | None = None,
    hi: float | None = None,
    band_label: str | None = None,
    line_label: str | None = None,
    muted_label: str | None = None,
    lang: str | None = None,
    chart_id: str | None = None,
) -> Markup:
    """A trend: a line through the estimates over periods, with a shaded interval band.

    Periods are evenly spaced in the given order. The line and band break where ``estimate`` (or
    an interval bound) is None; a period with an interval but no neighbour gets a whisker.
    Muted (suppressed) periods are drawn hollow and grey, and the band next to them is lighter.
    Every period is a hover target with its tooltip, including periods without an estimate. The
    x labels are thinned so that they do not collide on a phone; the newest is always shown.

    Parameters
    ----------
    points : sequence of TrendPoint
        The periods, oldest first.
    title, description : str
        Accessible name and description.
    y_label : str
        Label of the value axis, drawn above the plot.
    lo, hi : float, optional
        Value axis ends; by default from the data, padded and widened to round ticks.
    band_label, line_label, muted_label : str, optional
        Legend texts for the interval band, the estimate line and muted periods.
    lang, chart_id : str, optional
        As in :func:`ranked_intervals_svg`.

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``points`` is empty or holds no value at all.
    """
    if not points:
        raise ValueError("trend_svg needs at least one point")
    values = [v for p in points for v in (p.estimate, p.low, p.high) if v is not None]
    if not values and (lo is None or hi is None):
        raise ValueError("trend_svg needs a value or both axis ends")
    chart_id = chart_id or _chart_id("trend", points, title)
    body: list[str] = []
    top = MARGIN
    for line in _wrap(y_label, VIEW_WIDTH - 2 * MARGIN):
        top += LINE_HEIGHT
        body.append(_text(MARGIN, top - 6, line, cls="axis-label"))
    plot_top = top + 12
    plot_bottom = plot_top + _TREND_HEIGHT
    d0, d1, ticks = _nice_domain(values or [lo or 0.0, hi or 1.0], lo, hi, bounds=(0.0, 100.0))
    ys = _Linear(d0, d1, plot_bottom, plot_top)

    def y_of(value: float) -> float:
        return ys(min(max(value, d0), d1))

    body.extend(_y_axis(ys, ticks, _PLOT_LEFT, _PLOT_RIGHT, lang))
    inset = max(12.0, max(_text_width(p.label) for p in points) / 2 + 2)
    x_first = _PLOT_LEFT + inset
    x_last = min(_PLOT_RIGHT - 8, VIEW_WIDTH - MARGIN - inset)
    count = len(points)
    spacing = (x_last - x_first) / (count - 1) if count > 1 else 0.0
    xs = [x_first + i * spacing for i in range(count)] if count > 1 else [(x_first + x_last) / 2]
    stride = _label_stride([p.label for p in points], spacing)
    body.append(_line(_PLOT_LEFT, plot_bottom, _PLOT_RIGHT, plot_bottom, class_="axis", stroke=INK))
    for index, point in enumerate(points):
        body.append(_line(xs[index], plot_bottom, xs[index], plot_bottom + 5, stroke=INK))
        if (count - 1 - index) % stride == 0:
            body.append(
                _text(
                    xs[index],
                    plot_bottom + LINE_HEIGHT + 2,
                    point.label,
                    cls="tick x-tick",
                    anchor="middle",
                )
            )
    # The band: one polygon per run of segments that share a lightness.
    spans = {
        i: (p.low, p.high) for i, p in enumerate(points) if p.low is not None and p.high is not None
    }
    estimates = {i: p.estimate for i, p in enumerate(points) if p.estimate is not None}
    has_band = [i in spans for i in range(count)]
    segments = [has_band[i] and has_band[i + 1] for i in range(count - 1)]
    light = [points[i].muted or points[i + 1].muted for i in range(count - 1)]
    for flag in (False, True):
        wanted = [seg and light[i] == flag for i, seg in enumerate(segments)]
        for run in _runs(wanted):
            indices = [*run, run[-1] + 1]
            upper = [(xs[i], y_of(spans[i][1])) for i in indices]
            lower = [(xs[i], y_of(spans[i][0])) for i in reversed(indices)]
            body.append(
                _tag(
                    "polygon",
                    {
                        "class": "band" + (" muted" if flag else ""),
                        "points": _points(upper + lower),
                        "fill": MUTED if flag else BLUE,
                        "fill-opacity": 0.12 if flag else 0.25,
                        "stroke": "none",
                    },
                )
            )
    for index, point in enumerate(points):
        joined = (index > 0 and segments[index - 1]) or (index < count - 1 and segments[index])
        if has_band[index] and not joined:
            body.append(
                _line(
                    xs[index],
                    y_of(spans[index][0]),
                    xs[index],
                    y_of(spans[index][1]),
                    class_="whisker",
                    stroke=MUTED if point.muted else BLUE,
                    stroke_width=3,
                    stroke_opacity=0.6,
                )
            )
    for run in _runs([i in estimates for i in range(count)]):
        if len(run) < 2:
            continue
        pts = [(xs[i], y_of(estimates[i])) for i in run]
        body.append(
            _tag(
                "polyline",
                {
                    "class": "trend-line",
                    "points": _points(pts),
                    "fill": "none",
                    "stroke": BLUE,
                    "stroke-width": 3,
                    "stroke-linejoin": "round",
                },
            )
        )
    half = spacing / 2 if count > 1 else (x_last - x_first) / 2 + inset
    dot = max(3.0, min(5.5, spacing * 0.3)) if count > 1 else 5.5  # dots apart when many
    for index, point in enumerate(points):
        parts = [_title(point.tooltip)]
        parts.append(
            _tag(
                "rect",
                {
                    "class": "hover",
                    "x": float(max(_PLOT_LEFT, xs[index] - half)),
                    "y": float(plot_top),
                    "width": float(2 * half),
                    "height": float(plot_bottom - plot_top),
                    "fill": "#ffffff",
                    "fill-opacity": 0,
                },
            )
        )
        if point.estimate is not None:
            parts.append(
                _marker(
                    "circle",
                    xs[index],
                    y_of(point.estimate),
                    dot,
                    class_="point" + (" muted" if point.muted else ""),
                    fill="#ffffff" if point.muted else BLUE,
                    stroke=MUTED if point.muted else "#ffffff",
                    stroke_width=2 if point.muted or dot >= 5 else 1,
                    stroke_dasharray="3 2" if point.muted else None,
                )
            )
        cls = "period" + (" gap" if point.estimate is None else "")
        cls += " muted" if point.muted else ""
        attrs = {"class": cls, "data-index": index}
        if point.estimate is not None:
            attrs["data-estimate"] = _num(point.estimate)
        body.append(_tag("g", attrs, "".join(parts)))
    bottom = plot_bottom + LINE_HEIGHT + 14
    items = []
    if line_label:
        swatch = _line(-12, 0, 12, 0, stroke=BLUE, stroke_width=3) + _marker(
            "circle", 0, 0, 5.5, fill=BLUE, stroke="#ffffff", stroke_width=2
        )
        items.append(_LegendItem(swatch, line_label))
    if band_label:
        swatch = _tag(
            "rect",
            {"x": -12, "y": -8, "width": 24, "height": 16, "fill": BLUE, "fill-opacity": 0.25},
        )
        items.append(_LegendItem(swatch, band_label))
    if muted_label and any(p.muted for p in points):
        swatch = _marker(
            "circle",
            0,
            0,
            5.5,
            fill="#ffffff",
            stroke=MUTED,
            stroke_width=2,
            stroke_dasharray="3 2",
        )
        items.append(_LegendItem(swatch, muted_label))
    legend, legend_height = _legend(items, bottom)
    body.extend(legend)
    return _svg(chart_id, "trend", bottom + legend_height + MARGIN, title, description, body, lang)


# --------------------------------------------------------------------------------------------
# 4. Importance-performance grid

_IPA_HEIGHT = 340
_QUADRANTS = (
    # (name, colour, text colour) in the order of quadrant_labels
    ("concentrate", "#B34700", "#ffffff"),  # high importance, low performance (dark vermillion:
    # 5.5:1 on white, for its label text)
    ("keep", BLUE, "#ffffff"),  # high importance, high performance
    ("low-priority", "#4d4d4d", "#ffffff"),  # low importance, low performance
    ("overkill", "#007A5A", "#ffffff"),  # low importance, high performance
)


def importance_performance_svg(
    points: Sequence[IpaPoint],
    *,
    x_cross: float,
    y_cross: float,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    quadrant_labels: tuple[str, str, str, str],
    lang: str | None = None,
    chart_id: str | None = None,
) -> Markup:
    """An importance-performance grid: criteria by performance (x) and importance (y).

    Dashed cross-hairs at ``x_cross`` / ``y_cross`` (usually the means) split the plot into four
    quadrants, each named in its corner. Points are numbered circles, coloured by quadrant (the
    high-importance, low-performance one also tinted behind); a numbered key under the plot
    gives each criterion's label, so that long labels never collide on a phone.

    Parameters
    ----------
    points : sequence of IpaPoint
        The criteria; numbered 1, 2, ... in this order.
    x_cross, y_cross : float
        Where the cross-hairs cross (performance, importance).
    title, description : str
        Accessible name and description.
    x_label, y_label : str
        Axis labels (performance under the plot, importance above it).
    quadrant_labels : tuple of four str
        Names of the quadrants in the order: high importance & low performance (e.g.
        "Concentrate here"), high importance & high performance ("Keep up the good work"),
        low importance & low performance ("Low priority"), low importance & high performance
        ("Possible overkill").
    lang, chart_id : str, optional
        As in :func:`ranked_intervals_svg`.

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``points`` is empty or the crossing is not finite.
    """
    if not points:
        raise ValueError("importance_performance_svg needs at least one point")
    _check_finite("importance_performance_svg", x_cross=x_cross, y_cross=y_cross)
    if len(quadrant_labels) != 4:
        raise ValueError("quadrant_labels must hold four labels")
    chart_id = chart_id or _chart_id("ipa", points, x_cross, y_cross, title)
    body: list[str] = []
    top = MARGIN
    for line in _wrap(y_label, VIEW_WIDTH - 2 * MARGIN):
        top += LINE_HEIGHT
        body.append(_text(MARGIN, top - 6, line, cls="axis-label"))
    plot_top = top + 12
    plot_bottom = plot_top + _IPA_HEIGHT
    bounds = (0.0, 100.0)
    x0, x1, x_ticks = _nice_domain(
        [p.performance for p in points] + [x_cross], None, None, bounds=bounds
    )
    y0, y1, y_ticks = _nice_domain(
        [p.importance for p in points] + [y_cross], None, None, bounds=bounds
    )
    xs = _Linear(x0, x1, _PLOT_LEFT, _PLOT_RIGHT)
    ys = _Linear(y0, y1, plot_bottom, plot_top)
    cx, cy = xs(x_cross), ys(y_cross)
    body.append(
        _tag(
            "rect",
            {
                "class": "quadrant-concentrate",
                "x": float(_PLOT_LEFT),
                "y": float(plot_top),
                "width": float(cx - _PLOT_LEFT),
                "height": float(cy - plot_top),
                "fill": VERMILLION,
                "fill-opacity": 0.08,
            },
        )
    )
    body.extend(_y_axis(ys, y_ticks, _PLOT_LEFT, _PLOT_RIGHT, lang))
    body.extend(_x_axis(xs, x_ticks, plot_top, plot_bottom, x_label, lang))
    cross = {"class_": "cross", "stroke": INK, "stroke_width": 2, "stroke_dasharray": "6 4"}
    body.append(_line(cx, plot_top, cx, plot_bottom, **cross))
    body.append(_line(_PLOT_LEFT, cy, _PLOT_RIGHT, cy, **cross))
    corners = (
        (_PLOT_LEFT + 6, plot_top, cx - _PLOT_LEFT - 12, "start", False),
        (_PLOT_RIGHT - 6, plot_top, _PLOT_RIGHT - cx - 12, "end", False),
        (_PLOT_LEFT + 6, plot_bottom, cx - _PLOT_LEFT - 12, "start", True),
        (_PLOT_RIGHT - 6, plot_bottom, _PLOT_RIGHT - cx - 12, "end", True),
    )
    for (name, colour, _), label, (x, edge, width, anchor, bottom_edge) in zip(
        _QUADRANTS, quadrant_labels, corners, strict=True
    ):
        lines = _wrap(label, max(width, 90.0) / 1.1)  # bold text is wider
        for i, line in enumerate(lines):
            if bottom_edge:
                y = edge - 8 - (len(lines) - 1 - i) * LINE_HEIGHT
            else:
                y = edge + FONT_SIZE + 2 + i * LINE_HEIGHT
            body.append(
                _text(
                    x,
                    y,
                    line,
                    cls=f"quadrant-label quadrant-{name}",
                    anchor=anchor,
                    weight="600",
                    fill=colour,
                )
            )
    radius = 13.0
    for number, point in enumerate(points, start=1):
        high_importance = point.importance >= y_cross
        high_performance = point.performance >= x_cross
        quadrant = _QUADRANTS[(0 if high_importance else 2) + (1 if high_performance else 0)]
        x, y = xs(point.performance), ys(point.importance)
        mark = _marker(
            "circle",
            x,
            y,
            radius,
            fill=quadrant[1],
            stroke="#ffffff",
            stroke_width=2,
            class_=f"point quadrant-{quadrant[0]}",
        )
        mark += _text(
            x,
            y + FONT_SIZE * 0.35,
            str(number),
            cls="point-number",
            anchor="middle",
            weight="700",
            fill=quadrant[2],
        )
        attrs = {
            "class": "mark",
            "data-performance": _num(point.performance),
            "data-importance": _num(point.importance),
        }
        body.append(_tag("g", attrs, _title(_full_tooltip(point.label, point.tooltip)) + mark))
    y = plot_bottom + _axis_label_height(x_label) + LINE_HEIGHT / 2 + 6
    for number, point in enumerate(points, start=1):
        tag = f"{number}"
        key = _text(
            MARGIN + 24, y + FONT_SIZE * 0.35, tag, cls="key-number", anchor="end", weight="700"
        )
        key += _text(
            MARGIN + 34,
            y + FONT_SIZE * 0.35,
            _fit(point.label, VIEW_WIDTH - 2 * MARGIN - 34),
            cls="key-label",
        )
        body.append(
            _tag("g", {"class": "key"}, _title(_full_tooltip(point.label, point.tooltip)) + key)
        )
        y += LINE_HEIGHT + 2
    return _svg(chart_id, "ipa", y + MARGIN, title, description, body, lang)


# --------------------------------------------------------------------------------------------
# 5. Horizontal bars with interval whiskers


def bars_svg(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    axis_label: str,
    lo: float = 0.0,
    hi: float | None = None,
    muted_label: str | None = None,
    lang: str | None = None,
    chart_id: str | None = None,
) -> Markup:
    """Horizontal bars from ``lo`` (0 by default) to each value, with interval whiskers.

    For breakdowns (by procedure field, counter, channel...). Labels are on the left as in
    :func:`ranked_intervals_svg`; muted (suppressed) bars are hatched grey with a dashed whisker.

    Parameters
    ----------
    bars : sequence of Bar
        The bars, top to bottom.
    title, description : str
        Accessible name and description.
    axis_label : str
        Label under the value axis (say which interval level the whiskers show).
    lo : float
        Where bars start (keep 0 for lengths proportional to values).
    hi : float, optional
        Axis end; by default from the largest upper bound, widened to a round tick.
    muted_label : str, optional
        Legend text for muted bars, drawn when some bar is muted.
    lang, chart_id : str, optional
        As in :func:`ranked_intervals_svg`.

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``bars`` is empty.
    """
    if not bars:
        raise ValueError("bars_svg needs at least one bar")
    chart_id = chart_id or _chart_id("bars", bars, title)
    values = [v for b in bars for v in (b.value, b.low, b.high)] + [lo]
    d0, d1, ticks = _nice_domain(values, lo, hi, bounds=(0.0, 100.0))
    scale = _Linear(d0, d1, _ROW_LABEL_WIDTH + 12, _PLOT_RIGHT)

    def x_of(value: float) -> float:
        return scale(min(max(value, d0), d1))

    hatch = f"{chart_id}-hatch"
    body = [
        "<defs>"
        + _tag(
            "pattern",
            {
                "id": hatch,
                "width": 8,
                "height": 8,
                "patternUnits": "userSpaceOnUse",
                "patternTransform": "rotate(45)",
            },
            _tag("rect", {"width": 8, "height": 8, "fill": "#e6e6e6"})
            + _line(0, 0, 0, 8, stroke=MUTED, stroke_width=3),
        )
        + "</defs>"
    ]
    plot_top = MARGIN + 4
    y = plot_top
    for index, bar in enumerate(bars):
        height = _row_height(bar.label)
        mid = y + height / 2
        colour = MUTED if bar.muted else INK
        parts = [
            _title(_full_tooltip(bar.label, bar.tooltip)),
            _row_frame(index, y, height, bar.label, [scale(t) for t in ticks]),
        ]
        start, end = sorted((x_of(lo), x_of(bar.value)))
        parts.append(
            _tag(
                "rect",
                {
                    "class": "bar" + (" muted" if bar.muted else ""),
                    "x": float(start),
                    "y": float(mid - 9),
                    "width": float(end - start),
                    "height": 18.0,
                    "fill": f"url(#{hatch})" if bar.muted else SKY,
                    "stroke": MUTED if bar.muted else BLUE,
                    "stroke-width": 1,
                    "data-value": _num(bar.value),
                },
            )
        )
        parts.append(
            _line(
                x_of(bar.low),
                mid,
                x_of(bar.high),
                mid,
                class_="interval",
                stroke=colour,
                stroke_width=2,
                stroke_dasharray="4 3" if bar.muted else None,
            )
        )
        for bound in (bar.low, bar.high):
            parts.append(
                _line(
                    x_of(bound),
                    mid - 7,
                    x_of(bound),
                    mid + 7,
                    class_="cap",
                    stroke=colour,
                    stroke_width=2,
                )
            )
        cls = "row" + (" muted" if bar.muted else "")
        body.append(_tag("g", {"class": cls}, "".join(parts)))
        y += height
    plot_bottom = y
    body.extend(_x_axis(scale, ticks, plot_top, plot_bottom, axis_label, lang, grid=False))
    body.append(_line(x_of(lo), plot_top, x_of(lo), plot_bottom, class_="axis", stroke=INK))
    bottom = plot_bottom + _axis_label_height(axis_label)
    items = []
    if muted_label and any(b.muted for b in bars):
        swatch = _tag(
            "rect",
            {
                "x": -12,
                "y": -8,
                "width": 24,
                "height": 16,
                "fill": f"url(#{hatch})",
                "stroke": MUTED,
            },
        )
        items.append(_LegendItem(swatch, muted_label))
    legend, legend_height = _legend(items, bottom)
    body.extend(legend)
    return _svg(chart_id, "bars", bottom + legend_height + MARGIN, title, description, body, lang)
