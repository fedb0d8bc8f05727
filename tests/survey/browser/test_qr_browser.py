"""Printable QR sheets in Chromium: one page per counter at the right paper size, QR readable."""

from __future__ import annotations

import re

import numpy as np
import png
import pytest
import zxingcpp

# Paper sizes in PDF points (1 mm = 72 / 25.4 pt).
PAPER = {"a4": (595.3, 841.9), "a6": (297.6, 419.5)}


def _page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.parametrize("size", ["a4", "a6"])
def test_sheet_prints_one_page_per_counter(serve, browser, make_counter, size) -> None:
    server = serve()
    make_counter("Q1", name_vi="Quầy số 1 – Tiếp nhận và trả kết quả hồ sơ đất đai")
    make_counter("Q2")
    make_counter("Q3")
    with server.app.test_request_context():
        from survey import qrcodes, repository
        from survey.qr_cli import sheet_entry

        entries = [sheet_entry(c, server.url) for c in repository.list_counters()]
        html = qrcodes.render_sheet(entries, size)  # type: ignore[arg-type]
    page = browser.new_page()
    try:
        page.set_content(html)
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        sizes = _page_sizes(pdf)
        assert len(sizes) == 3
        for width, height in sizes:
            assert width == pytest.approx(PAPER[size][0], abs=1.5)
            assert height == pytest.approx(PAPER[size][1], abs=1.5)
        shot = page.locator("section.sheet").first.screenshot()
        width, height, rows, _info = png.Reader(bytes=shot).asRGBA8()
        pixels = np.array([list(row) for row in rows], dtype=np.uint8).reshape(height, width, 4)
        found = [r.text for r in zxingcpp.read_barcodes(np.ascontiguousarray(pixels[:, :, 0]))]
        assert found == [f"{server.url}/s/Q1"]
    finally:
        page.close()
