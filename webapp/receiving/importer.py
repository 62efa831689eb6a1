"""Read messages from .eml files, an mbox or a maildir, and import or dry-run them."""

import hashlib
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.classify import decide
from webapp.mail.inbound.parse import limit_violations, parse
from webapp.mail.inbound.pipeline import classify_stored, store_inbound
from webapp.mail.storage import BlobStore
from webapp.models import Message, Outcome


@dataclass
class Result:
    source: str
    message_id: str | None
    outcome: str
    reason: str

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "message_id": self.message_id,
            "outcome": self.outcome,
            "reason": self.reason,
        }


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(source label, raw bytes) for every message under `path`."""
    if path.is_dir():
        if all((path / d).is_dir() for d in ("cur", "new", "tmp")):
            maildir = mailbox.Maildir(str(path), factory=None, create=False)
            for key in sorted(maildir.keys()):
                yield f"{path}#{key}", maildir.get_bytes(key)
            return
        for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml"):
            yield str(file), file.read_bytes()
        return
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(str(path), factory=None, create=False)
        for index, key in enumerate(mbox.keys()):
            yield f"{path}#{index + 1}", mbox.get_bytes(key)
        return
    yield str(path), path.read_bytes()


def count_messages(path: Path) -> int:
    return sum(1 for _ in read_messages(path))


def import_one(source: str, raw: bytes, *, settings: MailDomain, store: BlobStore) -> Result:
    """Store and classify one message at once; identical bytes already stored are skipped."""
    sha = hashlib.sha256(raw).hexdigest()
    existing = db.session.scalar(select(Message.id).where(Message.raw_sha256 == sha).limit(1))
    if existing is not None:
        return Result(source, _message_id(raw), Outcome.DUPLICATE, f"already stored as message #{existing}")
    msg = store_inbound(raw, store=store, source="import")
    db.session.commit()
    outcome = classify_stored(msg.id, settings=settings, store=store)
    msg = db.session.get_one(Message, msg.id)
    return Result(source, msg.message_id, outcome or "", msg.outcome_reason or "")


def dry_run_one(source: str, raw: bytes, *, settings: MailDomain, seen: set[str]) -> Result:
    """Where the message would go, against the current database; writes nothing."""
    sha = hashlib.sha256(raw).hexdigest()
    if sha in seen:
        return Result(source, _message_id(raw), Outcome.DUPLICATE, "same bytes earlier in this import")
    seen.add(sha)
    try:
        parsed = parse(raw)
        problems = limit_violations(raw, parsed.email) if parsed.email is not None else ["unparseable"]
        if problems:
            return Result(source, parsed.message_id, Outcome.QUARANTINED, "; ".join(problems))
        decision = decide(parsed, sha256=sha, envelope_to=[], settings=settings, source="import")
        return Result(source, parsed.message_id, decision.outcome, decision.reason)
    except Exception as exc:
        return Result(
            source, None, Outcome.QUARANTINED, f"classification failed: {type(exc).__name__}: {exc}"
        )
    finally:
        db.session.rollback()  # decide() may have loaded rows; leave no trace


def _message_id(raw: bytes) -> str | None:
    try:
        return parse(raw).message_id
    except Exception:
        return None
