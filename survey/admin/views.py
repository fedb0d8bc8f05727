"""Views of this blueprint."""

from survey.extensions import login_manager


@login_manager.user_loader
def _load_user(user_id: str) -> None:
    """Placeholder until officials' accounts exist."""
    return None
