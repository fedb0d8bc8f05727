"""Submissions as the write-path tests build them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from survey.submissions import Submission

NOW = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def counter_submission(answers: Mapping[str, object], /, **overrides: object) -> Submission:
    """A fresh ``sipas-counter`` v1 submission at counter ``Q1``, started 3 minutes before
    :data:`NOW`; ``overrides`` replace any field (``answers`` too)."""
    values: dict[str, object] = {
        "uuid": uuid.uuid4(),
        "form_id": "sipas-counter",
        "form_version": 1,
        "answers": answers,
        "counter_code": "Q1",
        "channel": "counter_qr",
        "started_at": NOW - timedelta(minutes=3),
    }
    values.update(overrides)
    return Submission(**values)  # type: ignore[arg-type]
