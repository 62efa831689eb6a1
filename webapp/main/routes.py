"""Site-wide views and the guard that makes login required everywhere else."""

from flask import current_app, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import text

from webapp.extensions import db
from webapp.main import bp
from webapp.queues import get_redis
from webapp.redirects import safe_next

# Everything else needs a signed-in user.
PUBLIC_ENDPOINTS = {"auth.login", "main.healthz", "static", "receiving.raw"}


@bp.before_app_request
def require_login():
    """Send anonymous visitors to the login page (htmx: a full-page redirect)."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    return redirect(login_url)


@bp.route("/healthz")
def healthz():
    """Report whether the database and Redis answer (JSON, 503 if either does not)."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # the point is to report it, not to crash
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "error", **checks), 200 if healthy else 503


@bp.route("/settings/language", methods=["POST"])
def set_language():
    """Remember the user's language choice and return to where they were."""
    choice = request.form.get("locale", "")
    if choice in current_app.config["LANGUAGES"] or choice == "":
        current_user.locale = choice or None
        db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("mailbox.index"))
