"""Shared fixtures for the statistics tests."""

from __future__ import annotations

import pytest

from analysis.hierarchy import hierarchy_from_form
from forms import load_form


@pytest.fixture(scope="session")
def form17():
    """The 22-item sipas-2017 form (5 factors, overall = mean of factors)."""
    return load_form("sipas-2017")


@pytest.fixture(scope="session")
def tree17(form17):
    return hierarchy_from_form(form17)
