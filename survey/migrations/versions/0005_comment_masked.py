"""``responses.comment_masked``: the comment had phone or ID numbers, masked before storage.

Comments are masked on the write path since this revision (``survey.privacy``); the flag says
that something was masked, without keeping what. Rows stored before it are ``false`` (their
comments are still masked when shown).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch_op:
        batch_op.add_column(
            sa.Column("comment_masked", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch_op:
        batch_op.drop_column("comment_masked")
