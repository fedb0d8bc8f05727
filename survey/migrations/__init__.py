"""Alembic migrations of the survey database, run programmatically (``sipas db upgrade``).

There is no ``alembic.ini``: :func:`alembic_config` builds the configuration for a database URL,
so the same code serves the CLI, the demo and the tests.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for the database at ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal '%' in a URL (escaped passwords) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)
