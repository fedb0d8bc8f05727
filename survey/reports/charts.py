"""Server-side SVG charts for the officials' report pages.

Pure functions: each takes frozen dataclasses and already-translated text, and returns one inline
``<svg>`` element as :class:`markupsafe.Markup`, to be placed directly in a page. The module holds
no user-facing text of its own.

Every chart

- scales with its container (``viewBox``, ``width="100%"``, no fixed height); the view box is
  :data:`VIEW_WIDTH` units wide and text is :data:`FONT_SIZE` units, so text stays at least
  11 px on a 320 px wide container;
- works under a Content-Security-Policy without inline styles: no ``style`` attribute or element,
  only SVG presentation attributes and ``class`` names, whose rules are in ``static/charts.css``;
- is an image for assistive technology (``role="img"``, ``<title>`` and ``<desc>`` referenced by
  ``aria-labelledby`` / ``aria-describedby``);
- draws marks with shape differences as well as colour-blind-safe colours (Okabe & Ito), greys
  and hollows muted (suppressed) values, and gives every mark a ``<title>`` tooltip;
- escapes every label, tooltip and link (unit names come from the database).
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
    "FunnelLimit",
    "FunnelPoint",
    "IntervalPoint",
    "IpaPoint",
    "TrendPoint",
    "funnel_svg",
    "ranked_intervals_svg",
    "suggested_x_scale",
]

VIEW_WIDTH = 520
"""Width of every chart's view box, in user units."""
FONT_SIZE = 18
"""Size of all chart text in user units: 18 / 520 x 320 px = 11.1 px on a 320 px container."""
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
GREEN = "#009E73"
PURPLE = "#CC79A7"
ZEBRA = "#f2f4f7"

