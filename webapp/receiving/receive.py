"""The one way mail comes in: store and commit first, then queue classification."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs.enqueue import enqueue_classify
from webapp.mail.addresses import resolve
from webapp.mail.inbound.pipeline import store_inbound
from webapp.models import Thread, User
from webapp.services import blob_store, mail_domain


def receive(raw: bytes, source: str, envelope_from: str | None = None, envelope_to=()) -> int:
    """Store `raw` (committed before returning), queue its classification; returns the id."""
    msg = store_inbound(
        raw, store=blob_store(), source=source, envelope_from=envelope_from, envelope_to=envelope_to
    )
    db.session.commit()
    enqueue_classify(msg.id)
    return msg.id


def accepts(address: str) -> bool:
    """Whether `address` is one of ours that exists: user, any CV address, reply, bounce."""
    domain = mail_domain()
    target = resolve(address, domain.domain, domain.secret)
    if target is None:
        return False
    if target.kind == "user":
        return db.session.scalar(select(User.id).where(User.inbound_local == target.value)) is not None
    if target.kind == "cv":
        # Every cv+<anything>@ is accepted: an unknown slug lands in the company CV inbox (as
        # classification files it), and RCPT never tells an outsider which jobs exist.
        return True
    if target.kind == "reply":
        return db.session.get(Thread, target.value) is not None
    return True  # bounce: the signature already proved it is ours
