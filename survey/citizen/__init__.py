"""Blueprint: citizen (views are in :mod:`survey.citizen.views`)."""

from flask import Blueprint

bp = Blueprint("citizen", __name__)

from survey.citizen import views  # noqa: E402,F401  (registers the routes on bp)
