"""An administrator in Chromium: sign in, upload a dossier-volume frame, read its coverage; at
phone (375 px) and laptop (1280 px) width, with JavaScript off as well. Screenshots go to
``tests/output/``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from survey import repository
from tests.survey.submitted import counter_submission

OUTPUT = Path(__file__).parents[2] / "output"
PASSWORD = "mật khẩu quản trị"
FRAME = "agency_code,field_code,period,dossiers\nSTP,HT,2026-Q1,120\nHAP,HT,2026-Q1,40\n"


@pytest.mark.parametrize(("width", "javascript"), [(375, False), (1280, True)])
def test_admin_uploads_a_frame_and_sees_coverage(
    serve, browser, make_agency, make_field, make_counter, tmp_path, width, javascript
) -> None:
    server = serve()
    province = make_agency("TINH", level="province", name_vi="UBND tỉnh")
    stp = make_agency("STP", parent=province, name_vi="Sở Tư pháp")
    make_agency("HAP", level="district", parent=province, name_vi="UBND huyện An Phú")
    make_field("HT", name_vi="Hộ tịch")
    make_counter("Q1", agency=stp, field="HT")
    with server.app.app_context():
        repository.create_user("boss", PASSWORD, role="admin", display_name="Quản trị viên")
        for day in (3, 4, 5):
            repository.save_response(counter_submission({}), now=datetime(2026, 2, day, tzinfo=UTC))
    frame = tmp_path / "khung-2026-Q1.csv"
    frame.write_text(FRAME, encoding="utf-8")

    context = browser.new_context(
        viewport={"width": width, "height": 800}, java_script_enabled=javascript
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/admin/frames")
        assert "/login" in page.url
        page.fill("#username", "boss")
        page.fill("#password", PASSWORD)
        page.click("button.send")
        page.wait_for_url("**/admin/frames")
        page.set_input_files("#file", str(frame))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/admin/frames/coverage?period=2026-Q1")
        assert "Đã lưu 2 ô cho 2026-Q1." in page.content()
        table = page.locator("table.coverage")
        unit_rows = table.locator("tr.unit")
        assert unit_rows.count() == 2
        stp_row = unit_rows.filter(has_text="Sở Tư pháp")
        assert [c.strip() for c in stp_row.locator("td.num").all_inner_texts()] == [
            "120",
            "3",
            "2.5 %",
        ]
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"admin-coverage-{width}.png"), full_page=True)
        page.goto(f"{server.url}/admin/frames")
        assert "2026-Q1" in page.locator("table.admintable").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(OUTPUT / f"admin-frames-{width}.png"), full_page=True)
    finally:
        context.close()
