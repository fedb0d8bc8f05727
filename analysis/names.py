"""Unit names next to the codes of a result table (``sipas analyze``, ``sipas analyze-db``).

A group column ``<x>_code`` (``agency_code``, ``counter_code``, ``field_code``,
``procedure_code``) gets a column ``<x>_name`` right after it; ``agency_code`` also gets
``agency_parent_code`` and ``agency_parent_name`` (the agency it belongs to). The names come
from the wide export's name columns (:func:`names_from_export`), from a file of
``code,name[,parent_code]`` (:func:`names_from_file`, for exports written before the export
had names) or from the database's catalogue (:func:`catalogue_names`, ``sipas analyze-db``).
A code without a name, and the total rows (code ``(all)``), have a blank name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.errors import InvalidResponsesError

__all__ = [
    "NAMED_COLUMNS",
    "PARENT_CODE",
    "PARENT_NAME",
    "UnitNames",
    "add_names",
    "catalogue_names",
    "name_column",
    "names_from_export",
    "names_from_file",
]

NAMED_COLUMNS: dict[str, str] = {
    "agency_code": "agency_name",
    "counter_code": "counter_name",
    "field_code": "field_name",
    "procedure_code": "procedure_name",
}
"""Code columns of the wide export and the export column holding their names."""

PARENT_CODE = "agency_parent_code"
PARENT_NAME = "agency_parent_name"


def name_column(code_column: str) -> str | None:
    """The name column of a code column (``agency_code`` → ``agency_name``), else ``None``."""
    return NAMED_COLUMNS.get(code_column)


@dataclass
class UnitNames:
    """Names per code column: ``{column: {code: name}}``, the agencies' parents, and notes.

    ``notes`` says where two different names were found for one code (and which was kept).
    """

    names: dict[str, dict[str, str]] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.names.values()) or bool(self.parents)


def _text(series: pd.Series) -> pd.Series:
    """Text values with blanks as missing (categoricals become plain strings)."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def names_from_export(
    data: pd.DataFrame,
    code_columns: Sequence[str],
    submitted_at: Callable[[], pd.Series] | None = None,
) -> UnitNames:
    """The names of the codes in ``code_columns``, from the export's name columns.

    A code's name is its first non-blank name in the file. If a code has two different names
    (exports of different dates put together), the name of its newest response
    (``submitted_at``: the column of ``data``, or else read by ``submitted_at()`` only then) is
    kept and a note says so. Columns the export lacks are skipped, so an
    export written before names were exported gives no names.
    """
    result = UnitNames()
    if "submitted_at" in data.columns:
        when: Callable[[], pd.Series] | None = lambda: data["submitted_at"]  # noqa: E731
    else:
        when = submitted_at
    for column in code_columns:
        label = name_column(column)
        if label is not None and label in data.columns:
            result.names[column] = _first_names(data, column, label, result.notes, when)
    if "agency_code" in code_columns and PARENT_CODE in data.columns:
        result.parents = _first_names(data, "agency_code", PARENT_CODE, result.notes, when)
        if PARENT_NAME in data.columns:  # parents that have no responses of their own
            names = result.names.setdefault("agency_code", {})
            parent_names = _first_names(data, PARENT_CODE, PARENT_NAME, result.notes, when)
            for code, name in parent_names.items():
                names.setdefault(code, name)
    return result


def _first_names(
    data: pd.DataFrame,
    code: str,
    name: str,
    notes: list[str],
    submitted_at: Callable[[], pd.Series] | None,
) -> dict[str, str]:
    pairs = pd.DataFrame({"code": _text(data[code]), "name": _text(data[name])})
    pairs = pairs.dropna(subset=["code", "name"])
    distinct = pairs.drop_duplicates(["code", "name"])
    first = distinct.drop_duplicates("code", keep="first")
    found = dict(zip(first["code"], first["name"], strict=True))
    if len(first) == len(distinct):
        return found
    moments = None
    if submitted_at is not None:
        moments = pd.to_datetime(submitted_at(), utc=True, errors="coerce", format="ISO8601")
        moments = moments.loc[pairs.index]
    for code, names in distinct.groupby("code", sort=True)["name"]:
        if len(names) < 2:
            continue
        kept = found[code]
        if moments is not None:
            at = moments[pairs["code"] == code]
            if at.notna().any():
                kept = pairs.loc[at.idxmax(), "name"]
        found[code] = kept
        listed = ", ".join(repr(n) for n in names)
        which = "that of its newest response" if moments is not None else "the first in the file"
        notes.append(f"{code}: {name} differs within the export ({listed}); kept {kept!r}, {which}")
    return found


def names_from_file(path: Path, code_columns: Sequence[str]) -> UnitNames:
    """Names from a CSV of ``code,name`` and optionally ``parent_code`` (``--names FILE``).

    Every named code column of the run (``agency_code``, ``field_code``, …) takes its names
    from the file; ``parent_code`` gives the agencies' parents.

    Raises
    ------
    InvalidResponsesError
        A file that cannot be read, without ``code`` and ``name`` columns, or naming one code
        twice.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InvalidResponsesError(f"--names {path}: cannot read it as CSV: {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    if not {"code", "name"} <= set(table.columns):
        raise InvalidResponsesError(
            f"--names {path}: needs columns code,name (and optionally parent_code); "
            f"found {list(table.columns)}"
        )
    table = table.apply(lambda s: s.str.strip())
    table = table[table["code"] != ""]
    twice = sorted(set(table.loc[table["code"].duplicated(), "code"]))
    if twice:
        raise InvalidResponsesError(f"--names {path}: codes listed twice: {twice[:5]}")
    names = dict(zip(table["code"], table["name"], strict=True))
    result = UnitNames()
    for column in code_columns:
        if column in NAMED_COLUMNS:
            result.names[column] = {c: n for c, n in names.items() if n}
    if "parent_code" in table.columns and "agency_code" in code_columns:
        result.parents = {
            c: p for c, p in zip(table["code"], table["parent_code"], strict=True) if p
        }
    return result


def add_names(table: pd.DataFrame, names: UnitNames) -> pd.DataFrame:
    """``table`` with ``<x>_name`` after every named code column it has (see the module)."""
    if not names:
        return table
    out = table.copy()
    for column in [c for c in table.columns if c in names.names]:
        codes = out[column].astype(object)
        inserted = [(name_column(column), codes.map(names.names[column]))]
        if column == "agency_code" and names.parents:
            parents = codes.map(names.parents)
            inserted.append((PARENT_CODE, parents))
            inserted.append((PARENT_NAME, parents.map(names.names[column])))
        at = out.columns.get_loc(column) + 1
        for offset, (label, values) in enumerate(inserted):
            out.insert(at + offset, label, values.astype(object).where(values.notna(), None))
    return out


def catalogue_names(
    catalogue: Mapping[str, Mapping[str, tuple[str, str | None]]], code_columns: Sequence[str]
) -> UnitNames:
    """Names from a catalogue ``{kind: {code: (name, parent_code)}}`` (``agency``, ``field``…).

    The database's ``agencies``, ``counters``, ``fields`` and ``procedures`` tables give it
    (``sipas analyze-db``).
    """
    result = UnitNames()
    for column in code_columns:
        kind = column.removesuffix("_code")
        if column in NAMED_COLUMNS and kind in catalogue:
            result.names[column] = {c: n for c, (n, _) in catalogue[kind].items() if n}
    if "agency_code" in code_columns and "agency" in catalogue:
        result.parents = {c: p for c, (_, p) in catalogue["agency"].items() if p}
    return result
