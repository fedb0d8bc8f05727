"""The summary of sufficient statistics: summary_counts, _pairs, _months, _state tables.

Rows of the pooled count table per (form, month, agency, counter, field, procedure, channel,
form version, flags, item, answer), maintained by ``sipas aggregates rebuild|refresh``
(``survey.statistics.summary``). The tables start empty; reports read the responses until the
summary is built.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_GRAIN = (
    "form_id",
    "form_version",
    "counter_id",
    "field_id",
    "month",
    "agency_id",
    "procedure_id",
    "channel",
    "flags",
    "item",
    "answer",
)


def _summary_table(name: str) -> None:
    op.create_table(
        name,
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
        sa.Column("item", sa.String(length=160), nullable=False),
        sa.Column("answer", sa.Float(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(*_GRAIN, name=op.f(f"uq_{name}_grain")),
    )


def upgrade() -> None:
    _summary_table("summary_counts")
    _summary_table("summary_pairs")
    op.create_table(
        "summary_months",
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("responses", sa.BigInteger(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("form_id", "month", name=op.f("pk_summary_months")),
    )
    op.create_table(
        "summary_state",
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.String(length=64), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("form_id", name=op.f("pk_summary_state")),
    )


def downgrade() -> None:
    for name in ("summary_state", "summary_months", "summary_pairs", "summary_counts"):
        op.drop_table(name)
