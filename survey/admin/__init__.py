"""Blueprint: admin.

:mod:`~survey.admin.views` (the index, counters and QR codes: every role),
:mod:`~survey.admin.units` (unit catalogue), :mod:`~survey.admin.frames` (dossier-volume
frames and coverage), :mod:`~survey.admin.versions` (questionnaire versions in use) and
:mod:`~survey.admin.accounts` (accounts and API keys): administrators only.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from survey.admin import accounts, frames, units, versions, views  # noqa: E402,F401  (routes)
from survey.admin.messages import row_error_message  # noqa: E402


@bp.context_processor
def _problem_text() -> dict[str, object]:
    """Templates show import and frame problems with ``problem_text(error)``."""
    return {"problem_text": row_error_message}
