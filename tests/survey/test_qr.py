"""QR codes: URLs, PNG and SVG that a real decoder reads back, printable sheets, ``sipas qr``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import numpy as np
import png
import pytest
import zxingcpp

from survey import qrcodes
from survey.tokens import verify_dossier_token

TEST_SECRET = "test-secret-key-not-for-production"  # the one tests/survey/conftest.py uses


def decode_png(data: bytes) -> list[str]:
    """Decode every QR code in a PNG with zxing-cpp."""
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    pixels = np.array([list(row) for row in rows], dtype=np.uint8)
    if info["bitdepth"] == 1:
        pixels = pixels * 255
    pixels = pixels.reshape(height, width, -1)[:, :, 0]
    return [result.text for result in zxingcpp.read_barcodes(pixels)]


def decode_svg(svg: str) -> list[str]:
    """Rasterise the unit squares of a qrcode path SVG and decode them."""
    root = ET.fromstring(svg)
    view = [float(v) for v in root.attrib["viewBox"].split()]
    size = int(view[2])
    path = next(el for el in root.iter() if el.tag.endswith("path"))
    matrix = np.full((size, size), 255, dtype=np.uint8)
    for x, y in re.findall(r"M(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)H", path.attrib["d"]):
        matrix[int(float(y)), int(float(x))] = 0
    return [
        result.text for result in zxingcpp.read_barcodes(np.kron(matrix, np.ones((8, 8), np.uint8)))
    ]


# --- URLs ---------------------------------------------------------------------------------------


def test_counter_url_with_and_without_field() -> None:
    assert qrcodes.counter_url("https://hcc.example.gov.vn/", "Q-01") == (
        "https://hcc.example.gov.vn/s/Q-01"
    )
    assert qrcodes.counter_url("http://127.0.0.1:5000", "Q 1", "HT") == (
        "http://127.0.0.1:5000/s/Q%201?f=HT"
    )


def test_download_name_is_header_safe() -> None:
    assert qrcodes.download_name("Q1", "png") == "qr-Q1.png"
    assert qrcodes.download_name("Q-01", "svg", "HT") == "qr-Q-01-HT.svg"
    assert qrcodes.download_name('Quầy "1"', "png", "Đất đai") == "qr-Quay_1_-Dat_dai.png"
    assert qrcodes.download_name("Q1", "png", "") == "qr-Q1.png"


def test_kiosk_and_dossier_urls() -> None:
    assert qrcodes.kiosk_url("http://h", "Q1") == "http://h/k/Q1"
    assert qrcodes.dossier_url("http://h/", "abc.def-_g") == "http://h/d/abc.def-_g"


@pytest.mark.parametrize("base", ["", "ftp://x", "127.0.0.1:5000"])
def test_base_url_must_be_http(base: str) -> None:
    with pytest.raises(ValueError, match="http"):
        qrcodes.counter_url(base, "Q1")


def test_empty_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        qrcodes.counter_url("http://h", "")
    with pytest.raises(ValueError):
        qrcodes.dossier_url("http://h", "")
    with pytest.raises(ValueError):
        qrcodes.qr_png("")


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000/s/Q1", "https://dichvucong.example.gov.vn/s/UBND-01?f=DD"]
)
def test_png_decodes_to_the_url(url: str) -> None:
    data = qrcodes.qr_png(url)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_png(data) == [url]


def test_long_dossier_url_still_decodes() -> None:
    url = qrcodes.dossier_url("https://dichvucong.example.gov.vn", "x" * 160)
    assert decode_png(qrcodes.qr_png(url)) == [url]
    assert decode_svg(qrcodes.qr_svg(url)) == [url]


def test_svg_is_well_formed_sized_titled_and_decodes() -> None:
    url = "http://127.0.0.1:5000/s/Q1"
    svg = qrcodes.qr_svg(url, size="60mm", title="Quầy <1>")
    root = ET.fromstring(svg)
    assert root.attrib["width"] == root.attrib["height"] == "60mm"
    assert root.attrib["role"] == "img"
    title = next(el for el in root.iter() if el.tag.endswith("title"))
    assert title.text == "Quầy <1>"
    assert not svg.startswith("<?xml")
    assert decode_svg(svg) == [url]


# --- sheets -------------------------------------------------------------------------------------


def _entry(n: int = 1) -> qrcodes.SheetEntry:
    return qrcodes.SheetEntry(
        agency_name_vi="Sở Tư pháp",
        agency_name_en="Department of Justice",
        counter_name_vi=f"Quầy số {n}",
        counter_name_en=f"Counter {n}",
        url=f"http://127.0.0.1:5000/s/Q{n}",
        field_name_vi="Hộ tịch",
    )


@pytest.mark.parametrize(("size", "page"), [("a4", "210mm 297mm"), ("a6", "105mm 148mm")])
def test_sheet_has_page_size_names_instruction_and_url(app, size: str, page: str) -> None:
    with app.test_request_context():
        html = qrcodes.render_sheet([_entry(1), _entry(2)], size)  # type: ignore[arg-type]
    assert f"size: {page};" in html
    assert html.count('<section class="sheet">') == 2
    assert html.count("<svg") == 2
    for text in ("Sở Tư pháp", "Quầy số 1", "Quầy số 2", "Hộ tịch", "http://127.0.0.1:5000/s/Q2"):
        assert text in html
    assert "Quét mã QR để đánh giá mức độ hài lòng" in html
    assert "Scan the QR code" in html
    assert '<html lang="vi">' in html


def test_sheet_rejects_bad_size_and_empty_list(app) -> None:
    with app.test_request_context():
        with pytest.raises(ValueError, match="size"):
            qrcodes.render_sheet([_entry()], "letter")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one"):
            qrcodes.render_sheet([], "a4")


# --- sipas qr -----------------------------------------------------------------------------------


def test_cli_counter_png_and_svg(runner, make_counter, make_field, tmp_path: Path) -> None:
    make_field("HT")
    make_counter("Q1")
    result = runner.invoke(
        ["qr", "counter", "Q1", "--field", "HT", "--out", str(tmp_path / "a.png")]
    )
    assert result.exit_code == 0, result.output
    url = "http://127.0.0.1:5000/s/Q1?f=HT"
    assert url in result.output
    assert decode_png((tmp_path / "a.png").read_bytes()) == [url]
    result = runner.invoke(
        ["qr", "counter", "Q1", "--format", "svg", "--out", str(tmp_path / "a.img"),
         "--base-url", "https://hcc.example.vn"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert decode_svg((tmp_path / "a.img").read_text()) == ["https://hcc.example.vn/s/Q1"]


def test_cli_counter_errors(runner, make_counter, tmp_path: Path) -> None:
    make_counter("Q1")
    result = runner.invoke(["qr", "counter", "NOPE", "--out", str(tmp_path / "a.png")])
    assert result.exit_code != 0
    assert "no counter with code 'NOPE'" in result.output
    result = runner.invoke(["qr", "counter", "Q1", "--out", str(tmp_path / "a.gif")])
    assert result.exit_code != 0
    assert "--format" in result.output
    result = runner.invoke(
        ["qr", "counter", "Q1", "--field", "XX", "--out", str(tmp_path / "a.png")]
    )
    assert result.exit_code != 0
    assert "no field with code 'XX'" in result.output
    assert not (tmp_path / "a.png").exists()


def test_cli_dossier_issues_a_verifiable_token(
    runner, make_agency, make_field, make_procedure, tmp_path: Path
) -> None:
    make_agency("STP")
    make_field("HT")
    make_procedure("1.001")
    out = tmp_path / "d.png"
    result = runner.invoke(
        ["qr", "dossier", "--agency", "STP", "--field", "HT", "--procedure", "1.001",
         "--dossier", "000.00.12.H56-240101-0001", "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:5000/d/")
    # The code (or a distinctive part of it) never shows; 3 letters could appear by chance.
    assert "000.00.12.H56-240101-0001" not in url and "240101-0001" not in url
    assert decode_png(out.read_bytes()) == [url]
    claims = verify_dossier_token(TEST_SECRET, url.rsplit("/", 1)[1], timedelta(days=1))
    assert (claims.agency_code, claims.field_code, claims.procedure_code) == ("STP", "HT", "1.001")


def test_cli_dossier_refuses_unknown_units(runner, make_agency, make_field, tmp_path) -> None:
    make_agency("STP")
    make_field("HT")
    base = ["qr", "dossier", "--dossier", "D1", "--out", str(tmp_path / "d.svg")]
    cases = [
        (["--agency", "XX", "--field", "HT"], "no agency with code 'XX'"),
        (["--agency", "STP", "--field", "XX"], "no field with code 'XX'"),
        (["--agency", "STP", "--field", "HT", "--procedure", "9.9"], "no procedure with code"),
    ]
    for extra, message in cases:
        result = runner.invoke(base + extra)
        assert result.exit_code != 0
        assert message in result.output


def test_cli_sheet_for_some_or_all_counters(runner, make_counter, tmp_path: Path) -> None:
    make_counter("Q1")
    make_counter("Q2")
    make_counter("Q3", active=False)
    out = tmp_path / "sheet.html"
    result = runner.invoke(["qr", "sheet", "--all", "--size", "a6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count('<section class="sheet">') == 2
    assert "/s/Q3" not in html
    assert "size: 105mm 148mm" in html
    result = runner.invoke(["qr", "sheet", "--counter", "Q3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count('<section class="sheet">') == 1


def test_cli_sheet_needs_exactly_one_selection(runner, make_counter, tmp_path: Path) -> None:
    make_counter("Q1")
    out = str(tmp_path / "s.html")
    assert runner.invoke(["qr", "sheet", "--out", out]).exit_code != 0
    assert runner.invoke(["qr", "sheet", "--all", "--counter", "Q1", "--out", out]).exit_code != 0
    result = runner.invoke(["qr", "sheet", "--counter", "NOPE", "--out", out])
    assert result.exit_code != 0
    assert "no counter with code 'NOPE'" in result.output
