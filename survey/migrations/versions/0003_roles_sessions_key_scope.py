"""Roles of the reports (admin, analyst, official), session invalidation, API key scope, frames.

* ``users.role``: ``manager`` becomes ``analyst`` (all reports of the province, no settings) and
  ``viewer`` becomes ``official`` (reports of the user's agency and its subtree).
* ``users.session_epoch``: a counter signed into each session cookie; logout and password changes
  increase it, so older cookies stop working.
* ``api_keys.agency_id``: a key may be limited to one agency and its subtree (NULL: every agency).
* ``dossier_volumes``: the uploaded dossier-volume frames (dossiers per agency × field × period),
  to which the reports post-stratify.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RENAMED = {"manager": "analyst", "viewer": "official"}


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_api_keys_agency_id_agencies"), "agencies", ["agency_id"], ["id"]
        )
    op.create_table(
        "dossier_volumes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("dossiers", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_dossier_volumes_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["field_id"], ["fields.id"], name=op.f("fk_dossier_volumes_field_id_fields")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_volumes")),
        sa.UniqueConstraint(
            "period", "agency_id", "field_id", name=op.f("uq_dossier_volumes_period_agency_id_field_id")
        ),
    )
    users = sa.table("users", sa.column("role", sa.String))
    for old, new in _RENAMED.items():
        op.execute(users.update().where(users.c.role == old).values(role=new))


def downgrade() -> None:
    users = sa.table("users", sa.column("role", sa.String))
    for old, new in _RENAMED.items():
        op.execute(users.update().where(users.c.role == new).values(role=old))
    op.drop_table("dossier_volumes")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_constraint(op.f("fk_api_keys_agency_id_agencies"), type_="foreignkey")
        batch_op.drop_column("agency_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_epoch")
