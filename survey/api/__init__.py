"""Blueprint: api (views are in :mod:`survey.api.views`)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from survey.api import views  # noqa: E402,F401  (registers the routes on bp)
