"""The wide export of responses (``sipas export responses``), which ``sipas analyze`` reads.

One row per response; the columns, in this order (docs/architecture.md, "The wide export"):
:data:`META_COLUMNS`, then :data:`NAME_COLUMNS` (the units' Vietnamese names and the agency's
parent, as the catalogue has them when the export is written), then one column per item key of
the form (rating, expectation and profile items in form order; integer codes, blank when
skipped), then ``comment``. When several versions
of the form have responses, the newest version's keys come first, then keys that only older
versions have.

Rows are read in pages (keyset paging), so a CSV export streams in constant memory; XLSX uses
openpyxl's write-only mode. Both go through :mod:`analysis.spreadsheets`, so a comment or a code
that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``@SUM(A1)``, also after
leading spaces or line breaks) is written with a leading apostrophe. The CSV is UTF-8; written to
a file by ``sipas export responses --out`` it has no byte-order mark, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from analysis.spreadsheets import write_csv_rows, write_xlsx_rows
from forms import list_forms
from survey import repository
from survey.privacy import mask_personal_numbers
from survey.quality import format_flags
from survey.repository import StoredResponse

__all__ = ["META_COLUMNS", "NAME_COLUMNS", "export_columns", "export_responses", "iter_rows"]

META_COLUMNS: tuple[str, ...] = (
    "response_id",
    "submitted_at",
    "form_id",
    "form_version",
    "agency_code",
    "counter_code",
    "field_code",
    "procedure_code",
    "channel",
    "flags",
)
NAME_COLUMNS: tuple[str, ...] = (
    "agency_name",
    "agency_parent_code",
    "agency_parent_name",
    "counter_name",
    "field_name",
    "procedure_name",
)
"""Names of the coded units (``name_vi``) and the agency's parent, read by ``sipas analyze``
(older exports do not have them)."""
PAGE_SIZE = 2000


def export_columns(form_id: str) -> list[str]:
    """Header of the export of ``form_id``: metadata, item keys, ``comment``.

    Raises
    ------
    survey.repository.UnknownForm
        No questionnaire has this id.
    """
    newest = repository.load_form(form_id)
    keys = list(newest.item_keys)
    older = sorted((s.version for s in list_forms() if s.id == form_id), reverse=True)
    for version in older:
        for key in repository.load_form(form_id, version).item_keys:
            if key not in keys:
                keys.append(key)
    return [*META_COLUMNS, *NAME_COLUMNS, *keys, "comment"]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _stored_pages(
    form_id: str, since: datetime | None, until: datetime | None
) -> Iterator[StoredResponse]:
    after = None
    while True:
        page = repository.list_responses(
            form_id=form_id, since=since, until=until, after=after, limit=PAGE_SIZE
        )
        yield from page
        if len(page) < PAGE_SIZE:
            return
        after = page[-1].row_id


def iter_rows(
    form_id: str, *, since: datetime | None = None, until: datetime | None = None
) -> Iterator[list[Any]]:
    """The header, then one list of cell values per response (``None`` for blank cells)."""
    columns = export_columns(form_id)
    item_keys = columns[len(META_COLUMNS) + len(NAME_COLUMNS) : -1]
    yield columns
    names = repository.unit_names()
    agencies, counters, fields, procedures = (
        names[kind] for kind in ("agency", "counter", "field", "procedure")
    )
    for r in _stored_pages(form_id, since, until):
        agency_name, parent = agencies.get(r.agency_code, (None, None))
        yield [
            str(r.uuid),
            _iso(r.submitted_at),
            r.form_id,
            r.form_version,
            r.agency_code,
            r.counter_code,
            r.field_code,
            r.procedure_code,
            r.channel,
            format_flags(r.flags),
            agency_name,
            parent,
            None if parent is None else agencies.get(parent, (None, None))[0],
            counters.get(r.counter_code, (None, None))[0],
            fields.get(r.field_code, (None, None))[0],
            procedures.get(r.procedure_code, (None, None))[0],
            *(r.answers.get(key) for key in item_keys),
            None if r.comment is None else mask_personal_numbers(r.comment),  # older rows
        ]


def export_responses(
    stream: IO[Any],
    fmt: str,
    form_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the export to ``stream`` (text for ``csv``, binary for ``xlsx``); return the number
    of responses written. Needs an application context."""
    rows = iter_rows(form_id, since=since, until=until)
    if fmt == "csv":
        return write_csv_rows(rows, stream)
    if fmt == "xlsx":
        return write_xlsx_rows(rows, stream, sheet="responses")
    raise ValueError(f"unknown export format {fmt!r}; choose csv or xlsx")
