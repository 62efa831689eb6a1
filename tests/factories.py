"""Factories for users, offers, candidates, threads and messages (rows, committed)."""

import functools
from datetime import UTC, datetime, timedelta
from itertools import count
from types import SimpleNamespace

from werkzeug.security import generate_password_hash

from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import (
    Attachment,
    Candidate,
    CandidateEmail,
    CandidateFollow,
    Direction,
    Message,
    MessageRecipient,
    Offer,
    OfferAccess,
    OfferFollow,
    Placement,
    Thread,
    User,
)

PASSWORD = "password123"


def in_app_context(method):
    """Run a factory method in its own app context; return its object loaded and detached."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.app.app_context():
            obj = method(self, *args, **kwargs)
            db.session.commit()
            # Factories write rows directly, past the operations that keep folder entries:
            # recompute them (a test's database is small).
            entries.rebuild()
            db.session.commit()
            if obj is not None:
                db.session.refresh(obj)
                db.session.expunge(obj)
            return obj

    return wrapper


class Team(SimpleNamespace):
    """Offers by the key a test gave them (`team.job`), people by their first name (`team.rita`)."""


def member_key(name: str) -> str:
    """How a person is reached on a team: "Rita Recruiter" is `team.rita`."""
    return name.split()[0].lower()


class Factory:
    def __init__(self, app):
        self.app = app
        self.seq = count(1)
        self.clock = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        """A strictly later time on each call, so ordering is predictable."""
        self.clock += timedelta(minutes=5)
        return self.clock

    @in_app_context
    def user(self, name: str, role: str = "recruiter", offers=(), **kw) -> User:
        local = name.lower().split()[0]
        user = User(email=f"{local}@team.test", name=name, role=role, inbound_local=local, **kw)
        # A cheap hash: tests log in hundreds of times; production uses Werkzeug's default.
        user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        db.session.add(user)
        db.session.flush()
        for offer in offers:
            db.session.add(OfferAccess(user_id=user.id, offer_id=offer.id))
        return user

    @in_app_context
    def offer(self, title: str, kind: str = "job") -> Offer:
        slug = title.lower().replace(" ", "-")
        offer = Offer(title=title, kind=kind, slug=slug)
        db.session.add(offer)
        db.session.commit()
        return offer

    def team(self, offers=None, pools=None, users=None, candidates=None) -> Team:
        """A named team: the offers and talent pools first, then the users, then the candidates.

        `offers` and `pools` map a key to a title. `users` maps a name to the keys of the offers
        the user can access, to "admin", or to User fields (`offers` and `role` among them).
        `candidates` maps a name to the keys of the offers they are placed on, or to
        `{"offers": [...], "emails": [...]}` (default address: first name @outside.test).
        """
        team = Team()
        for key, title in (offers or {}).items():
            setattr(team, key, self.offer(title))
        for key, title in (pools or {}).items():
            setattr(team, key, self.offer(title, kind="pool"))
        for name, spec in (users or {}).items():
            fields = {"role": "admin"} if spec == "admin" else _fields(spec)
            access = [getattr(team, key) for key in fields.pop("offers", [])]
            setattr(team, member_key(name), self.user(name, offers=access, **fields))
        for name, spec in (candidates or {}).items():
            fields = _fields(spec)
            placed = [getattr(team, key) for key in fields.pop("offers", [])]
            setattr(team, member_key(name), self.candidate(name, offers=placed, **fields))
        return team

    @in_app_context
    def grant(self, user: User, offer: Offer) -> None:
        db.session.add(OfferAccess(user_id=user.id, offer_id=offer.id))
        db.session.commit()

    @in_app_context
    def candidate(self, name: str, offers=(), emails=None) -> Candidate:
        first, _, last = name.partition(" ")
        c = Candidate(first_name=first, last_name=last)
        if emails is None:
            emails = [f"{first.lower()}@outside.test"]
        c.emails = [CandidateEmail(email=e) for e in emails]
        c.placements = [Placement(offer_id=o.id) for o in offers]
        db.session.add(c)
        db.session.commit()
        return c

    @in_app_context
    def follow(self, user: User, target) -> None:
        if isinstance(target, Candidate):
            db.session.add(CandidateFollow(user_id=user.id, candidate_id=target.id))
        else:
            db.session.add(OfferFollow(user_id=user.id, offer_id=target.id))
        db.session.commit()

    @in_app_context
    def thread(self, subject: str | None = None, candidate=None, offer=None, archived=False) -> Thread:
        t = Thread(
            subject=subject or f"Conversation {next(self.seq)}",
            candidate_id=candidate.id if candidate else None,
            offer_id=offer.id if offer else None,
            is_archived=archived,
            last_message_at=self.clock,
        )
        db.session.add(t)
        db.session.commit()
        return t

    @in_app_context
    def message(
        self,
        thread: Thread | None = None,
        *,
        direction: str = Direction.INBOUND,
        candidate=None,
        sender: User | None = None,
        to_users=(),
        status: str | None = None,
        subject: str | None = None,
        from_address: str | None = None,
        at: datetime | None = None,
        attachment: str | None = None,
        **kw,
    ) -> Message:
        """One message; a new thread (with the candidate) is made when none is given."""
        thread = db.session.get(Thread, (thread or self.thread(subject, candidate=candidate)).id)
        at = at or self.tick()
        status = status or ("received" if direction == Direction.INBOUND else "sent")
        if from_address is None:
            if direction == Direction.OUTBOUND and sender:
                from_address = f"{sender.inbound_local}@mail.test"
            elif candidate:
                from_address = candidate.emails[0].email
            else:
                from_address = "someone@elsewhere.test"
        msg = Message(
            thread_id=thread.id,
            direction=direction,
            status=status,
            subject=subject or thread.subject,
            from_address=from_address,
            to_addresses=kw.pop("to_addresses", None)
            or ([candidate.emails[0].email] if (candidate and direction == Direction.OUTBOUND) else []),
            snippet=f"snippet {thread.subject}",
            body_text=kw.pop("body_text", None) or f"Body of {subject or thread.subject}",
            candidate_id=candidate.id if candidate else None,
            sender_id=sender.id if sender else None,
            message_id=kw.pop("message_id", None) or f"<m{next(self.seq)}@test>",
            created_at=at,
            sort_at=at,
            received_at=at if status == "received" else None,
            sent_at=at if status in ("sent", "failed") else None,
            scheduled_at=at if status == "scheduled" else None,
            has_attachments=bool(attachment),
            **kw,
        )
        db.session.add(msg)
        db.session.flush()
        for user in to_users:
            db.session.add(MessageRecipient(message_id=msg.id, user_id=user.id))
        if attachment:
            db.session.add(
                Attachment(
                    message_id=msg.id,
                    filename=attachment,
                    content_type="application/pdf",
                    size=3,
                    sha256="0" * 64,
                )
            )
        if status in ("received", "sent", "failed"):
            thread.touch(at)
        db.session.commit()
        return msg


def _fields(spec) -> dict:
    """A team member's spec as keyword arguments: a list is the keys of their offers."""
    return dict(spec) if isinstance(spec, dict) else {"offers": list(spec)}
