"""Shared fixtures for the statistics tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.hierarchy import hierarchy_from_form
from forms import load_form
from tests.analysis.factories import make_responses


@pytest.fixture(scope="session")
def form17():
    """The 22-item sipas-2017 form (5 factors, overall = mean of factors)."""
    return load_form("sipas-2017")


@pytest.fixture(scope="session")
def tree17(form17):
    return hierarchy_from_form(form17)


@pytest.fixture
def export(tmp_path: Path, form17) -> Path:
    """A wide CSV export of 240 synthetic ``sipas-2017`` responses (as ``sipas analyze`` reads)."""
    df = make_responses(form17, seed=12, n=240)
    df["submitted_at"] = df["submitted_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df["form_id"] = form17.id
    path = tmp_path / "responses.csv"
    df.to_csv(path, index=False)
    return path
