"""SQL over ``responses.answer_codes``: one code per answer column of the response's form version.

A response stores its closed answers as an array in the order of ``form_versions.item_keys``
(``smallint[]`` on PostgreSQL, a JSON array on SQLite). The statistics read it two ways:

* :meth:`AnswerCodes.unnest`: one row per (response, position, code), the ``GROUP BY`` input of
  the answer rows of the count table; positions become item keys afterwards
  (:meth:`AnswerCodes.to_items`), on the aggregated rows, not per answer;
* :meth:`AnswerCodes.code`: the code of one item as a column (the per-response index scores).

Positions are 0-based here on both databases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    Integer,
    SmallInteger,
    String,
    case,
    column,
    func,
    literal,
    select,
    type_coerce,
    values,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE, TableValuedAlias

from survey.models import FormVersion

__all__ = ["AnswerCodes"]


@dataclass(frozen=True)
class AnswerCodes:
    """The answer columns of every stored version of one form, for one SQL dialect.

    Attributes
    ----------
    dialect : str
        ``postgresql`` or ``sqlite``.
    layouts : Mapping[int, tuple[str, ...]]
        ``{form_versions.id: item_keys}``.
    """

    dialect: str
    layouts: Mapping[int, tuple[str, ...]]

    @classmethod
    def of_form(cls, connection: Connection, form_id: str) -> AnswerCodes:
        """The layouts of every recorded version of ``form_id``."""
        rows = connection.execute(
            select(FormVersion.id, FormVersion.item_keys).where(FormVersion.form_id == form_id)
        )
        return cls(connection.dialect.name, {int(i): tuple(keys) for i, keys in rows})

    def code(
        self, codes: ColumnElement, form_version: ColumnElement, key: str
    ) -> ColumnElement[int]:
        """The code of item ``key`` (NULL when skipped or not in the response's version)."""
        where = {fv: keys.index(key) for fv, keys in self.layouts.items() if key in keys}
        positions = set(where.values())
        if not where:
            return literal(None, SmallInteger)
        if len(positions) == 1 and len(where) == len(self.layouts):
            return self._element(codes, positions.pop())
        branches = [(form_version == fv, self._element(codes, pos)) for fv, pos in where.items()]
        return case(*branches, else_=None)

    def _element(self, codes: ColumnElement, position: int) -> ColumnElement[int]:
        if self.dialect == "postgresql":
            return type_coerce(codes, postgresql.ARRAY(SmallInteger))[position + 1]
        return type_coerce(func.json_extract(codes, f"$[{position}]"), Integer)

    def unnest(self, codes: ColumnElement) -> tuple[TableValuedAlias, ColumnElement, ColumnElement]:
        """``(from, position, code)``: join ``from`` to the row holding ``codes`` ``ON true``
        (a lateral function call on both databases)."""
        if self.dialect == "postgresql":
            pairs = (
                func.unnest(codes)
                .table_valued("code", with_ordinality="pos", joins_implicitly=True)
                .render_derived(name="answer")
            )
            return pairs, pairs.c.pos - 1, pairs.c.code
        pairs = func.json_each(codes).table_valued("key", "value", joins_implicitly=True)
        pairs = pairs.alias("answer")
        return pairs, pairs.c.key, pairs.c.value

    def positions(self, keys: Sequence[str], name: str) -> CTE:
        """``(form_version, position, k, item)``: where each of ``keys`` sits in every version.

        ``k`` is the key's rank in ``keys``; versions without the key have no row (an empty
        layout gives one row that matches no response).
        """
        rows = [
            (fv, pos, k, key)
            for k, key in enumerate(keys)
            for fv, layout in self.layouts.items()
            for pos, stored in enumerate(layout)
            if stored == key
        ]
        table = values(
            column("form_version", Integer),
            column("position", Integer),
            column("k", Integer),
            column("item", String),
            name=name,
        )
        return table.data(rows or [(-1, -1, -1, "")]).cte(name)

    def to_items(
        self,
        frame: pd.DataFrame,
        item_keys: Sequence[str],
        group_keys: Sequence[str],
        sums: Sequence[str],
    ) -> pd.DataFrame:
        """Replace ``(form_version, position)`` by ``item``, keeping only ``item_keys``.

        When several versions put one item at different positions, the rows of one group
        (``group_keys``, item, answer) are added up (``sums`` are additive).
        """
        wanted = set(item_keys)
        mapping = pd.DataFrame(
            [
                (fv, pos, key)
                for fv, keys in self.layouts.items()
                for pos, key in enumerate(keys)
                if key in wanted
            ],
            columns=["form_version", "position", "item"],
        )
        frame = frame.astype({"form_version": "int64", "position": "int64"})
        merged = frame.merge(mapping, on=["form_version", "position"], how="inner")
        merged = merged.drop(columns=["form_version", "position"])
        if len(self.layouts) > 1 and len(merged):
            keys = [*group_keys, "item", "answer"]
            merged = merged.groupby(keys, dropna=False, observed=True, sort=False)[list(sums)].sum()
            merged = merged.reset_index()
        return merged
