"""Folder entries: kept by every operation, equal to a rebuild, and to the folder rules' SQL.

A random history of what a team does (mail in and out, sends, drafts, archive, follows,
conversions, CVs, read state) goes through the real operations; after it, the entries they kept must be
what the folder rules (folders.qualifies, the SQL reference) say, row for row, and a rebuild
must change nothing.
"""

import os
import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.folder_rules import rows_by_the_rules
from tests.helpers import stored
from tests.mailmaker import raw_mail
from webapp.admin import operations as admin
from webapp.extensions import db
from webapp.mail.inbound.pipeline import classify_stored, store_inbound
from webapp.mail.outbound import compose, drafts
from webapp.mail.outbound.delivery import drain
from webapp.mail.outbound.transport import OutboxTransport
from webapp.mail.read import entries, folders, readstate
from webapp.mailbox import operations as mailbox
from webapp.models import SEARCH_EVERYWHERE, FolderCount, FolderEntry, Message, Offer, Status, Thread, User
from webapp.models.types import utcnow
from webapp.people import operations as people
from webapp.services import blob_store, mail_domain

STRANGERS = ["vendor@supplies.test", "press@news.test", "friend@elsewhere.test", "Agency <cv@agency.test>"]


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"backend": "Backend", "design": "Design"},
        pools={"pool": "Talent Pool"},
        users={
            "Ada Admin": "admin",
            "Rita Recruiter": ["backend", "pool"],
            "Sam Recruiter": ["design"],
            "Nick Newcomer": [],
        },
        candidates={
            "Alice Able": ["backend"],
            "Bob Baker": ["backend", "design"],
            "Carl Cole": ["pool"],
            "Dana Diaz": ["design"],
            "Eve Unplaced": [],
        },
    )


def snapshot() -> set[tuple]:
    """The folder entries as they are."""
    return {
        (
            e.user_id,
            e.folder,
            e.thread_id,
            e.activity_at,
            e.message_id,
            e.is_unread,
            e.message_count,
            e.has_attachments,
        )
        for e in db.session.scalars(select(FolderEntry))
    }


def counters() -> dict[tuple[int, str], int]:
    """The unread counters as kept (those at zero left out)."""
    rows = db.session.execute(select(FolderCount.user_id, FolderCount.folder, FolderCount.unread))
    return {(user, folder): n for user, folder, n in rows if n}


def counted(kept: set[tuple]) -> dict[tuple[int, str], int]:
    """The unread counters these entries make (for the folders that show a count)."""
    unread = [(user, folder) for user, folder, _, _, _, unread, _, _ in kept if unread]
    return dict(Counter(key for key in unread if key[1] in entries.COUNTED))


def by_the_rules() -> set[tuple]:
    """The same, as folders.qualifies (the rules in SQL) computes it for every user and folder,
    and for searching everywhere."""
    found: set[tuple] = set()
    for user in db.session.scalars(select(User)):
        for slug in [*(f.slug for f in folders.FOLDERS), SEARCH_EVERYWHERE]:
            found |= rows_by_the_rules(slug, user)
    return found


