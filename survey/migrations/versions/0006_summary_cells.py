"""The summary keeps one row per cell: ``summary_cells`` replaces ``summary_counts`` and
``summary_pairs``.

Each cell (form, month, agency, counter, field, procedure, channel, form version, flags, and
the roll-up cells) holds its whole pooled count table as one vector of counts, in the order of
the new ``summary_state.layout``. The old rows are dropped with the summary's state, so reports
and ``sipas analyze-db`` read the responses until ``sipas aggregates refresh`` (or the server's
background refresh) builds the summary again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CELL = (
    "form_id",
    "form_version",
    "counter_id",
    "field_id",
    "month",
    "agency_id",
    "procedure_id",
    "channel",
    "flags",
)


def _grain_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("flags", sa.String(length=100), nullable=False),
    ]


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM summary_months"))
    op.execute(sa.text("DELETE FROM summary_state"))
    for name in ("summary_pairs", "summary_counts"):
        op.drop_table(name)
    op.create_table(
        "summary_cells",
        *_grain_columns(),
        sa.Column("responses", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_cells")),
        sa.UniqueConstraint(*_CELL, name=op.f("uq_summary_cells_grain")),
    )
    with op.batch_alter_table("summary_state") as batch_op:
        batch_op.add_column(sa.Column("layout", sa.JSON(), nullable=False))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM summary_months"))
    op.execute(sa.text("DELETE FROM summary_state"))
    with op.batch_alter_table("summary_state") as batch_op:
        batch_op.drop_column("layout")
    op.drop_table("summary_cells")
    for name in ("summary_counts", "summary_pairs"):
        op.create_table(
            name,
            *_grain_columns(),
            sa.Column("item", sa.String(length=160), nullable=False),
            sa.Column("answer", sa.Float(), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
            sa.UniqueConstraint(*_CELL, "item", "answer", name=op.f(f"uq_{name}_grain")),
        )
