"""Admin views; anyone else gets a 404, as for anything they may not see."""

from datetime import date
from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import audit, queue_health
from webapp.admin import bp, operations
from webapp.admin.operations import AdminError
from webapp.extensions import db
from webapp.mail.sync.runner import error_phrase, failing_connections
from webapp.models import Message, Offer, Outcome, SentCopy, User
from webapp.privacy import retention
from webapp.services import blob_store
from webapp.templating import translate

# Kept but shown in no folder: quarantined mail, and auto-replies with no conversation.
HELD_OUTCOMES = (Outcome.QUARANTINED, Outcome.AUTO_REPLY)
FAILED_SHOWN = 100


@bp.before_request
def admins_only():
    """Hide the admin pages from everyone else (404, not 403: no hint they exist)."""
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(404)


@bp.route("/quarantine")
def quarantine():
    """Inbound mail held out of the folders, newest first, with why and the raw file."""
    held = db.session.scalars(
        select(Message)
        .where(Message.outcome.in_(HELD_OUTCOMES), Message.thread_id.is_(None))
        .order_by(Message.id.desc())
        .limit(200)
    ).unique()
    return render_template("admin/quarantine.html", messages=list(held))


@bp.route("/messages/<int:message_id>/raw")
def raw(message_id: int):
    """Download the raw bytes of a stored message, exactly as received or as sent."""
    msg = db.session.get(Message, message_id)
    if msg is None or not msg.raw_sha256:
        abort(404)
    copy = db.session.get(SentCopy, message_id)  # what we sent; what we received is a blob
    if copy is not None:
        raw = copy.raw
    else:
        path = blob_store().path(msg.raw_sha256)
        if not path.exists():
            abort(404)
        raw = path.read_bytes()
    audit.record_now(current_user.id, "raw_download", "message", msg.id)
    response = Response(raw, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="message-{msg.id}.eml"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/queues")
def queues():
    """Queue health: what each queue holds, its workers, and the failed jobs with their errors."""
    return render_template(
        "admin/queues.html",
        states=queue_health.queue_states(),
        failed=queue_health.failed_jobs(FAILED_SHOWN),
        mailbox_errors=[(c, translate(error_phrase(c) or "")) for c in failing_connections()],
    )


@bp.route("/queues/requeue", methods=["POST"])
def requeue():
    """Put one failed job (job_id) or all of them (all=1) back in its queue."""
    if request.form.get("all") == "1":
        queue_health.requeue_all()
    elif not queue_health.requeue(request.form.get("job_id", "")):
        abort(404)
    return redirect(url_for("admin.queues"))


@bp.route("/users")
def users():
    """The team: role, state, offers; deactivate, reactivate, reset a password."""
    return _users_page()


def _users_page(status: int = 200, **shown):
    team = db.session.scalars(select(User).order_by(User.is_active_user.desc(), User.name)).all()
    return render_template("admin/users.html", users=team, **shown), status


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    """Deactivate (active=0) or reactivate (active=1) a user."""
    user = _user_or_404(user_id)
    try:
        operations.set_active(current_user.id, user, request.form.get("active") == "1")
    except AdminError as refused:
        db.session.rollback()
        return _users_page(422, error=str(refused))
    db.session.commit()
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    """Give a user a generated password, shown on this page once (never stored in clear)."""
    user = _user_or_404(user_id)
    password = operations.reset_password(current_user.id, user)
    db.session.commit()
    response, status = _users_page(new_password=password, password_user=user)
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/offers")
def offers():
    """Every offer and who may access it; grant and revoke access."""
    team = db.session.scalars(select(User).where(User.is_active_user).order_by(User.name)).all()
    return render_template("admin/offers.html", offer_teams=operations.offer_teams(), users=team)


@bp.route("/offers/<int:offer_id>/access", methods=["POST"])
def offer_access(offer_id: int):
    """Grant (action=grant) or revoke (action=revoke) a user's access to an offer."""
    offer = db.session.get(Offer, offer_id)
    user = db.session.get(User, request.form.get("user_id", type=int) or 0)
    action = request.form.get("action")
    if offer is None or user is None or action not in ("grant", "revoke"):
        abort(404)
    change = operations.grant_access if action == "grant" else operations.revoke_access
    change(current_user.id, user, offer)
    db.session.commit()
    return redirect(url_for("admin.offers") + f"#offer-{offer.id}")


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/audit")
def audit_log():
    """Who did what, newest first: filter by person, action and days; 50 a page."""
    chosen = audit.AuditFilter(
        actor_id=request.args.get("actor", type=int),
        action=request.args.get("action") or None,
        since=_day("since"),
        until=_day("until"),
        before_id=request.args.get("before", type=int),
    )
    rows, next_before = audit.page(chosen, current_user.timezone or "UTC")
    team = db.session.scalars(select(User).order_by(User.name)).all()
    query: dict[str, Any] = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/audit.html",
        rows=rows,
        chosen=chosen,
        users=team,
        actions=audit.ACTIONS,
        describe=audit.describe,
        next_url=url_for("admin.audit_log", **query, before=next_before) if next_before else None,
        first_url=url_for("admin.audit_log", **query) if chosen.before_id else None,
    )


@bp.route("/retention", methods=["GET", "POST"])
def retention_page():
    """The retention period: how much mail it would erase now (dry run), then save it."""
    current = retention.months()
    if request.method == "GET":
        return _retention_page(current, None)
    raw = (request.form.get("months") or "").strip()
    months = None if raw in ("", "0") else int(raw) if raw.isdigit() else -1
    if months is not None and not 1 <= months <= retention.MAX_MONTHS:
        return _retention_page(current, None, error=True, status=422)
    if request.form.get("confirm") != "1" and months is not None:
        # First the dry run: what this period would erase today, then the confirm button.
        return _retention_page(current, months)
    retention.set_months(current_user.id, months)
    db.session.commit()
    return redirect(url_for("admin.retention_page"), code=303)


def _retention_page(current: int | None, proposed: int | None, error: bool = False, status: int = 200):
    due = retention.count_due(proposed) if proposed else (retention.count_due(current) if current else None)
    return (
        render_template(
            "admin/retention.html",
            current=current,
            proposed=proposed,
            due=due,
            error=error,
            max_months=retention.MAX_MONTHS,
        ),
        status,
    )