class History:
    """Random things a team does, each through the operation the app uses, each committed."""

    def __init__(self, team, rng: random.Random, outbox):
        self.team, self.rng = team, rng
        self.domain = mail_domain()
        self.transport = OutboxTransport(outbox)
        self.users = list(db.session.scalars(select(User).order_by(User.id)))
        self.people = [
            "alice@outside.test",
            "bob@outside.test",
            "carl@outside.test",
            "dana@outside.test",
            "eve@outside.test",
            *STRANGERS,
        ]

    def step(self) -> str:
        action = self.rng.choice(
            [
                self.mail_in,
                self.mail_in,
                self.mail_in,
                self.cv_in,
                self.internal_in,
                self.send,
                self.send,
                self.drain,
                self.change_scheduled,
                self.write_draft,
                self.discard_draft,
                self.archive,
                self.follow,
                self.convert,
                self.process_cv,
                self.read,
                self.access,
            ]
        )
        action()
        db.session.commit()
        return action.__name__

    def _receive(self, raw: bytes, to: list[str]) -> None:
        stored = store_inbound(raw, store=blob_store(), source="smtp", envelope_to=to)
        db.session.commit()
        classify_stored(stored.id, settings=self.domain, store=blob_store())

    def _some_message_id(self) -> str | None:
        ids = db.session.scalars(select(Message.message_id).where(Message.thread_id.is_not(None))).all()
        return self.rng.choice(ids) if ids and self.rng.random() < 0.5 else None

    def mail_in(self) -> None:
        user = self.rng.choice(self.users)
        to = f"{user.inbound_local}@{self.domain.domain}"
        frm = self.rng.choice(self.people)
        self._receive(
            raw_mail(frm=frm, to=to, subject=f"About {frm}", in_reply_to=self._some_message_id()), [to]
        )

    def cv_in(self) -> None:
        offer = self.rng.choice(list(db.session.scalars(select(Offer).where(Offer.kind == "job"))))
        to = offer.cv_address(self.domain.domain) or f"cv@{self.domain.domain}"
        cv = ("cv.pdf", b"%PDF-1.4 cv") if self.rng.random() < 0.8 else None
        self._receive(
            raw_mail(frm="Frank Fresh <frank@fresh.test>", to=to, subject="My CV", attachment=cv), [to]
        )

    def internal_in(self) -> None:
        sender, user = self.rng.sample(self.users, 2)
        to = f"{user.inbound_local}@{self.domain.domain}"
        self._receive(
            raw_mail(frm=sender.email, to=to, subject="Internal", in_reply_to=self._some_message_id()), [to]
        )

    def send(self) -> None:
        user = self.rng.choice(self.users)
        to = self.rng.choice(self.people).split("<")[-1].strip(">")
        thread_id = None
        if self.rng.random() < 0.4:
            thread_id = self.rng.choice(db.session.scalars(select(Thread.id)).all() or [None])
        later = utcnow() + timedelta(days=2) if self.rng.random() < 0.3 else None
        data = compose.Compose(to=[to], subject="Hello", body="Hi", send_at=later, thread_id=thread_id)
        compose.create(user, data, self.domain, blob_store())

    def drain(self) -> None:
        db.session.commit()
        drain(self.transport, self.domain, blob_store(), budget=5)

    def change_scheduled(self) -> None:
        msg = db.session.scalar(select(Message).where(Message.status == Status.SCHEDULED).limit(1))
        if msg is not None:
            (compose.cancel if self.rng.random() < 0.5 else compose.send_now)(msg.id, msg.sender_id)

    def write_draft(self) -> None:
        """A new email or a reply being written (saved as a draft), or an existing draft edited."""
        user = self.rng.choice(self.users)
        fields = drafts.DraftFields(to=["alice@outside.test"], cc=[], bcc=[], subject="Draft", body="Hi")
        mine = db.session.scalars(
            select(Message).where(Message.sender_id == user.id, Message.status == "draft")
        )
        draft = self.rng.choice(list(mine) or [None]) if self.rng.random() < 0.3 else None
        reply_to = None
        if draft is None and self.rng.random() < 0.6:
            delivered = select(Message).where(
                Message.thread_id.is_not(None), Message.status.in_(["sent", "received"])
            )
            reply_to = self.rng.choice(list(db.session.scalars(delivered)) or [None])
        drafts.save(user, fields, draft=draft, reply_to=reply_to)

    def discard_draft(self) -> None:
        draft = db.session.scalar(select(Message).where(Message.status == "draft").limit(1))
        if draft is not None and draft.sender_id is not None:
            drafts.discard(draft.sender_id, draft.id)

    def archive(self) -> None:
        thread = self.rng.choice(db.session.scalars(select(Thread)).all() or [None])
        if thread is not None:
            if thread.is_archived:
                mailbox.unarchive(thread)
            else:
                mailbox.archive(thread, self.rng.choice(self.users).id)

    def follow(self) -> None:
        user, on = self.rng.choice(self.users), self.rng.random() < 0.7
        if self.rng.random() < 0.5:
            people.follow_candidate(
                user.id, self.rng.choice([self.team.alice, self.team.bob, self.team.eve]).id, on
            )
        else:
            people.follow_offer(user.id, self.rng.choice([self.team.backend, self.team.pool]).id, on)

    def convert(self) -> None:
        address = self.rng.choice(STRANGERS).split("<")[-1].strip(">")
        if people.owner_of(address) is not None:
            return
        user = self.rng.choice(self.users)
        if self.rng.random() < 0.5:
            offer = self.rng.choice([self.team.backend, self.team.design, None])
            people.convert_to_candidate(user, address, "New", "Person", offer.id if offer else None)
        else:
            candidate = db.session.get(type(self.team.eve), self.team.eve.id)
            people.add_address(user, candidate, address)

    def process_cv(self) -> None:
        msg = db.session.scalar(
            select(Message).where(Message.is_cv, Message.cv_processed_at.is_(None)).limit(1)
        )
        if msg is None:
            return
        user = self.rng.choice(self.users)
        if self.rng.random() < 0.3:
            people.discard_cv(user, msg)
        elif people.owner_of("frank@fresh.test") is None:
            people.create_from_cv(user, msg, "Frank", "Fresh", "frank@fresh.test", msg.cv_offer_id)

    def access(self) -> None:
        user = self.rng.choice(self.users)
        offer = self.rng.choice([self.team.backend, self.team.design, self.team.pool])
        user, offer = db.session.get_one(User, user.id), db.session.get_one(Offer, offer.id)
        if self.rng.random() < 0.5:
            admin.grant_access(None, user, offer)
        else:
            admin.revoke_access(None, user, offer)

    def read(self) -> None:
        user = self.rng.choice(self.users)
        inbound = select(Message.thread_id).where(
            Message.direction == "inbound", Message.thread_id.is_not(None)
        )
        thread_id = self.rng.choice(db.session.scalars(inbound).all() or [None])
        if thread_id is None:
            return
        messages = list(db.session.scalars(select(Message).where(Message.thread_id == thread_id)))
        if self.rng.random() < 0.6:
            readstate.mark_read(user.id, messages)
        else:
            readstate.mark_unread(user.id, [m.id for m in messages])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_operations_keep_the_entries_the_rules_give_and_a_rebuild_changes_nothing(
    app, team, redis, tmp_path, seed
):
    with app.app_context():
        history = History(team, random.Random(seed), tmp_path)
        done = []
        for step in range(1, 61):  # checked often: a later change must not hide a missed one
            done.append(history.step())
            if step % 6 == 0:
                kept, rules = snapshot(), by_the_rules()
                assert kept == rules, (done, sorted(kept - rules), sorted(rules - kept))
                assert counters() == counted(rules), done
        kept, kept_counts = snapshot(), counters()
        assert len(kept) > 30, done  # the history did reach the folders
        assert kept_counts, done  # ... and left some unread
        assert entries.rebuild() == len(kept)
        db.session.commit()
        assert snapshot() == kept
        assert counters() == kept_counts


