"""The agencies' lineage (who succeeded whom) as the table :mod:`analysis.lineage` reads."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import aliased

from survey.extensions import db
from survey.models import Agency, AgencyLineage

__all__ = ["LINEAGE_TABLE_COLUMNS", "lineage_table"]

LINEAGE_TABLE_COLUMNS = ("predecessor_code", "successor_code", "effective_on", "kind", "note")


def lineage_table() -> pd.DataFrame:
    """Every lineage row by unit code (:data:`LINEAGE_TABLE_COLUMNS`), oldest change first."""
    before, after = aliased(Agency), aliased(Agency)
    rows = db.session.execute(
        select(
            before.code,
            after.code,
            AgencyLineage.effective_on,
            AgencyLineage.kind,
            AgencyLineage.note,
        )
        .join(before, AgencyLineage.predecessor_id == before.id)
        .join(after, AgencyLineage.successor_id == after.id)
        .order_by(AgencyLineage.effective_on, before.code, after.code)
    ).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(LINEAGE_TABLE_COLUMNS))
