"""The query parameters every report page shares, parsed and checked once.

``from``, ``to`` (``YYYY-MM``), ``unit``, ``field``, ``channel``, ``form`` (``ID`` or
``ID@VERSION``), ``weights`` (``none`` or ``frame``), ``ci`` (``logit``, ``beta``, ``wilson``,
``wald``), ``level`` (e.g. ``0.95``), ``exclude`` (comma-separated quality flags, or ``none``),
``lang``, ``format`` (``html``, ``csv``, ``xlsx``, ``print``), and on some pages ``sort``, ``q``
and ``trend``. An unknown parameter or a bad value raises :class:`BadParameter` (a 400 that
names the parameter); nothing falls back to a default silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from survey.quality import FLAGS
from survey.submissions import CHANNELS

__all__ = [
    "CI_METHODS",
    "DEFAULT_EXCLUDED",
    "FORMATS",
    "BadParameter",
    "ReportParams",
    "month_start",
    "parse_params",
]

CI_METHODS = ("logit", "beta", "wilson", "wald")
FORMATS = ("html", "csv", "xlsx", "print")
WEIGHTINGS = ("none", "frame")
TRENDS = ("month", "quarter")
# Flagged as bots (a hidden field was filled in): left out unless ``exclude=none`` asks otherwise.
DEFAULT_EXCLUDED: tuple[str, ...] = ("honeypot",)
SHARED = ("from", "to", "unit", "field", "channel", "form", "weights", "ci", "level", "exclude")
_OTHER = ("lang", "format")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_FORM = re.compile(r"^([a-z0-9][a-z0-9\-]{0,63})(?:@(\d{1,4}))?$")
MAX_MONTHS = 60

Format = Literal["html", "csv", "xlsx", "print"]


class BadParameter(ValueError):
    """A query parameter that is unknown or has a bad value (answered 400)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def month_start(year: int, month: int) -> datetime:
    """Midnight UTC on the first day of the month."""
    return datetime(year, month, 1, tzinfo=UTC)


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


@dataclass(frozen=True, slots=True)
class ReportParams:
    """The checked parameters of one report request.

    ``first`` and ``last`` are the first and last month of the period, as ``(year, month)``.
    ``reference`` is the day whose units the figures are reported under (merged units under
    their successors, :mod:`analysis.lineage`): by default the last day of the period; the
    previous period of a comparison keeps the reference of the period it is compared with.
    """

    first: tuple[int, int]
    last: tuple[int, int]
    unit: str | None = None
    field_code: str | None = None
    channel: str | None = None
    form_id: str | None = None
    form_version: int | None = None
    weights: str = "none"
    ci: str = "logit"
    level: float = 0.95
    exclude: tuple[str, ...] = DEFAULT_EXCLUDED
    format: Format = "html"
    extra: Mapping[str, str] = field(default_factory=dict)
    reference: date | None = None

    @property
    def since(self) -> datetime:
        """The start of the period (inclusive)."""
        return month_start(*self.first)

    @property
    def until(self) -> datetime:
        """The end of the period (exclusive): the first day after its last month."""
        return month_start(*_add_months(*self.last, 1))

    @property
    def lineage_date(self) -> date:
        """The day whose units the figures are reported under (see ``reference``)."""
        return self.reference or (self.until - timedelta(days=1)).date()

    @property
    def months(self) -> int:
        return (self.last[0] - self.first[0]) * 12 + self.last[1] - self.first[1] + 1

    def previous(self) -> ReportParams:
        """The period of the same length just before this one (for changes)."""
        return replace(
            self,
            first=_add_months(*self.first, -self.months),
            last=_add_months(*self.first, -1),
            reference=self.lineage_date,
        )

    @property
    def period_label(self) -> str:
        first = f"{self.first[1]:02d}/{self.first[0]}"
        last = f"{self.last[1]:02d}/{self.last[0]}"
        return first if first == last else f"{first}–{last}"

    def query(self, **changes: object) -> dict[str, str]:
        """The query string of these parameters (defaults left out), with ``changes`` applied.

        A change to ``None`` removes the parameter. Used to build links that keep the filters.
        """
        values: dict[str, str] = {
            "from": f"{self.first[0]}-{self.first[1]:02d}",
            "to": f"{self.last[0]}-{self.last[1]:02d}",
        }
        if self.unit:
            values["unit"] = self.unit
        if self.field_code:
            values["field"] = self.field_code
        if self.channel:
            values["channel"] = self.channel
        if self.form_id:
            values["form"] = self.form_id + (
                f"@{self.form_version}" if self.form_version is not None else ""
            )
        if self.weights != "none":
            values["weights"] = self.weights
        if self.ci != "logit":
            values["ci"] = self.ci
        if self.level != 0.95:
            values["level"] = f"{self.level:g}"
        if self.exclude != DEFAULT_EXCLUDED:
            values["exclude"] = ",".join(self.exclude) or "none"
        values.update(self.extra)
        for key, value in changes.items():
            key = key.rstrip("_")
            if value is None:
                values.pop(key, None)
            else:
                values[key] = str(value)
        return values