def test_a_folder_page_is_read_from_the_entries(app, client, auth, team, make):
    """No entry, no row: the list does not compute folders any more."""
    thread = make.message(candidate=team.alice, to_users=[team.rita], subject="Hello Rita").thread_id
    auth.login(team.rita.email)
    assert "Hello Rita" in client.get("/mail/inbox").get_data(as_text=True)
    with app.app_context():
        db.session.execute(FolderEntry.__table__.delete().where(FolderEntry.thread_id == thread))
        db.session.commit()
    assert "Hello Rita" not in client.get("/mail/inbox").get_data(as_text=True)
    with app.app_context():
        entries.rebuild()
        db.session.commit()
    assert "Hello Rita" in client.get("/mail/inbox").get_data(as_text=True)


def test_marking_unread_brings_the_unread_mark_back(app, client, auth, team, make):
    """Read state is per user: the entry of the user who marked it, and only theirs, changes."""
    msg = make.message(candidate=team.alice, to_users=[team.rita], subject="Hello Rita")
    with app.app_context():
        rita, ada = db.session.get_one(User, team.rita.id), db.session.get_one(User, team.ada.id)
        messages = [db.session.get_one(Message, msg.id)]
        readstate.mark_read(rita.id, messages)
        readstate.mark_read(ada.id, messages)
        db.session.commit()
        assert folders.unread_counts(rita)["inbox"] == 0
        readstate.mark_unread(rita.id, [msg.id])
        db.session.commit()
        assert folders.unread_counts(rita)["inbox"] == 1
        assert folders.unread_counts(rita)["candidates"] == 1
        assert folders.unread_counts(ada)["candidates"] == 0
        assert snapshot() == by_the_rules()


