"""Site-wide views and the guard that makes login required everywhere else."""

from flask import abort, current_app, jsonify, redirect, request, url_for
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST

from webapp import readiness
from webapp.extensions import db
from webapp.main import bp
from webapp.metrics import may_read_metrics
from webapp.metrics import render as render_metrics
from webapp.redirects import safe_next

# Everything else needs a signed-in user.
# The probes are public (/metrics checks its own token), and say nothing secret.
PUBLIC_ENDPOINTS = {"auth.login", "main.healthz", "main.readyz", "main.metrics", "static", "receiving.raw"}
# A shared CV link checks its own token (webapp/privacy/routes.py).
PUBLIC_ENDPOINTS |= {"privacy.shared_cv", "privacy.shared_file"}


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
    """Liveness: the process answers (no dependency is asked, so a slow database restarts nothing)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """Readiness: database, Redis, mail leaving on time, a worker on every queue (JSON; 503 if not)."""
    found = readiness.check()
    return jsonify(found.as_dict()), 200 if found.is_ready else 503


@bp.route("/metrics")
def metrics():
    """Prometheus metrics, for a scraper with METRICS_TOKEN or on this host; 404 for anyone else."""
    if not may_read_metrics():
        abort(404)
    return current_app.response_class(render_metrics(), mimetype=CONTENT_TYPE_LATEST)


@bp.route("/settings/language", methods=["POST"])
def set_language():
    """Remember the user's language choice and return to where they were."""
    choice = request.form.get("locale", "")
    if choice in current_app.config["LANGUAGES"] or choice == "":
        current_user.locale = choice or None
        db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("mailbox.index"))
