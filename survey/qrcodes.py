"""QR codes for counters and dossier receipts: URLs, PNG/SVG images and printable sheets.

Two kinds of QR code lead a citizen to the questionnaire:

* a **counter QR** (static, stuck on the counter): ``{base}/s/{counter_code}``, optionally
  ``?f={field_code}`` when the sticker is for one procedure field;
* a **dossier QR** (printed on the receipt): ``{base}/d/{token}``, where the token is a signed,
  expiring, single-use token from :mod:`survey.tokens`.

Images use error-correction level M (15 % of the symbol can be damaged), which keeps the symbol
small enough to scan from a receipt. The functions here are pure (except :func:`render_sheet`,
which renders a template); the ``sipas qr`` commands, which need the application for unit names,
live in :mod:`survey.qr_cli`.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

import qrcode
import qrcode.constants
from markupsafe import Markup
from qrcode.image.pure import PyPNGImage
from qrcode.image.svg import SvgPathImage

__all__ = [
    "SHEET_SIZES",
    "SheetEntry",
    "SheetSize",
    "counter_url",
    "download_name",
    "dossier_url",
    "kiosk_url",
    "qr_png",
    "qr_svg",
    "render_sheet",
]

SheetSize = Literal["a4", "a6"]
SHEET_SIZES: tuple[str, ...] = ("a4", "a6")
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def _base(base_url: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base URL must start with http:// or https://, got {base_url!r}")
    return base_url.rstrip("/")


def counter_url(base_url: str, counter_code: str, field_code: str | None = None) -> str:
    """Return the URL of a counter's QR code: ``{base}/s/{counter_code}[?f={field_code}]``."""
    if not counter_code:
        raise ValueError("counter_code must not be empty")
    url = f"{_base(base_url)}/s/{quote(counter_code, safe='')}"
    if field_code:
        url += "?" + urlencode({"f": field_code})
    return url


_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(counter_code: str, extension: str, field_code: str | None = None) -> str:
    """Return the file name of a counter's QR download: ``qr-{counter}[-{field}].{extension}``.

    Codes are reduced to ASCII letters, digits, ``.``, ``_`` and ``-`` (accents dropped, anything
    else becomes ``_``) so that the name is safe in a ``Content-Disposition`` header on any system.
    """

    def safe(code: str) -> str:
        ascii_code = unicodedata.normalize("NFKD", code.replace("đ", "d").replace("Đ", "D"))
        ascii_code = ascii_code.encode("ascii", "ignore").decode("ascii")
        return _UNSAFE_IN_FILENAME.sub("_", ascii_code) or "_"

    parts = ["qr", safe(counter_code), *([safe(field_code)] if field_code else [])]
    return f"{'-'.join(parts)}.{safe(extension)}"


def kiosk_url(base_url: str, counter_code: str) -> str:
    """Return the URL a kiosk tablet at the counter opens: ``{base}/k/{counter_code}``."""
    if not counter_code:
        raise ValueError("counter_code must not be empty")
    return f"{_base(base_url)}/k/{quote(counter_code, safe='')}"


def dossier_url(base_url: str, token: str) -> str:
    """Return the URL of a dossier QR code: ``{base}/d/{token}``."""
    if not token:
        raise ValueError("token must not be empty")
    return f"{_base(base_url)}/d/{quote(token, safe='.-_')}"


def _qr(data: str, image_factory: type, box_size: int, border: int) -> qrcode.QRCode:
    if not data:
        raise ValueError("cannot encode empty data in a QR code")
    qr = qrcode.QRCode(
        error_correction=_ERROR_CORRECTION,
        box_size=box_size,
        border=border,
        image_factory=image_factory,
    )
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png(data: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """Render ``data`` as a black-on-white PNG (``box_size`` pixels per module)."""
    buffer = io.BytesIO()
    _qr(data, PyPNGImage, box_size, border).make_image().save(buffer)
    return buffer.getvalue()


_SVG_SIZE = re.compile(r'<svg width="[^"]*" height="[^"]*"')


def qr_svg(data: str, *, size: str | None = None, title: str | None = None) -> str:
    """Render ``data`` as an SVG document (a single path, scalable, white background).

    Parameters
    ----------
    size
        A CSS length for width and height (``"60mm"``); the natural size in mm when omitted.
    title
        Accessible name (an SVG ``<title>``); useful when the SVG is inlined in a page.
    """
    image = _qr(data, SvgPathImage, 10, 4).make_image()
    svg = image.to_string(encoding="unicode")
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    if size is not None:
        svg = _SVG_SIZE.sub(f'<svg width="{size}" height="{size}"', svg, count=1)
    head = '<svg role="img"'
    if title:
        escaped = str(Markup.escape(title))
        svg = svg.replace(">", f"><title>{escaped}</title>", 1)
    svg = svg.replace("<svg", head, 1)
    # A white background so that the code scans on coloured paper or a dark screen.
    return svg.replace("<path", '<rect width="100%" height="100%" fill="#fff"/><path', 1)


@dataclass(frozen=True, slots=True)
class SheetEntry:
    """One counter on a printable sheet.

    Attributes
    ----------
    agency_name_vi, agency_name_en : str
        Agency name; the English name may be blank.
    counter_name_vi, counter_name_en : str
        Counter name; the English name may be blank.
    url : str
        What the QR code encodes (a counter URL).
    field_name_vi : str or None
        The field the QR code fixes, if any.
    """

    agency_name_vi: str
    agency_name_en: str
    counter_name_vi: str
    counter_name_en: str
    url: str
    field_name_vi: str | None = None


def render_sheet(entries: Iterable[SheetEntry], size: SheetSize = "a4") -> str:
    """Render a print-ready HTML sheet: one page per counter, A4 or A6.

    The page carries the agency and counter names, the QR code (inline SVG), a short instruction
    in Vietnamese with an English line (with the time the form takes, the estimate the form page
    shows), and the URL in text for people who cannot scan. It needs an application context (it
    uses the ``qr/sheet.html`` template and the default form).
    """
    from flask import render_template

    from survey.citizen.pages import answer_minutes, default_form
    from survey.security import allow_inline_style

    if size not in SHEET_SIZES:
        raise ValueError(f"sheet size must be one of {', '.join(SHEET_SIZES)}, got {size!r}")
    items: Sequence[SheetEntry] = list(entries)
    if not items:
        raise ValueError("a sheet needs at least one counter")
    qr_size = "150mm" if size == "a4" else "80mm"
    pages = [
        {"entry": entry, "svg": Markup(qr_svg(entry.url, size=qr_size, title=entry.url))}
        for entry in items
    ]
    css = render_template("qr/sheet.css", size=size)
    allow_inline_style(css)  # the sheet must also work as a file: its stylesheet is inline
    minutes = answer_minutes(default_form())  # the same estimate as the form page says
    return render_template(
        "qr/sheet.html", pages=pages, size=size, css=Markup(css), minutes=minutes
    )