def test_two_transactions_counting_for_one_user_both_count(app, team, make):
    """Reading two conversations at once (two tabs, two workers): neither change of the counter is lost.

    The second transaction changes the same counter while the first has not committed; on
    PostgreSQL it waits for the first and must add to what the first wrote, not write what it
    read before.
    """
    first = make.message(candidate=team.alice, to_users=[team.rita], subject="One")
    second = make.message(candidate=team.bob, to_users=[team.rita], subject="Two")
    with app.app_context():
        rita = db.session.get_one(User, team.rita.id)
        assert folders.unread_counts(rita)["inbox"] == 2

    def read_second():
        with app.app_context():
            readstate.mark_read(team.rita.id, [db.session.get_one(Message, second.id)])
            db.session.commit()

    with app.app_context():
        readstate.mark_read(team.rita.id, [db.session.get_one(Message, first.id)])
        other = threading.Thread(target=read_second)
        other.start()
        other.join(timeout=1)  # it waits for our counter (PostgreSQL) or our write lock (SQLite)
        db.session.commit()
    other.join(timeout=20)
    assert not other.is_alive()
    with app.app_context():
        rita = db.session.get_one(User, team.rita.id)
        assert folders.unread_counts(rita)["inbox"] == 0
        assert folders.unread_counts(rita)["candidates"] == 0
        assert counters() == counted(snapshot())


def test_forgetting_a_conversation_before_deleting_it_counts_it_out(app, team, make):
    """The database deletes a deleted conversation's entries itself, but only `forget` counts them out."""
    msg = make.message(candidate=team.alice, to_users=[team.rita], subject="Delete me")
    with app.app_context():
        rita = db.session.get_one(User, team.rita.id)
        assert folders.unread_counts(rita)["inbox"] == 1
        entries.forget([msg.thread_id])
        db.session.execute(Message.__table__.delete().where(Message.thread_id == msg.thread_id))
        db.session.execute(Thread.__table__.delete().where(Thread.id == msg.thread_id))
        db.session.commit()
        assert folders.unread_counts(rita)["inbox"] == 0
        assert snapshot() == set()
        assert counters() == {}


def test_the_rebuild_command_leaves_the_planner_statistics_of_the_new_entries(app, team, make):
    """Statistics from before a rebuild describe another table: PostgreSQL, thinking it empty,
    sorted a user's every entry for each page (60 ms at 100,000 messages instead of 0.1)."""
    for _ in range(3):
        make.message(candidate=team.alice, to_users=[team.rita], subject="Hello Rita")
    result = app.test_cli_runner().invoke(args=["folders", "rebuild"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            known = db.session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'folder_entries'")
            ).scalar_one()
        else:
            known = db.session.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'folder_entries'")
            ).scalar_one()
        assert known > 0


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks: PostgreSQL only (SQLite has one writer)",
)
def test_a_refresh_does_not_wait_for_another_drains_open_group(app, team):
    """Two drains file mail into one conversation. One group has filed the candidate's
    out-of-office note there and goes on with other messages; the other files the candidate's
    reply and refreshes the conversation at once, without waiting for that group's commit
    (the note's foreign key holds a key-share lock on the conversation until then, which
    the refresh's lock used to wait for). Once both have committed, the entries are the rules'."""
    first = "<first-of-two-drains@outside.test>"
    opened = stored(app, raw_mail(subject="Two drains", message_id=first))
    note = stored(
        app,
        raw_mail(subject="Out of office", in_reply_to=first, headers={"Auto-Submitted": "auto-replied"}),
    )
    reply = stored(app, raw_mail(subject="Re: Two drains", in_reply_to=first))
    with app.app_context():
        assert classify(opened) == "candidate"
    note_filed, reply_filed, outcomes = threading.Event(), threading.Event(), {}

    def group_holding_the_note():
        with app.app_context():
            later: set[int] = set()
            with entries.deferred(later):
                outcomes["note"] = classify(note, commit=False)
            note_filed.set()
            reply_filed.wait(5)  # the group goes on with other messages
            entries.refresh(later)
            db.session.commit()
            db.session.remove()

    group = threading.Thread(target=group_holding_the_note)
    group.start()
    assert note_filed.wait(10)
    with app.app_context():
        started = time.monotonic()
        outcomes["reply"] = classify(reply)
        waited = time.monotonic() - started
        db.session.remove()
    reply_filed.set()
    group.join(10)
    assert outcomes == {"note": "auto_reply", "reply": "reply"}
    assert waited < 2.5, f"the reply's refresh waited {waited:.1f} s for the other group"
    with app.app_context():
        kept = snapshot()
        assert {e[2] for e in kept} == {db.session.get_one(Message, opened).thread_id}
        assert kept == by_the_rules()
        assert counters() == counted(kept)


def classify(message_id: int, commit: bool = True) -> str | None:
    return classify_stored(message_id, settings=mail_domain(), store=blob_store(), commit=commit)