def _month(name: str, raw: str) -> tuple[int, int]:
    match = _MONTH.match(raw)
    if not match:
        raise BadParameter(name, f"use a month as YYYY-MM, e.g. 2026-07, not {raw!r}")
    return int(match.group(1)), int(match.group(2))


def _code(name: str, raw: str) -> str:
    if not _CODE.match(raw):
        raise BadParameter(name, f"{raw!r} is not a code (letters, digits, _ . -)")
    return raw


def parse_params(
    args: Mapping[str, str],
    *,
    today: date,
    page_params: tuple[str, ...] = (),
) -> ReportParams:
    """Check the query parameters of a report page.

    Parameters
    ----------
    args : mapping
        The query string (one value per name; repeated names are refused by the caller).
    today : date
        Sets the default period: the 12 months up to and including this month.
    page_params : tuple of str
        Extra names this page accepts (kept verbatim in :attr:`ReportParams.extra`).

    Raises
    ------
    BadParameter
        An unknown name or a bad value.
    """
    allowed = {*SHARED, *_OTHER, *page_params}
    for name in args:
        if name not in allowed:
            raise BadParameter(name, f"unknown parameter; use {', '.join(sorted(allowed))}")
    for name, raw in args.items():
        if "\x00" in raw or len(raw) > 200:
            raise BadParameter(name, "the value is not valid text")

    last = _month("to", args["to"]) if args.get("to") else (today.year, today.month)
    first = _month("from", args["from"]) if args.get("from") else _add_months(*last, -11)
    if first > last:
        raise BadParameter("from", "the period starts after it ends")
    months = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    if months > MAX_MONTHS:
        raise BadParameter("from", f"a period of at most {MAX_MONTHS} months")

    unit = _code("unit", args["unit"]) if args.get("unit") else None
    field_code = _code("field", args["field"]) if args.get("field") else None
    channel = args.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise BadParameter("channel", f"use one of {', '.join(CHANNELS)}")

    form_id = form_version = None
    if args.get("form"):
        match = _FORM.match(args["form"])
        if not match:
            raise BadParameter("form", "use a questionnaire id, optionally @version")
        form_id = match.group(1)
        form_version = int(match.group(2)) if match.group(2) else None

    weights = args.get("weights") or "none"
    if weights not in WEIGHTINGS:
        raise BadParameter("weights", f"use one of {', '.join(WEIGHTINGS)}")
    ci = args.get("ci") or "logit"
    if ci not in CI_METHODS:
        raise BadParameter("ci", f"use one of {', '.join(CI_METHODS)}")
    level = 0.95
    if args.get("level"):
        try:
            level = float(args["level"])
        except ValueError:
            raise BadParameter("level", "use a number such as 0.95") from None
        if not 0.5 <= level <= 0.999:
            raise BadParameter("level", "use a confidence level from 0.5 to 0.999")

    exclude = DEFAULT_EXCLUDED
    if "exclude" in args:
        raw = args["exclude"].strip()
        names = [] if raw in ("", "none") else [n.strip() for n in raw.split(",") if n.strip()]
        unknown = [n for n in names if n not in FLAGS]
        if unknown:
            raise BadParameter("exclude", f"use quality flags among {', '.join(FLAGS)}, or none")
        exclude = tuple(f for f in FLAGS if f in names)

    fmt = args.get("format") or "html"
    if fmt not in FORMATS:
        raise BadParameter("format", f"use one of {', '.join(FORMATS)}")

    extra = {name: args[name] for name in page_params if args.get(name)}
    return ReportParams(
        first=first,
        last=last,
        unit=unit,
        field_code=field_code,
        channel=channel,
        form_id=form_id,
        form_version=form_version,
        weights=weights,
        ci=ci,
        level=level,
        exclude=exclude,
        format=fmt,  # type: ignore[arg-type]
        extra=extra,
    )
