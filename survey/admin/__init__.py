"""Blueprint: admin (views are in :mod:`survey.admin.views`)."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from survey.admin import views  # noqa: E402,F401  (registers the routes on bp)
