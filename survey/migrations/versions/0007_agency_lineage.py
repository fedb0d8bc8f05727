"""Units that merge: ``agencies.valid_from`` / ``valid_until`` and the ``agency_lineage`` table.

A unit's validity period (dates, NULL = open) and, per predecessor and successor, the day a
unit was merged into, split into or renamed to another (``kind``: merge, split, rename). Units
stored before this revision are valid throughout and have no lineage.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
    op.create_table(
        "agency_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("predecessor_id", sa.Integer(), nullable=False),
        sa.Column("successor_id", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["predecessor_id"],
            ["agencies.id"],
            name=op.f("fk_agency_lineage_predecessor_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["successor_id"], ["agencies.id"], name=op.f("fk_agency_lineage_successor_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_lineage")),
        sa.UniqueConstraint(
            "predecessor_id",
            "successor_id",
            name=op.f("uq_agency_lineage_predecessor_id_successor_id"),
        ),
        sqlite_autoincrement=True,  # a replaced row gets a new id (the report cache's stamp)
    )
    op.create_index(
        op.f("ix_agency_lineage_successor_id"), "agency_lineage", ["successor_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_agency_lineage_successor_id"), table_name="agency_lineage")
    op.drop_table("agency_lineage")
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.drop_column("valid_until")
        batch_op.drop_column("valid_from")
