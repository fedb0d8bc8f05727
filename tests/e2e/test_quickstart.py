"""The README's demo as a new user meets it: ``sipas demo`` in its own process, a counter QR
opened in a real headless Chromium, a submitted answer, and that answer in ``sipas export``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SIPAS = str(Path(sys.executable).with_name("sipas"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """Run ``sipas demo`` on a temporary SQLite file; yield (first counter URL, env, log)."""
    database = tmp_path / "demo.db"
    env = {
        **os.environ,
        "SIPAS_SECRET_KEY": "quickstart-test-key-" + "0" * 32,
        "SIPAS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
    }
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [SIPAS, "demo", "--database", str(database), "--port", str(port), "--responses", "300"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            text = log.read_text()
            match = re.search(rf"(http://127\.0\.0\.1:{port}/s/\S+)", text)
            if match and _listening(port):
                url = match.group(1)
                break
            time.sleep(0.2)
        assert url, f"sipas demo did not come up:\n{log.read_text()}"
        yield url, env, log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _export(env: dict[str, str]) -> list[dict[str, str]]:
    result = subprocess.run(
        [SIPAS, "export", "responses", "--format", "csv", "--out", "-"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"))))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_demo_qr_form_submit_and_export(demo, browser, javascript: bool) -> None:
    url, env, log = demo
    assert "/login with a demo account" in log
    assert re.search(r"^  admin +password \S+", log, re.MULTILINE)
    before = _export(env)
    assert len(before) == 300

    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=javascript
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "vi"
        response_id = page.locator("input[name=response_uuid]").get_attribute("value")
        assert response_id
        first_rating = page.locator("fieldset[id^=q-e1_]").first
        first_rating.get_by_role("radio", name="5 Rất hài lòng", exact=True).click()
        if page.locator("#field").count():
            page.select_option("#field", index=1)
        page.get_by_role("button", name="Gửi câu trả lời").click()
        page.wait_for_url(re.compile(r"/thanks"))
    finally:
        context.close()

    after = _export(env)
    assert len(after) == 301
    new = [row for row in after if row["response_id"] == response_id]
    assert len(new) == 1
    assert new[0]["channel"] == "counter_qr"
    assert "5" in {value for key, value in new[0].items() if key.startswith("e1_")}
