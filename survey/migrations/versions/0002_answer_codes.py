"""Answers as one array per response: ``responses.answer_codes`` replaces the ``answers`` table.

``form_versions.item_keys`` records the answer columns of each form version; the codes of a
response are stored in that order (``smallint[]`` on PostgreSQL, a JSON array on SQLite). The
existing answers are converted: the columns of an existing form version are the item keys its
responses answered, sorted (the application appends the form's other keys when it next records
an answer to that version).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 18:00:00
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CODES = sa.JSON().with_variant(postgresql.ARRAY(sa.SmallInteger(), dimensions=1), "postgresql")
_BATCH = 5000


def upgrade() -> None:
    op.add_column("form_versions", sa.Column("item_keys", sa.JSON(), nullable=True))
    op.add_column("responses", sa.Column("answer_codes", _CODES, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _convert_postgresql()
    else:
        _convert_in_python()
    with op.batch_alter_table("form_versions") as batch_op:
        batch_op.alter_column("item_keys", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("responses") as batch_op:
        batch_op.alter_column("answer_codes", existing_type=_CODES, nullable=False)
    op.drop_table("answers")


def _convert_postgresql() -> None:
    op.execute(
        """
        UPDATE form_versions AS fv SET item_keys = coalesce(
            (SELECT json_agg(keys.item_key ORDER BY keys.item_key)
               FROM (SELECT DISTINCT a.item_key FROM answers AS a
                       JOIN responses AS r ON r.id = a.response_id
                      WHERE r.form_version_id = fv.id) AS keys),
            '[]'::json)
        """
    )
    op.execute(
        """
        UPDATE responses AS r SET answer_codes = ARRAY(
            SELECT a.value
              FROM form_versions AS fv
             CROSS JOIN json_array_elements_text(fv.item_keys) WITH ORDINALITY AS k(key, pos)
              LEFT JOIN answers AS a ON a.response_id = r.id AND a.item_key = k.key
             WHERE fv.id = r.form_version_id
             ORDER BY k.pos)::smallint[]
        """
    )


def _convert_in_python() -> None:
    """SQLite (small, embedded databases): read the answers, write the arrays in batches."""
    bind = op.get_bind()
    keys_of: dict[int, set[str]] = defaultdict(set)
    rows = bind.execute(
        sa.text(
            "SELECT DISTINCT r.form_version_id, a.item_key FROM answers AS a "
            "JOIN responses AS r ON r.id = a.response_id"
        )
    )
    for form_version_id, item_key in rows:
        keys_of[form_version_id].add(item_key)
    layouts: dict[int, list[str]] = {}
    for (form_version_id,) in bind.execute(sa.text("SELECT id FROM form_versions")).all():
        layouts[form_version_id] = sorted(keys_of.get(form_version_id, ()))
        bind.execute(
            sa.text("UPDATE form_versions SET item_keys = :keys WHERE id = :id"),
            {"keys": json.dumps(layouts[form_version_id]), "id": form_version_id},
        )
    answers: dict[int, dict[str, int]] = defaultdict(dict)
    for response_id, item_key, value in bind.execute(
        sa.text("SELECT response_id, item_key, value FROM answers")
    ):
        answers[response_id][item_key] = value
    responses = bind.execute(sa.text("SELECT id, form_version_id FROM responses")).all()
    update = sa.text("UPDATE responses SET answer_codes = :codes WHERE id = :id")
    for start in range(0, len(responses), _BATCH):
        batch = []
        for response_id, form_version_id in responses[start : start + _BATCH]:
            given = answers.get(response_id, {})
            codes = [given.get(key) for key in layouts[form_version_id]]
            batch.append({"codes": json.dumps(codes), "id": response_id})
        bind.execute(update, batch)


def downgrade() -> None:
    op.create_table(
        "answers",
        sa.Column(
            "response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item_key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "item_key", name=op.f("pk_answers")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            INSERT INTO answers (response_id, item_key, value)
            SELECT r.id, k.key, r.answer_codes[k.pos]
              FROM responses AS r
              JOIN form_versions AS fv ON fv.id = r.form_version_id
             CROSS JOIN json_array_elements_text(fv.item_keys) WITH ORDINALITY AS k(key, pos)
             WHERE r.answer_codes[k.pos] IS NOT NULL
            """
        )
    else:
        op.execute(
            """
            INSERT INTO answers (response_id, item_key, value)
            SELECT r.id, json_extract(fv.item_keys, '$[' || c.key || ']'), c.value
              FROM responses AS r
              JOIN form_versions AS fv ON fv.id = r.form_version_id,
                   json_each(r.answer_codes) AS c
             WHERE c.value IS NOT NULL
            """
        )
    with op.batch_alter_table("responses") as batch_op:
        batch_op.drop_column("answer_codes")
    with op.batch_alter_table("form_versions") as batch_op:
        batch_op.drop_column("item_keys")
