"""The seeded province of the report tests (``test_reports.py`` and the browser tests).

:func:`seed_province` fills an app's database with the demo province (``survey.demo``), synthetic
responses over the 12 months before ``now`` and one account per report role.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from survey import repository
from survey.demo import seed_responses, seed_units

PASSWORD = "mat-khau-du-dai"

# STNMT (a department) has its land registration office under it; SNNPTNT has a sub-department.
OWN, OWN_CHILD = "STNMT", "VPDKDD"
OTHER, OTHER_CHILD = "SNNPTNT", "CCTTBVTV"

ANALYST, OFFICIAL, ADMIN = "phan.tich", "can.bo", "quan.tri"


def seed_province(app: Flask, responses: int, *, now: datetime, random_seed: int = 5) -> Flask:
    """Seed the demo province, ``responses`` responses and the analyst, official (of
    :data:`OWN`) and admin accounts, all with :data:`PASSWORD`; returns ``app``."""
    with app.app_context():
        seed_units(now=now)
        seed_responses(responses, random_seed=random_seed, now=now)
        repository.create_user(ANALYST, PASSWORD, role="analyst")
        repository.create_user(OFFICIAL, PASSWORD, role="official", agency_code=OWN)
        repository.create_user(ADMIN, PASSWORD, role="admin")
    return app
