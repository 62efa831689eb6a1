"""The audit log: who did what to whose data, and when; what Admin > Audit reads.

Rows name their target by kind and id, never by the person's name or address (an erased
candidate's rows keep who erased whom and when, not the data). The callers flush with their
change; the view commits. A download has nothing else to commit: `record_now`. `record` is
the one writer of the audit log.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import has_request_context, request
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.models import AuditLog
from webapp.templating import file_size

PAGE_SIZE = 50

# Every action the app records, as Admin > Audit names it (and offers it as a filter).
ACTIONS = {
    "login": _l("Signed in"),
    "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "raw_download": _l("Downloaded a raw message"),
    "attachment_download": _l("Downloaded an attachment"),
    "send": _l("Sent or scheduled a message"),
    "bulk_send": _l("Sent a bulk email"),
    "archive": _l("Archived a conversation"),
    "unarchive": _l("Unarchived a conversation"),
    "template_saved": _l("Saved a template"),
    "template_deleted": _l("Deleted a template"),
    "candidate_erased": _l("Erased a candidate"),
    "candidate_exported": _l("Exported a candidate"),
    "share_created": _l("Shared a CV by link"),
    "share_revoked": _l("Revoked a CV link"),
    "retention_changed": _l("Changed the retention period"),
    "retention_erased": _l("Erased old mail (retention)"),
    "convert_to_candidate": _l("Made a candidate from mail"),
    "add_address_to_candidate": _l("Added an address to a candidate"),
    "cv_to_candidate": _l("Made a candidate from a CV"),
    "cv_discarded": _l("Discarded a CV"),
    "grant_offer_access": _l("Granted offer access"),
    "revoke_offer_access": _l("Revoked offer access"),
    "deactivate_user": _l("Deactivated a user"),
    "reactivate_user": _l("Reactivated a user"),
    "reset_password": _l("Reset a password"),
    "password_changed": _l("Changed their password"),
    "password_change_refused": _l("Password change refused (wrong current password)"),
    "bulk_cancel": _l("Cancelled a bulk email"),
}

# What each detail of a row is called on Admin > Audit (a key not listed shows as stored).
DETAILS = {
    "ip": _l("IP address"),
    "remember": _l("Keep me signed in"),  # the sign-in form's box
    "email": _l("Email typed"),
    "reason": _l("Reason"),
    "message": _l("Message"),
    "message_id": _l("Message"),
    "scheduled": _l("Scheduled"),
    "messages": _l("Messages"),
    "conversations": _l("Conversations"),
    "files": _l("Files"),
    "size": _l("Size"),
    "shared": _l("Shared with the team"),
    "share": _l("Link"),
    "sections": _l("Sections"),
    "expires": _l("Expires"),
    "before": _l("Before"),
    "months": _l("Months"),
    "address": _l("Address"),
    "offer": _l("Offer"),
    "offer_id": _l("Offer"),
    "messages_moved": _l("Messages moved"),
    "merged": _l("Merged into an existing candidate"),
    "sender": _l("Sender"),
    "generated": _l("Password generated"),
}
# Stored codes, in words, by detail.
_CODES = {
    ("reason", "wrong_password"): _l("wrong password"),
    ("reason", "unknown_account"): _l("no such account"),
    ("reason", "locked_account"): _l("too many failures for this account"),
    ("reason", "locked_address"): _l("too many failures from this address"),
    ("sections", "profile"): _l("profile"),
    ("sections", "messages"): _l("messages"),
}


def describe(details: dict | None) -> list[tuple[str, str]]:
    """A row's details in plain words, for Admin > Audit: [("Keep me signed in", "no"), ...]."""
    return [(str(DETAILS.get(key, key)), _in_words(key, value)) for key, value in (details or {}).items()]


def _in_words(key: str, value) -> str:
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if value is None or value == []:
        return str(_l("none"))
    if isinstance(value, list | tuple):
        return ", ".join(_in_words(key, v) for v in value)
    if key == "size" and isinstance(value, int):
        return file_size(value)
    if key == "expires" and isinstance(value, str):
        try:
            return format_datetime(datetime.fromisoformat(value), "medium")
        except ValueError:
            return value
    return str(_CODES.get((key, str(value)), value))


def client_ip() -> str:
    """The client's address (behind a trusted proxy, as ProxyFix gave it), or ''."""
    return (request.remote_addr or "") if has_request_context() else ""


def record(
    actor_id: int | None, action: str, target_type: str, target_id: int | None = None, **details
) -> None:
    """Add an audit row in the caller's transaction (actor None: the command line or the worker)."""
    db.session.add(
        AuditLog(
            user_id=actor_id, action=action, target_type=target_type, target_id=target_id, details=details
        )
    )


def record_now(
    actor_id: int | None, action: str, target_type: str, target_id: int | None = None, **details
) -> None:
    """Add an audit row and commit it (for a view that changes nothing else: a download, a login)."""
    record(actor_id, action, target_type, target_id, **details)
    db.session.commit()


@dataclass
class AuditFilter:
    """What Admin > Audit narrows to: an actor, an action, a day range (the admin's days)."""

    actor_id: int | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None
    before_id: int | None = None


def page(chosen: AuditFilter, tz: str = "UTC") -> tuple[list[AuditLog], int | None]:
    """A page of audit rows, newest first, and the id to continue from (None: the last page)."""
    query = _filtered(chosen, ZoneInfo(tz))
    if chosen.before_id:
        query = query.where(AuditLog.id < chosen.before_id)
    rows = list(db.session.scalars(query.order_by(AuditLog.id.desc()).limit(PAGE_SIZE + 1)).unique())
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].id if more and rows else None)


def _filtered(chosen: AuditFilter, zone: ZoneInfo) -> Select:
    query = select(AuditLog)
    if chosen.actor_id:
        query = query.where(AuditLog.user_id == chosen.actor_id)
    if chosen.action:
        query = query.where(AuditLog.action == chosen.action)
    if chosen.since:
        query = query.where(AuditLog.created_at >= _start_of(chosen.since, zone))
    if chosen.until:
        query = query.where(AuditLog.created_at < _start_of(chosen.until + timedelta(days=1), zone))
    return query


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)
