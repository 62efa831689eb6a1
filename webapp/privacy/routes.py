"""Data protection views: erase and export a candidate, make and revoke CV links (signed in),
and the CV link itself (no login: /s/<token>)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import audit, page_cache
from webapp.extensions import db
from webapp.models import Candidate
from webapp.people import queries
from webapp.privacy import erase, export, purge, shares, throttle, traces
from webapp.services import blob_store

bp = Blueprint("privacy", __name__)

# Openings of CV links per client address and minute (pages and documents together).
SHARE_RATE_LIMIT = 30
PUBLIC_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
PUBLIC_ENDPOINTS = ("privacy.shared_cv", "privacy.shared_file")


def _visible_or_404(candidate_id: int) -> Candidate:
    return queries.visible_candidate(current_user, candidate_id) or abort(404)


def _managed_or_403(candidate_id: int) -> Candidate:
    """A candidate the user may erase and export (seen but not theirs to manage: 403)."""
    candidate = _visible_or_404(candidate_id)
    if not erase.may_manage(current_user, candidate):
        abort(403)
    return candidate


@bp.route("/candidates/<int:candidate_id>/erase", methods=["GET", "POST"])
def erase_candidate(candidate_id: int):
    """Erase a candidate and all their mail, once the user typed their name to confirm."""
    candidate = _managed_or_403(candidate_id)
    if request.method == "GET":
        return render_template("privacy/erase.html", candidate=candidate)
    typed = " ".join((request.form.get("confirm_name") or "").split()).casefold()
    if typed != " ".join(candidate.full_name.split()).casefold() or not typed:
        error = _("Type the candidate's name exactly as shown to confirm.")
        return render_template("privacy/erase.html", candidate=candidate, error=error), 422
    try:
        done = erase.erase_candidate(current_user, candidate, blob_store())
    except erase.EraseError as refused:
        db.session.rollback()
        return render_template("privacy/erase.html", candidate=candidate, error=str(refused)), 409
    db.session.commit()
    # After the commit: a rollback must never lose a file a row still names.
    purge.forget_blobs(blob_store(), done.purged.blobs)
    traces.forget_jobs(done.message_ids, done.addresses)
    page_cache.forget_all()  # pages kept in Redis that showed the candidate's mail or name
    return render_template("privacy/erased.html", purged=done.purged)


@bp.route("/candidates/<int:candidate_id>/export", methods=["POST"])
def export_candidate(candidate_id: int):
    """Download one zip with the candidate's mail (.eml), attachments and profile (JSON)."""
    candidate = _managed_or_403(candidate_id)
    data = export.export_candidate(current_user, candidate, blob_store())
    audit.record_now(current_user.id, "candidate_exported", "candidate", candidate.id, size=len(data))
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="candidate-{candidate_id}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _expiry(value: str) -> datetime | None:
    """The last minute of the chosen day in the user's time zone (empty: the default)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return datetime.min.replace(tzinfo=ZoneInfo("UTC"))  # refused as "in the past"
    zone = ZoneInfo(current_user.timezone or "UTC")
    return datetime.combine(day, time(23, 59), tzinfo=zone)


@bp.route("/candidates/<int:candidate_id>/shares", methods=["POST"])
def create_share(candidate_id: int):
    """Make a CV link for someone outside the team; the link is shown once."""
    candidate = _visible_or_404(candidate_id)
    files = [int(v) for v in request.form.getlist("file_id") if v.isdigit()]
    try:
        share, token = shares.create(
            current_user,
            candidate,
            name=request.form.get("name", ""),
            sections=request.form.getlist("section"),
            file_ids=files,
            expires_at=_expiry(request.form.get("expires", "")),
        )
    except shares.ShareError as refused:
        db.session.rollback()
        return render_template("privacy/share_made.html", candidate=candidate, error=str(refused)), 422
    db.session.commit()
    link = url_for("privacy.shared_cv", token=token, _external=True)
    page = render_template("privacy/share_made.html", candidate=candidate, share=share, link=link)
    return page, 201, {"Cache-Control": "no-store"}


@bp.route("/candidates/<int:candidate_id>/shares/<int:share_id>/revoke", methods=["POST"])
def revoke_share(candidate_id: int, share_id: int):
    """End a CV link now."""
    candidate = _visible_or_404(candidate_id)
    share = next((s for s in shares.for_candidate(candidate.id) if s.id == share_id), None) or abort(404)
    shares.revoke(current_user, share)
    db.session.commit()
    return redirect(url_for("people.candidate_page", candidate_id=candidate.id) + "#cv-links", code=303)


def _opened_or_gone(token: str) -> shares.Opened:
    if not throttle.allow("share", audit.client_ip(), SHARE_RATE_LIMIT):
        abort(Response(render_template("privacy/share_gone.html", code=429), 429, {"Retry-After": "60"}))
    found = shares.find(token)
    if found is None:
        abort(Response(render_template("privacy/share_gone.html", code=404), 404))
    if not found.is_open:
        abort(Response(render_template("privacy/share_gone.html", code=410, share=found.share), 410))
    return found


@bp.route("/s/<token>")
def shared_cv(token: str):
    """A shared CV, without login: the documents, and the profile or messages if chosen."""
    share = _opened_or_gone(token).share
    shares.log_view(share, audit.client_ip())
    candidate = db.session.get(Candidate, share.candidate_id)
    page = render_template(
        "privacy/shared_cv.html",
        share=share,
        token=token,
        candidate=candidate,
        documents=[f for f in shares.documents(share.candidate_id) if f.attachment_id in share.file_ids],
        messages=shares.shared_messages(share),
    )
    db.session.commit()
    return page


@bp.route("/s/<token>/files/<int:attachment_id>")
def shared_file(token: str, attachment_id: int):
    """One document of a shared CV, downloaded (never rendered inline)."""
    share = _opened_or_gone(token).share
    document = shares.shared_file(share, attachment_id) or abort(404)
    shares.log_view(share, audit.client_ip(), what="document")
    db.session.commit()
    path = blob_store().path(document.attachment.sha256)
    if not path.exists():
        abort(404)
    return send_file(
        path,
        mimetype=document.attachment.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=document.attachment.filename,
    )


@bp.after_request
def public_headers(response):
    """CV links: kept out of search engines, caches and the Referer of any link they hold."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        response.headers.update(PUBLIC_HEADERS)
    return response
