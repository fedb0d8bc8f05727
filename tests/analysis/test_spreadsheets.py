"""Spreadsheet writers: no text cell can become a formula (OWASP CSV injection), text stays
readable, numbers stay numbers."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from datetime import datetime
from itertools import dropwhile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from analysis.spreadsheets import (
    neutralize,
    write_csv,
    write_csv_rows,
    write_xlsx,
    write_xlsx_rows,
)

PAYLOADS = [
    '=HYPERLINK("http://x","y")',
    "  =2+2",
    "\t=3+3",
    "\r\n=4+4",
    "+1",
    "-1+2",
    "@SUM(A1)",
]


def looks_like_formula(text: str) -> bool:
    """Independent oracle: would a spreadsheet program read this text as a formula?"""
    if text.startswith(("\t", "\r", "\n")):
        return True
    rest = "".join(dropwhile(lambda c: c.isspace() or unicodedata.category(c) in "CcCf", text))
    return rest[:1] in ("=", "+", "-", "@")


def check_written(cell: str, original: str) -> None:
    """A written cell is no formula, and removing the added apostrophe gives the original."""
    assert not looks_like_formula(cell), cell
    if looks_like_formula(original):
        assert cell[:1] == "'" and cell[1:] == original
    else:
        assert cell == original


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_get_an_apostrophe(payload: str) -> None:
    assert neutralize(payload) == "'" + payload


@pytest.mark.parametrize(
    "text",
    ["\u3000=1+1", "\u200b=1+1", "\x00=1", "\ttext", "\nline", "\rline", " -x", "\ufeff@A1"],
)
def test_whitespace_control_and_format_characters_do_not_defeat_it(text: str) -> None:
    assert neutralize(text) == "'" + text


@pytest.mark.parametrize(
    "value",
    ["Tốt lắm", "a=b", "1+1", "Q1 - STP", "", "   ", "'=already quoted", "e-mail"],
)
def test_ordinary_text_is_unchanged(value: str) -> None:
    assert neutralize(value) == value


@pytest.mark.parametrize(
    "value",
    [-1, -2.5, 0, 3, np.int64(-4), np.float64(-0.5), None, datetime(2024, 1, 1), True],
)
def test_non_text_passes_through(value: object) -> None:
    assert neutralize(value) is value


def frame_with(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": texts,
            "category": pd.Categorical(texts),
            "number": [-float(i) - 1 for i in range(len(texts))],
            "code": pd.array([-(i + 1) for i in range(len(texts))], dtype="Int16"),
        }
    )


def test_write_csv_to_a_path_is_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv(frame_with(["Rất hài lòng", *PAYLOADS]), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["text", "category", "number", "code"]
    assert rows[1] == ["Rất hài lòng", "Rất hài lòng", "-1.0", "-1"]
    for row, payload in zip(rows[2:], PAYLOADS, strict=True):
        assert row[0] == row[1] == "'" + payload
        assert float(row[2]) < 0 and int(row[3]) < 0  # negative numbers stay numbers
    back = pd.read_csv(path)
    assert list(back.columns) == ["text", "category", "number", "code"]


def test_write_csv_to_a_stream_has_no_bom() -> None:
    stream = io.StringIO()
    write_csv(pd.DataFrame({"=x": ["=1"]}), stream)
    assert stream.getvalue() == "'=x\r\n'=1\r\n"


def test_write_csv_rows_streams_and_counts() -> None:
    stream = io.StringIO()
    count = write_csv_rows([["a", "b"], ["=1", None], [-1, "@x"]], stream)
    assert count == 2
    assert stream.getvalue() == "a,b\r\n'=1,\r\n-1,'@x\r\n"


def sheet_xml(path: Path | io.BytesIO) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/worksheets/sheet")
        ]


def assert_no_formula(path: Path | io.BytesIO) -> None:
    for xml in sheet_xml(path):
        assert "<f>" not in xml and "<f " not in xml
    workbook = load_workbook(path)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    workbook.close()


def test_write_xlsx_payloads_layout_and_formats(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    results = pd.DataFrame(
        {"agency": ["=A", "STP"], "estimate": [81.234, 77.0], "se": [1.2345, 0.5], "n": [10, 12]}
    )
    write_xlsx(
        {"responses": frame_with(["Rất hài lòng", *PAYLOADS]), "indices": results},
        path,
        notes={"command": "=cmd", "form": "sipas-counter"},
        number_formats={"estimate": "0.0", "se": "0.00"},
    )
    assert_no_formula(path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["responses", "indices", "Notes"]
    responses = workbook["responses"]
    assert responses.freeze_panes == "A2"
    assert all(cell.font.bold for cell in responses[1])
    values = [[c.value for c in row] for row in responses.iter_rows()]
    assert values[0] == ["text", "category", "number", "code"]
    assert values[1] == ["Rất hài lòng", "Rất hài lòng", -1, -1]
    for row, payload in zip(values[2:], PAYLOADS, strict=True):
        assert row[0] == row[1] == as_stored_in_xml("'" + payload)
        assert row[2] < 0 and row[3] < 0
    widths = [responses.column_dimensions[letter].width for letter in "ABCD"]
    assert all(6 <= w <= 60 for w in widths) and widths[0] >= len("Rất hài lòng")
    indices = workbook["indices"]
    assert indices["A2"].value == "'=A"
    assert indices["B2"].number_format == "0.0" and indices["C2"].number_format == "0.00"
    assert indices["D2"].number_format == "General" and indices["B2"].value == 81.234
    notes = [[c.value for c in row] for row in workbook["Notes"].iter_rows()]
    assert notes == [["key", "value"], ["command", "'=cmd"], ["form", "sipas-counter"]]
    workbook.close()


def test_write_xlsx_needs_a_sheet(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one sheet"):
        write_xlsx({}, tmp_path / "t.xlsx")


def test_write_xlsx_rows_streams(tmp_path: Path) -> None:
    path = tmp_path / "rows.xlsx"
    count = write_xlsx_rows(
        [["id", "comment", "score"], ["1", "=2+2", 5], ["2", None, -1]], path, sheet="responses"
    )
    assert count == 2
    assert_no_formula(path)
    workbook = load_workbook(path)
    values = [[c.value for c in row] for row in workbook["responses"].iter_rows()]
    workbook.close()
    assert values == [["id", "comment", "score"], ["1", "'=2+2", 5], ["2", None, -1]]


def test_xlsx_replaces_characters_xml_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "ctl.xlsx"
    write_xlsx({"s": pd.DataFrame({"t": ["a\x01b", "\x00=1"]})}, path)
    workbook = load_workbook(path)
    assert [c.value for c in workbook["s"]["A"]] == ["t", "a\ufffdb", "'\ufffd=1"]
    workbook.close()


def as_stored_in_xml(text: str) -> str:
    """What an XLSX reader gets back for ``text``: XML cannot hold most control characters
    (replaced) and normalises line breaks to ``\\n``."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


texts = st.lists(st.text(max_size=20), min_size=1, max_size=8)
slow = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@slow
@given(texts)
def test_csv_property_no_formula_and_reversible(values: list[str]) -> None:
    stream = io.StringIO(newline="")
    write_csv(pd.DataFrame({"t": values}), stream)
    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    written = [row[0] if row else "" for row in rows[1:]]
    assert len(written) == len(values)
    for cell, original in zip(written, values, strict=True):
        check_written(cell, original)


@slow
@given(texts)
def test_xlsx_property_no_formula_and_reversible(values: list[str]) -> None:
    target = io.BytesIO()
    write_xlsx({"s": pd.DataFrame({"t": values})}, target)
    assert_no_formula(target)
    workbook = load_workbook(target)
    written = [cell.value for cell in workbook["s"]["A"]][1:]
    workbook.close()
    for cell, original in zip(written, values, strict=True):
        if original == "":
            assert cell in ("", None)
            continue
        assert isinstance(cell, str)
        assert not looks_like_formula(cell)
        expected = "'" + original if looks_like_formula(original) else original
        assert cell == as_stored_in_xml(expected)