_MARK_STYLE: dict[str, tuple[str, str]] = {
    # mark -> (shape, colour)
    "above": ("up", BLUE),
    "same": ("circle", "#4d4d4d"),
    "below": ("down", VERMILLION),
    "none": ("circle", INK),
}
_POSITION_STYLE: dict[str, tuple[str, str, float, bool]] = {
    # position -> (shape, colour, size, outlined)
    "above_998": ("up", BLUE, 9.0, True),
    "above_95": ("up", SKY, 7.5, False),
    "within": ("circle", "#4d4d4d", 5.5, False),
    "below_95": ("down", ORANGE, 7.5, False),
    "below_998": ("down", VERMILLION, 9.0, True),
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
        Comparison with the reference value: drawn as ▲, ● or ▼ in blue, grey or vermillion.
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
    """A circle (radius ``size``) or an up / down triangle (half-width ``size``) centred at x, y."""
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
    else:  # square
        pts = [
            (x - size, y - size),
            (x + size, y - size),
            (x + size, y + size),
            (x - size, y + size),
        ]
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
        lines.append(current)
        if len(lines) == max_lines - 1:
            current = " ".join(words[index:])
            break
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

    ``lo`` / ``hi`` fix the ends when given. Otherwise the data range is padded by 4 % (at least
    0.5) and widened to round ticks, without crossing ``bounds`` (0-100) when the data lie in it.
    """
    data_lo, data_hi = min(values), max(values)
    pad = max((data_hi - data_lo) * 0.04, 0.5)
    start = lo if lo is not None else data_lo - pad
    end = hi if hi is not None else data_hi + pad
    if end <= start:
        end = start + 1.0
    best: tuple[float, float, float, float] | None = None  # (badness, t0, t1, step)
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
            if best is None or badness < best[0]:
                best = (badness, t0, t1, step)
    assert best is not None  # the loops always run
    _, t0, t1, step = best
    return t0, t1, _ticks_in(t0, t1, step)


def _ticks_in(t0: float, t1: float, step: float) -> list[float]:
    first = math.ceil(t0 / step - 1e-9)
    last = math.floor(t1 / step + 1e-9)
    if last - first > 50:
        return []
    return [round(k * step, 10) for k in range(first, last + 1)]


def _tick_text(value: float) -> str:
    """A tick label: an integer when whole, else up to two decimals (locale-neutral)."""
    if abs(value - round(value)) < 1e-9:
        return str(int(round(value)))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _x_axis(
    scale: _Linear, ticks: Sequence[float], top: float, bottom: float, label: str
) -> list[str]:
    """Vertical grid lines from ``top`` to ``bottom``, tick labels and the axis label below."""
    out = []
    for tick in ticks:
        x = scale(tick)
        out.append(_line(x, top, x, bottom, class_="grid", stroke=GRID, stroke_width=1))
        out.append(_text(x, bottom + LINE_HEIGHT, _tick_text(tick), cls="tick", anchor="middle"))
    out.append(_line(scale.r0, bottom, scale.r1, bottom, class_="axis", stroke=INK, stroke_width=1))
    centre = VIEW_WIDTH / 2
    for index, line in enumerate(_wrap(label, VIEW_WIDTH - 2 * MARGIN)):
        y = bottom + LINE_HEIGHT * (index + 2) + 4
        out.append(_text(centre, y, line, cls="axis-label", anchor="middle"))
    return out


def _axis_label_height(label: str) -> float:
    return LINE_HEIGHT * (len(_wrap(label, VIEW_WIDTH - 2 * MARGIN)) + 1) + 10


def _y_axis(scale: _Linear, ticks: Sequence[float], left: float, right: float) -> list[str]:
    """Horizontal grid lines from ``left`` to ``right`` and tick labels left of ``left``."""
    out = []
    for tick in ticks:
        y = scale(tick)
        out.append(_line(left, y, right, y, class_="grid", stroke=GRID, stroke_width=1))
        out.append(
            _text(left - 6, y + FONT_SIZE * 0.35, _tick_text(tick), cls="tick", anchor="end")
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
    significantly above the reference, ● grey when not different, ▼ vermillion when below, ●
    black without a comparison; muted (suppressed) rows are grey, hollow and dashed.

    Parameters
    ----------
    points : sequence of IntervalPoint
        The rows, top to bottom.
    center : float or None
        Reference value (the province), drawn as a vertical dashed line; None for none.
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
        parts.append(
            _tag(
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
        )
        label_markup, _ = _row_label(point.label, MARGIN, mid)
        parts.append(label_markup)
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
    body.extend(_x_axis(scale, ticks, plot_top, plot_bottom, axis_label))
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
    if muted_label and any(p.muted for p in points):
        swatch = _line(-12, 0, 12, 0, stroke=MUTED, stroke_width=3, stroke_dasharray="5 3") + (
            _marker("circle", 0, 0, 6.5, fill="#ffffff", stroke=MUTED, stroke_width=2)
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


def _n_ticks(scale: _NScale) -> list[float]:
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
            half = _text_width(_tick_text(tick)) / 2
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
    (larger and outlined beyond the outer limit, blue above, orange / vermillion below), ● grey
    within; muted points are grey and hollow.

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

    body.extend(_y_axis(ys, ticks, _PLOT_LEFT, _PLOT_RIGHT))
    x_ticks = _n_ticks(xs)
    for tick in x_ticks:
        x = xs(tick)
        body.append(_line(x, plot_bottom, x, plot_bottom + 6, class_="axis", stroke=INK))
        body.append(
            _text(x, plot_bottom + LINE_HEIGHT + 2, _tick_text(tick), cls="tick", anchor="middle")
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
        shape, colour, size, outlined = _POSITION_STYLE[point.position]
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
                stroke=INK if outlined else "#ffffff",
                stroke_width=2 if outlined else 1,
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
            shape, colour, size, outlined = _POSITION_STYLE[position]
            swatch = _marker(
                shape,
                0,
                0,
                size,
                fill=colour,
                stroke=INK if outlined else "#ffffff",
                stroke_width=2 if outlined else 1,
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
