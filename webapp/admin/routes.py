"""Admin views; anyone else gets a 404, as for anything they may not see."""

from flask import Response, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from webapp.admin import bp
from webapp.extensions import db
from webapp.models import Message, Outcome, SentCopy
from webapp.services import blob_store

# Kept but shown in no folder: quarantined mail, and auto-replies with no conversation.
HELD_OUTCOMES = (Outcome.QUARANTINED, Outcome.AUTO_REPLY)


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
    response = Response(raw, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="message-{msg.id}.eml"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
