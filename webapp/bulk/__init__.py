"""Bulk email: one text to many candidates, a separate message each, with a progress view."""

from flask import Blueprint

bp = Blueprint("bulk", __name__, url_prefix="/bulk")

# The folders whose rows are candidate mail: they offer "Bulk email" and a checkbox per row.
PICK_FOLDERS = ("inbox", "candidates", "followed-candidates", "followed-jobs", "archived")


@bp.app_context_processor
def _pick_folders() -> dict:
    """The folder slugs whose rows can be ticked for a bulk email (read by the list templates)."""
    return {"bulk_pick_folders": PICK_FOLDERS}


from webapp.bulk import routes  # noqa: E402, F401
