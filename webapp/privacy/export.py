"""Export a candidate: one zip of their conversations (.eml as received or as sent), their
attachments and documents, and their profile as JSON (what a subject access request asks)."""

import io
import json
import re
import zipfile
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.mail.read.access import visible
from webapp.mail.storage import BlobStore
from webapp.models import Candidate, CandidateFile, Message, SentCopy, Status, Thread, User
from webapp.models.types import utcnow

HIDDEN = (Status.DRAFT, Status.CANCELLED)


def export_candidate(actor: User, candidate: Candidate, store: BlobStore) -> bytes:
    """The zip's bytes: every message with the candidate that `actor` may see, and the profile."""
    messages = list(
        db.session.scalars(
            select(Message)
            .outerjoin(Thread, Thread.id == Message.thread_id)
            .where(
                or_(Message.candidate_id == candidate.id, Thread.candidate_id == candidate.id),
                visible(actor),
                Message.status.not_in(HIDDEN),
            )
            .order_by(Message.sort_at, Message.id)
        ).unique()
    )
    copies = _sent_copies([m.id for m in messages])
    buffer = io.BytesIO()
    listed = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for msg in messages:
            name = (
                f"conversations/{msg.thread_id or 0}/{msg.sort_at:%Y%m%d-%H%M%S}-{msg.id}-{msg.direction}.eml"
            )
            zf.writestr(name, copies.get(msg.id) or _raw(msg, store))
            files = []
            for att in msg.attachments:
                if store.exists(att.sha256):
                    path = _attachment_path(msg.id, att.id, att.filename)
                    zf.writestr(path, store.get(att.sha256))
                    files.append(path)
            listed.append(_summary(msg, name, files))
        zf.writestr(
            "profile.json", json.dumps(_profile(actor, candidate, listed), indent=2, ensure_ascii=False)
        )
    return buffer.getvalue()


def _sent_copies(ids: list[int]) -> dict[int, bytes]:
    if not ids:
        return {}
    rows = db.session.execute(select(SentCopy.message_id, SentCopy.raw).where(SentCopy.message_id.in_(ids)))
    return {message_id: raw for message_id, raw in rows}


def _raw(msg: Message, store: BlobStore) -> bytes:
    """The bytes as received; for mail with no stored copy (not sent yet), the stored fields."""
    if msg.is_inbound and msg.raw_sha256 and store.exists(msg.raw_sha256):
        return store.get(msg.raw_sha256)
    email = EmailMessage(policy=policy.SMTP)
    email["From"] = f"{msg.from_name} <{msg.from_address}>" if msg.from_name else msg.from_address
    if msg.to_addresses:
        email["To"] = ", ".join(msg.to_addresses)
    if msg.cc_addresses:
        email["Cc"] = ", ".join(msg.cc_addresses)
    email["Subject"] = msg.subject or ""
    email["Date"] = format_datetime(msg.sort_at)
    if msg.message_id:
        email["Message-ID"] = msg.message_id
    email["X-Hiremail-Status"] = msg.status
    email.set_content(msg.body_text or "")
    return email.as_bytes()


def _summary(msg: Message, file: str, attachments: list[str]) -> dict:
    return {
        "file": file,
        "conversation_id": msg.thread_id,
        "direction": msg.direction,
        "status": msg.status,
        "date": msg.sort_at.isoformat(),
        "from": msg.from_address,
        "to": list(msg.to_addresses or []),
        "cc": list(msg.cc_addresses or []),
        "subject": msg.subject,
        "attachments": attachments,
    }


def _profile(actor: User, candidate: Candidate, messages: list[dict]) -> dict:
    files = db.session.scalars(select(CandidateFile).where(CandidateFile.candidate_id == candidate.id))
    return {
        "candidate": {
            "id": candidate.id,
            "first_name": candidate.first_name,
            "last_name": candidate.last_name,
            "emails": [e.email for e in candidate.emails],
            "created_at": candidate.created_at.isoformat(),
        },
        "placements": [
            {"offer": p.offer.title, "stage": p.stage, "since": p.created_at.isoformat()}
            for p in candidate.placements
        ],
        "documents": [
            {
                "kind": f.kind,
                "filename": f.attachment.filename,
                "file": _attachment_path(f.attachment.message_id, f.attachment_id, f.attachment.filename),
            }
            for f in files
        ],
        "messages": messages,
        "exported_at": utcnow().isoformat(),
        "exported_by": actor.email,
    }


def _attachment_path(message_id: int, attachment_id: int, filename: str) -> str:
    return f"attachments/{message_id}/{attachment_id}-{_safe(filename)}"


def _safe(filename: str) -> str:
    """A file name that stays inside its folder of the zip."""
    name = re.sub(r"[^\w.\- ]+", "_", filename or "file").strip(". ") or "file"
    return name[:120]
