"""The Vietnamese catalog: complete, compiled, and used by default; English on request."""

from __future__ import annotations

import gettext
import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "survey" / "translations" / "vi" / "LC_MESSAGES"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _extracted() -> set[str]:
    """Every msgid in the code and templates, extracted with babel.cfg as pybabel would."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def po() -> dict[str, str]:
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}


def test_extraction_finds_the_survey_messages() -> None:
    extracted = _extracted()
    assert "Send my answers" in extracted  # a template
    assert "This page does not exist." in extracted  # survey/errors.py
    assert "This QR code has expired. Please ask the counter for a new one." in extracted


def test_every_message_has_a_vietnamese_translation(po: dict[str, str]) -> None:
    missing = sorted(msgid for msgid in _extracted() if not po.get(msgid, "").strip())
    assert missing == [], "run pybabel extract/update and translate: " + "; ".join(missing)


def test_translations_are_vietnamese_and_keep_placeholders(po: dict[str, str]) -> None:
    def has_diacritics(text: str) -> bool:
        decomposed = unicodedata.normalize("NFD", text)
        return "đ" in text.lower() or any(unicodedata.combining(c) for c in decomposed)

    for msgid, msgstr in po.items():
        assert msgstr != msgid, msgid
        assert has_diacritics(msgstr), (msgid, msgstr)
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid


def test_compiled_catalog_matches_the_po(po: dict[str, str]) -> None:
    with (CATALOG / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr in po.items():
        assert compiled.gettext(msgid) == msgstr, (
            f"messages.mo is stale: run pybabel compile ({msgid})"
        )
    in_mo = {key for key in compiled._catalog if isinstance(key, str) and key}  # type: ignore[attr-defined]
    assert in_mo == set(po)


def test_pages_are_vietnamese_by_default_and_english_on_request(client, make_counter) -> None:
    make_counter("Q1")
    vi = client.get("/s/Q1").get_data(as_text=True)
    assert '<html lang="vi">' in vi
    assert "Gửi câu trả lời" in vi
    assert "Rất hài lòng" in vi
    en = client.get("/s/Q1?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en
    assert "Send my answers" in en
    assert "Very satisfied" in en
    assert "Gửi câu trả lời" not in en


def test_unknown_language_falls_back_to_vietnamese(client) -> None:
    page = client.get("/thanks?lang=fr")
    assert '<html lang="vi">' in page.get_data(as_text=True)
    assert "lang=" not in page.headers.get("Set-Cookie", "")


def test_error_pages_follow_the_language(client) -> None:
    assert "Trang này không tồn tại." in client.get("/nowhere").get_data(as_text=True)
    assert "This page does not exist." in client.get("/nowhere?lang=en").get_data(as_text=True)
