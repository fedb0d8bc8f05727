"""The count table of selected responses fetched in one pass and tabulated by :mod:`analysis`.

One ``SELECT`` returns one row per selected response: the key columns the table needs (text,
as :mod:`survey.statistics.columns` spells them), the response's form version, its
``answer_codes`` as text and, when weighted, the final and base weight of its cell (the
weight table joined in SQL). The codes become one nullable integer column per item key, and
:func:`analysis.counts.counts_from_responses` builds the table from that wide frame exactly as
it does from ``sipas export responses`` (same rows, ``n``, ``w``, ``w2``, ``w0``).

The database filters and joins; the sums are numpy's ``bincount`` and, for the pooled form of
the default design, one matrix product per group (:func:`analysis.tabulate.sum_pairs`), where
the pure SQL path (:mod:`survey.statistics.statements`) would join every response's answers to
themselves. The cost is one row per selected response on the wire: about 0.1 s per 20,000
responses.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from analysis.counts import counts_from_responses
from analysis.design import Design
from survey.models import Response
from survey.statistics.answer_codes import AnswerCodes

__all__ = ["WEIGHT", "BASE_WEIGHT", "fetch_responses", "counts_from_fetched"]

_RESPONSES = Response.__table__
WEIGHT = "_w"
"""Column of the fetched frame holding the final weight of the response's cell."""
BASE_WEIGHT = "_w0"
"""Column of the fetched frame holding the base weight of the response's cell."""
_CODE_DTYPE = "Int16"  # every stored code fits (profile items may exceed 127)


def _codes_text(codes: ColumnElement, dialect: str) -> ColumnElement[str]:
    """``answer_codes`` as one line of comma-separated codes (blank = skipped)."""
    if dialect == "postgresql":
        return func.array_to_string(codes, literal_column("','"), literal_column("''"))
    return codes.cast(String)  # SQLite keeps the JSON array text: "[5,4,null,3]"


def fetch_responses(
    connection: Connection,
    src: Any,
    exprs: dict[str, ColumnElement],
    names: Sequence[str],
    filters: Sequence[ColumnElement[bool]],
    codes: AnswerCodes,
    item_keys: Sequence[str],
    weight_table: Any = None,
) -> pd.DataFrame:
    """One row per selected response: ``names`` (categorical text), item columns, weights.

    Parameters
    ----------
    src, exprs
        The responses joined to what ``names`` need, and an expression per name
        (:func:`survey.statistics.columns.column_expressions`; ``src`` already outer-joined
        to ``weight_table`` when weighted).
    filters
        The selection (form, period, subtree, flags).
    codes
        The answer layouts of the form's versions.
    item_keys
        The item columns to build (an item absent from a version is blank there).
    weight_table
        The weight table (columns ``w``, ``w0``) joined in ``src``, or None.

    Returns
    -------
    DataFrame
        Columns ``names`` (categorical), one ``Int16`` column per item key, and
        :data:`WEIGHT`, :data:`BASE_WEIGHT` (float, NaN where a cell has no weight) when
        weighted. Empty when nothing is selected.
    """
    dialect = connection.dialect.name
    columns = [exprs[n].label(f"k{i}") for i, n in enumerate(names)]
    columns += [
        _RESPONSES.c.form_version_id.label("layout"),
        _codes_text(_RESPONSES.c.answer_codes, dialect).label("codes"),
    ]
    if weight_table is not None:
        columns += [weight_table.c.w.label("w"), weight_table.c.w0.label("w0")]
    statement = select(*columns).select_from(src).where(*filters).order_by(_RESPONSES.c.id)
    rows = connection.execute(statement).fetchall()
    n_keys = len(names)
    if not rows:
        empty = {n: pd.Categorical([]) for n in names}
        return pd.DataFrame(empty | {k: pd.array([], dtype=_CODE_DTYPE) for k in item_keys})
    fields = list(zip(*rows, strict=True))
    frame: dict[str, Any] = {}
    for i, name in enumerate(names):
        frame[name] = pd.Categorical(fields[i])
    layouts = np.asarray(fields[n_keys], dtype=np.int64)
    frame |= _item_columns(layouts, fields[n_keys + 1], codes, item_keys, dialect)
    if weight_table is not None:
        frame[WEIGHT] = np.asarray(fields[n_keys + 2], dtype=float)
        frame[BASE_WEIGHT] = np.asarray(fields[n_keys + 3], dtype=float)
    return pd.DataFrame(frame)


def _item_columns(
    layouts: np.ndarray,
    texts: Sequence[str | None],
    codes: AnswerCodes,
    item_keys: Sequence[str],
    dialect: str,
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """Parse the code lines of every form version into one column per item key."""
    n = layouts.size
    out = {key: np.zeros(n, dtype=np.int16) for key in item_keys}
    blank = {key: np.ones(n, dtype=bool) for key in item_keys}
    for layout in np.unique(layouts):
        rows = np.flatnonzero(layouts == layout)
        keys = codes.layouts.get(int(layout), ())
        wanted = [(pos, key) for pos, key in enumerate(keys) if key in out]
        if not wanted:
            continue
        lines = [_line(texts[r], dialect) for r in rows]
        table = pd.read_csv(
            io.StringIO("\n".join(lines)),
            header=None,
            names=range(len(keys)),
            usecols=[pos for pos, _ in wanted],
            dtype=_CODE_DTYPE,
            skip_blank_lines=False,
            na_filter=True,
            keep_default_na=False,
            na_values=[""],
        )
        if len(table) != rows.size:  # a last blank line is dropped by the reader
            table = table.reindex(range(rows.size))
        for pos, key in wanted:
            column = table[pos].array
            out[key][rows] = column.to_numpy(dtype=np.int16, na_value=0)
            blank[key][rows] = column.isna()
    return {key: pd.arrays.IntegerArray(out[key], blank[key]) for key in item_keys}


def _line(text: str | None, dialect: str) -> str:
    """One CSV line of codes from the stored text (``[5,null,3]`` on SQLite)."""
    if not text:
        return ""
    if dialect == "postgresql":
        return text
    return text.strip("[] ").replace("null", "").replace(" ", "")


def counts_from_fetched(
    frame: pd.DataFrame,
    form: Any,
    design: Design,
    by: Sequence[str],
    *,
    index_versions: Sequence[str],
) -> pd.DataFrame:
    """The count table of a fetched frame (:func:`fetch_responses`), in the SQL path's shape.

    With weights, the design reads them from :data:`WEIGHT` and :data:`BASE_WEIGHT`.
    """
    if design.weight is not None:
        calibration = design.calibration
        if calibration is not None:
            calibration = _with_base(calibration)
        design = Design(
            strata=design.strata,
            psu=design.psu,
            weight=WEIGHT,
            fpc=design.fpc,
            lonely_psu=design.lonely_psu,
            df=design.df,
            calibration=calibration,
        )
    return counts_from_responses(
        frame,
        form,
        design,
        by=by,
        items=list(form.item_keys),
        index_versions=tuple(index_versions),
        pooled=True,
    )


def _with_base(calibration: Any) -> Any:
    from dataclasses import replace

    return replace(calibration, base_weight_column=BASE_WEIGHT)
