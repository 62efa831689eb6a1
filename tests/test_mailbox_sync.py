"""Mailbox sync against a real IMAP server (Dovecot, started by the tests on free ports)."""

import imaplib
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.dovecot import DOVECOT, NOT_INSTALLED, Dovecot, mail, running_dovecot, sync
from webapp.extensions import db
from webapp.mail.inbound.pipeline import classify_stored, store_inbound
from webapp.mail.read import folders
from webapp.models import (
    Direction,
    MailboxAppend,
    MailboxConnection,
    MailboxFolder,
    Message,
    Outcome,
    Placement,
    SentCopy,
    Status,
    User,
)
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain, mailbox_vault

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
RITA = "rita@team.test"
APPLIES = "<alice-applies@mail.test>"
IMAP_PASSWORD = "imap-secret"


@pytest.fixture
def dovecot():
    with running_dovecot({RITA: IMAP_PASSWORD}) as server:
        yield server


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"], "Sam Recruiter": ["job"]},
        candidates={"Alice Able": ["job"], "Bob Baker": ["job"]},
    )


def connect(app, user, server: Dovecot, *, password: str = IMAP_PASSWORD, **kw) -> int:
    with app.app_context():
        connection = MailboxConnection(
            user_id=user.id,
            host=server.host,
            port=kw.pop("port", server.port),
            security=kw.pop("security", "none"),
            username=RITA,
            secret=mailbox_vault().encrypt(password),
            **kw,
        )
        db.session.add(connection)
        db.session.commit()
        return connection.id


def subjects(app, **where) -> list[str]:
    with app.app_context():
        query = select(Message.subject).where(*(getattr(Message, k) == v for k, v in where.items()))
        return sorted(db.session.scalars(query.order_by(Message.id)))


def folder_subjects(app, user, slug: str) -> list[str]:
    with app.app_context():
        viewer = db.session.get(User, user.id)
        rows, _ = folders.list_rows(slug, viewer)
        return sorted(row.message.subject for row in rows)


def test_initial_sync_imports_candidate_mail_only(app, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies"))
    dovecot.deliver(RITA, mail("news@letters.test", RITA, "Weekly newsletter"))
    dovecot.deliver(RITA, mail("sam@team.test", RITA, "Team lunch"))
    dovecot.deliver(RITA, mail("mum@family.test", RITA, "Sunday dinner"))
    dovecot.deliver(RITA, mail("news@letters.test", RITA, "Bob in copy", cc="bob@outside.test"))
    dovecot.deliver(RITA, mail(RITA, "alice@outside.test", "Interview slot"), folder="Sent")
    dovecot.deliver(RITA, mail(RITA, "mum@family.test", "Re: Sunday dinner"), folder="Sent")
    connection_id = connect(app, team.rita, dovecot)

    assert sync(app, connection_id) == 3

    assert subjects(app, direction=Direction.INBOUND) == ["Alice applies", "Bob in copy"]
    assert subjects(app, direction=Direction.OUTBOUND) == ["Interview slot"]
    assert folder_subjects(app, team.rita, "inbox") == ["Alice applies"]
    assert folder_subjects(app, team.rita, "sent") == ["Interview slot"]
    with app.app_context():
        sent = db.session.scalars(select(Message).where(Message.subject == "Interview slot")).one()
        assert (sent.status, sent.sender_id, sent.source) == (Status.SENT, team.rita.id, "mailbox")
        assert sent.candidate_id == team.alice.id
        received = db.session.scalars(select(Message).where(Message.subject == "Alice applies")).one()
        assert received.outcome == Outcome.CANDIDATE
        states = {f.name: (f.role, f.last_uid) for f in db.session.scalars(select(MailboxFolder))}
        assert states == {"INBOX": ("incoming", 5), "Sent": ("sent", 2)}
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error is None
        assert connection.last_sync_at is not None
        assert connection.imported_count == 3


def test_sent_from_the_client_joins_the_conversation_and_says_so(app, client, auth, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies"))
    dovecot.deliver(
        RITA,
        mail(
            RITA,
            "alice@outside.test",
            "Re: Alice applies",
            extra="In-Reply-To: <alice-applies@mail.test>\r\n",
        ),
        folder="Sent",
    )
    sync(app, connect(app, team.rita, dovecot))
    with app.app_context():
        thread_ids = set(db.session.scalars(select(Message.thread_id)))
    assert len(thread_ids) == 1
    auth.login(RITA)
    page = client.get(f"/mail/sent/{thread_ids.pop()}").get_data(as_text=True)
    assert "Alice applies" in page
    assert "Sent from your mail client" in page


def test_incremental_sync_takes_only_new_mail_and_twice_is_harmless(app, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "First"))
    connection_id = connect(app, team.rita, dovecot)
    sync(app, connection_id)
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Second"))
    dovecot.deliver(RITA, mail("bob@outside.test", RITA, "Third"))

    assert sync(app, connection_id) == 2
    assert sync(app, connection_id) == 0
    assert subjects(app) == ["First", "Second", "Third"]


def test_uidvalidity_change_rescans_without_duplicates(app, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Before"))
    connection_id = connect(app, team.rita, dovecot)
    sync(app, connection_id)
    dovecot.stop()
    dovecot.change_uidvalidity(RITA)
    dovecot.start()
    dovecot.deliver(RITA, mail("bob@outside.test", RITA, "After"))

    assert sync(app, connection_id) == 1
    assert subjects(app) == ["After", "Before"]
    with app.app_context():
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert inbox.last_uid == 2


def test_a_known_non_candidate_conversation_qualifies(app, redis, team, make, dovecot):
    make.message(from_address="partner@agency.test", outcome=Outcome.NON_CANDIDATE)
    dovecot.deliver(RITA, mail("partner@agency.test", RITA, "Agency follow-up"))
    dovecot.deliver(RITA, mail("stranger@agency.test", RITA, "Cold pitch"))
    sync(app, connect(app, team.rita, dovecot))
    assert "Agency follow-up" in subjects(app)
    assert "Cold pitch" not in subjects(app)


def test_mail_that_came_through_inbound_is_not_imported_again(app, redis, team, dovecot):
    raw = mail("alice@outside.test", "rita@mail.demo.test", "Reply to both")
    with app.app_context():
        stored = store_inbound(raw, store=blob_store(), source="smtp", envelope_to=["rita@mail.demo.test"])
        db.session.commit()
        classify_stored(stored.id, settings=mail_domain(), store=blob_store())
    dovecot.deliver(RITA, b"Received: by mx.test; Mon, 1 Dec 2026 10:00:00 +0000\r\n" + raw)
    dovecot.deliver(RITA, b"Received: by mx2.test\r\n" + raw)  # the same mail twice in the mailbox

    connection_id = connect(app, team.rita, dovecot)
    assert sync(app, connection_id) == 0
    assert subjects(app) == ["Reply to both"]


def test_the_same_message_in_inbox_and_sent_comes_in_once(app, redis, team, dovecot):
    raw = mail(RITA, "alice@outside.test", "Copy to self", cc=RITA)
    dovecot.deliver(RITA, raw)
    dovecot.deliver(RITA, raw, folder="Sent")
    sync(app, connect(app, team.rita, dovecot))
    assert subjects(app) == ["Copy to self"]


def sent_from_hiremail(app, user, candidate, subject: str) -> int:
    with app.app_context():
        raw = mail(user.email, candidate.emails[0].email, subject)
        msg = Message(
            direction=Direction.OUTBOUND,
            status=Status.SENT,
            sender_id=user.id,
            subject=subject,
            from_address=user.email,
            message_id=f"<{subject.lower().replace(' ', '-')}@mail.test>",
            sent_at=utcnow(),
            sort_at=utcnow(),
        )
        db.session.add(msg)
        db.session.flush()
        db.session.add(SentCopy(message_id=msg.id, raw=raw))
        db.session.commit()
        return msg.id


def sent_folder(server: Dovecot) -> list[tuple[bytes, bytes]]:
    conn = server.imap(RITA)
    try:
        conn.select("Sent", readonly=True)
        typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [item for item in data if isinstance(item, tuple)]
    finally:
        conn.logout()


def test_mail_sent_from_hiremail_is_appended_to_sent_once(app, redis, team, dovecot):
    from webapp.jobs.sync import append_due_job, append_sent_job

    connection_id = connect(app, team.rita, dovecot)
    message_id = sent_from_hiremail(app, team.rita, team.alice, "Offer letter")
    with app.app_context():
        assert append_due_job() == 1
        assert append_sent_job(connection_id) == 1
        assert append_sent_job(connection_id) == 0
        assert db.session.get(MailboxAppend, (connection_id, message_id)) is not None
    found = sent_folder(dovecot)
    assert len(found) == 1
    assert b"\\Seen" in found[0][0]
    assert b"Offer letter" in found[0][1]
    # The copy does not come back in as mail sent from the client.
    sync(app, connection_id)
    assert subjects(app) == ["Offer letter"]


def test_an_append_lost_before_its_commit_is_not_repeated(app, redis, team, dovecot):
    from webapp.jobs.sync import append_sent_job

    connection_id = connect(app, team.rita, dovecot)
    sent_from_hiremail(app, team.rita, team.alice, "Offer letter")
    with app.app_context():
        append_sent_job(connection_id)
        db.session.query(MailboxAppend).delete()  # as if the worker died after the APPEND
        db.session.commit()
        assert append_sent_job(connection_id) == 0
    assert len(sent_folder(dovecot)) == 1


def test_sync_resumes_by_itself_after_the_server_restarts(app, redis, team, dovecot):
    from webapp.jobs.sync import schedule_syncs

    connection_id = connect(app, team.rita, dovecot)
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "While down"))
    dovecot.stop()
    sync(app, connection_id)
    with app.app_context():
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind == "unreachable"
        assert connection.failures == 1
        assert connection.next_sync_at > utcnow() + timedelta(seconds=30)  # a backoff, not a busy loop
        assert schedule_syncs() == 0  # not due yet
        connection.next_sync_at = utcnow()
        db.session.commit()
    dovecot.start()
    sync(app, connection_id)
    assert subjects(app) == ["While down"]
    with app.app_context():
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind is None
        assert connection.failures == 0


def test_a_wrong_password_is_recorded_as_such(app, redis, team, dovecot):
    connection_id = connect(app, team.rita, dovecot, password="wrong")
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Unseen"))
    sync(app, connection_id)
    assert subjects(app) == []
    with app.app_context():
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind == "auth"


def test_tls_needs_a_trusted_certificate(app, redis, team, dovecot):
    from webapp.mail.sync import imap

    server = imap.Server(dovecot.host, dovecot.tls_port, "tls", RITA, IMAP_PASSWORD)
    with pytest.raises(imap.MailboxError) as failed:
        imap.connect(server, timeout=5)
    assert failed.value.kind == imap.ErrorKind.TLS
    # Trusting its certificate: TLS and STARTTLS both log in ("localhost" is the name it carries).
    for port, security in ((dovecot.tls_port, "tls"), (dovecot.port, "starttls")):
        conn = imap.connect(
            imap.Server("localhost", port, security, RITA, IMAP_PASSWORD),
            timeout=5,
            ca_file=str(dovecot.cert),
        )
        imap.logout(conn)


def test_headers_only_for_mail_that_does_not_qualify(app, redis, team, dovecot, monkeypatch):
    from webapp.mail.sync import imap

    for n in range(5):
        dovecot.deliver(RITA, mail(f"person{n}@elsewhere.test", RITA, f"Personal {n}"))
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Wanted"))
    fetched = []
    real = imap.fetch

    def counting(conn, uids, items):
        uids = list(uids)
        fetched.append((items, uids))
        return real(conn, uids, items)

    monkeypatch.setattr(imap, "fetch", counting)
    sync(app, connect(app, team.rita, dovecot))
    bodies = [uids for items, uids in fetched if "BODY.PEEK[]" in items]
    assert bodies == [[6]]


def test_scheduling_queues_due_mailboxes_once(app, redis, team, dovecot):
    from webapp.jobs.sync import schedule_syncs
    from webapp.queues import get_queue

    connect(app, team.rita, dovecot)
    with app.app_context():
        assert schedule_syncs() == 1
        assert schedule_syncs() == 0  # leased until the job records the next time
        assert len(get_queue("sync").get_job_ids()) == 1


def test_imap_errors_are_clear(app):
    from webapp.mail.sync import imap

    server = imap.Server("127.0.0.1", 1, "none", "u", "p")
    with pytest.raises(imap.MailboxError) as failed:
        imap.connect(server, timeout=2)
    assert failed.value.kind == imap.ErrorKind.UNREACHABLE
    assert "could not be reached" in failed.value.phrase
    assert isinstance(failed.value.__cause__, OSError)
    assert imaplib  # the client is the standard library's


def test_the_sent_folder_is_the_one_marked_sent_whatever_its_name(app, redis, team):
    folder = Path(tempfile.mkdtemp(prefix="hiremail-dovecot-"))
    server = Dovecot(folder, sent_name="Envoyés")
    server.add_user(RITA, IMAP_PASSWORD)
    server.start()
    try:
        marked = "Envoy&AOk-s"  # "Envoyés" as IMAP names it (modified UTF-7)
        server.deliver(RITA, mail(RITA, "alice@outside.test", "From the client"), folder=marked)
        server.deliver(RITA, mail(RITA, "bob@outside.test", "In a plain folder"), folder="Old Sent")
        sync(app, connect(app, team.rita, server))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert subjects(app, direction=Direction.OUTBOUND) == ["From the client"]


def test_a_batch_classified_together_falls_back_to_one_by_one(app, team):
    from webapp.mail.inbound.pipeline import classify_stored_together

    with app.app_context():
        ids = []
        for subject in ("One", "Two", "Three"):
            raw = mail("alice@outside.test", "rita@mail.demo.test", subject)
            ids.append(store_inbound(raw, store=blob_store(), source="mailbox").id)
        db.session.commit()
        classify_stored(ids[1], settings=mail_domain(), store=blob_store())  # filed meanwhile
        outcomes = classify_stored_together(ids, settings=mail_domain(), store=blob_store())
        assert outcomes == [Outcome.CANDIDATE] * 3
        together = classify_stored_together(ids[:1], settings=mail_domain(), store=blob_store())
        assert together == [Outcome.CANDIDATE]  # already filed: said so, changed nothing
        assert db.session.scalar(select(func.count(Message.id)).where(Message.outcome.is_(None))) == 0


def test_inbound_mail_after_its_synced_copy_is_a_duplicate(app, redis, team, dovecot):
    raw = mail("alice@outside.test", RITA, "Synced first")
    dovecot.deliver(RITA, b"Received: by mx.test\r\n" + raw)
    sync(app, connect(app, team.rita, dovecot))
    with app.app_context():
        late = store_inbound(b"Received: by our.mx\r\n" + raw, store=blob_store(), source="smtp")
        db.session.commit()
        assert classify_stored(late.id, settings=mail_domain(), store=blob_store()) == Outcome.DUPLICATE
    assert folder_subjects(app, team.rita, "inbox") == ["Synced first"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Message.id)).where(Message.thread_id.is_not(None))) == 1


def test_the_header_filter_reads_addresses_as_the_email_package_does():
    from email.utils import getaddresses

    from webapp.mail.sync.qualify import read_head

    lists = [
        "Alice Able <Alice@Outside.test>, bob@outside.test",
        '"Able, Alice" <alice@outside.test>',
        "=?utf-8?q?Ren=C3=A9?= <rene@outside.test>",
        "alice@outside.test (Alice)",
        "undisclosed-recipients:;",
    ]
    for value in lists:
        expected = [a.lower() for _, a in getaddresses([value]) if "@" in a]
        head = read_head(1, 10, f"From: {value}\r\nMessage-ID: <x@y>\r\n\r\n".encode())
        assert head.addresses == expected, value
    folded = b"To: a@x.test,\r\n b@x.test\r\nIn-Reply-To: <one@x>\r\nReferences: <zero@x>\r\n <one@x>\r\n\r\n"
    head = read_head(2, 10, folded)
    assert head.addresses == ["a@x.test", "b@x.test"]
    assert head.answers == ["<one@x>", "<zero@x>", "<one@x>"]


def test_headers_named_by_no_known_address_are_dropped_unread_as_the_full_reading_would(app, team):
    from webapp.mail.sync.imap import Fetched
    from webapp.mail.sync.qualify import heads_worth_reading, qualifying, read_head

    blocks = {
        1: "From: Alice Able <Alice@Outside.test>\r\nMessage-ID: <1@x>",
        2: 'From: "Able, Alice" <alice@outside.test>',
        3: "To: alice@outside.test (Alice)",
        4: "From: news@letters.test\r\nMessage-ID: <alice@outside.test>",  # an id, not an address
        5: "Cc: x@y.test,\r\n Bob Baker <bob@outside.test>",  # folded
        6: "To: undisclosed-recipients:;",
        7: "FROM: ALICE@OUTSIDE.TEST",
        8: "To:bob@outside.test",
        9: "From: =?utf-8?q?Ren=C3=A9?= <bob@outside.test>",
        10: 'From: "bob"@outside.test',  # a quoted local part: read whole (and not "bob@")
        11: "In-Reply-To: <alice@outside.test>\r\nFrom: someone@else.test",  # an id again
        12: "To\t: bob@outside.test",
    }
    fetched = [Fetched(uid, 100, f"{text}\r\n\r\n".encode()) for uid, text in blocks.items()]
    with app.app_context():
        heads, known = heads_worth_reading(fetched)
        fast = [h.uid for h in qualifying(heads, set(), known)]
        whole = [h.uid for h in qualifying([read_head(f.uid, f.size, f.data) for f in fetched], set())]
    assert fast == whole == [1, 2, 3, 5, 7, 8, 9, 12]


def test_closing_a_job_stops_syncing_mail_of_its_candidates_only(app, redis, team, make, dovecot):
    carol = make.candidate("Carol Pool")  # in no job: the talent pool stays followed
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies"))
    connection_id = connect(app, team.rita, dovecot)
    sync(app, connection_id)
    frontend = make.offer("Frontend")
    with app.app_context():
        db.session.get_one(type(frontend), team.job.id).is_open = False  # the job is archived
        db.session.add(Placement(candidate_id=team.bob.id, offer_id=frontend.id))  # Bob is in an open one too
        db.session.commit()
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice again"))
    dovecot.deliver(RITA, mail(RITA, "alice@outside.test", "Re: Alice again"), folder="Sent")
    dovecot.deliver(RITA, mail("bob@outside.test", RITA, "Bob writes"))
    dovecot.deliver(RITA, mail(carol.emails[0].email, RITA, "Carol writes"))
    dovecot.deliver(
        RITA, mail("news@letters.test", RITA, "Alice and Bob", cc="alice@outside.test, bob@outside.test")
    )
    sync(app, connection_id)

    assert subjects(app) == ["Alice and Bob", "Alice applies", "Bob writes", "Carol writes"]


def test_a_thread_among_team_members_never_reaches_a_candidates_conversation(app, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies"))
    # Sam forwards Alice's mail to Rita, who answers him: team members only, Alice named in the text.
    forward = mail(
        "sam@team.test",
        RITA,
        "Fwd: Alice applies",
        mid="<fwd@team.test>",
        extra=f"In-Reply-To: {APPLIES}\r\nReferences: {APPLIES}\r\n",
    ).replace(b"Hello,", b"From: alice@outside.test -- what do you think?")
    dovecot.deliver(RITA, forward)
    answer = mail(RITA, "sam@team.test", "Re: Fwd: Alice applies", extra="In-Reply-To: <fwd@team.test>\r\n")
    dovecot.deliver(RITA, answer, folder="Sent")
    connection_id = connect(app, team.rita, dovecot)

    assert sync(app, connection_id) == 1
    assert subjects(app) == ["Alice applies"]
    with app.app_context():
        received = db.session.scalars(select(Message).where(Message.subject == "Alice applies")).one()
        assert [
            m.subject
            for m in db.session.scalars(select(Message).where(Message.thread_id == received.thread_id))
        ] == ["Alice applies"]


@pytest.fixture
def full_dovecot():
    with running_dovecot({RITA: IMAP_PASSWORD}, quota_messages=1) as server:
        yield server


def test_a_full_mailbox_says_so_on_the_settings_and_queue_pages(
    app, client, auth, redis, team, make, full_dovecot
):
    from tests.dom import parse
    from webapp.jobs.sync import append_sent_job

    full_dovecot.deliver(
        RITA, mail("news@letters.test", RITA, "Weekly newsletter")
    )  # the one message it holds
    connection_id = connect(app, team.rita, full_dovecot)
    sent_from_hiremail(app, team.rita, team.alice, "Offer letter")
    with app.app_context():
        assert append_sent_job(connection_id) == 0
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind == "quota"
        assert connection.next_sync_at > utcnow()  # tried again later, by itself
    assert sent_folder(full_dovecot) == []

    auth.login(RITA)
    page = parse(client.get("/settings/mailbox").get_data(as_text=True))
    assert "mailbox is full" in page.find(id="sync-error").text
    auth.logout()
    auth.login(make.user("Ada Admin", role="admin").email)
    queues = parse(client.get("/admin/queues").get_data(as_text=True))
    assert "mailbox is full" in queues.find(id="mailbox-errors").text


def test_sent_mail_filed_together_keeps_its_conversations(app, redis, team, dovecot):
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies", mid=APPLIES))
    first = mail(RITA, "bob@outside.test", "Hello Bob", mid="<hello-bob@team.test>")
    follow_up = mail(
        RITA, "bob@outside.test", "Re: Hello Bob", extra="In-Reply-To: <hello-bob@team.test>\r\n"
    )
    answer = mail(RITA, "alice@outside.test", "Re: Alice applies", extra=f"In-Reply-To: {APPLIES}\r\n")
    for raw in (first, follow_up, answer, mail(RITA, "bob@outside.test", "Another topic")):
        dovecot.deliver(RITA, raw, folder="Sent")
    sync(app, connect(app, team.rita, dovecot))

    with app.app_context():
        threads = {m.subject: (m.thread_id, m.candidate_id) for m in db.session.scalars(select(Message))}
    assert threads["Re: Hello Bob"] == threads["Hello Bob"]
    assert threads["Hello Bob"][1] == team.bob.id
    assert threads["Another topic"][0] != threads["Hello Bob"][0]
    assert threads["Re: Alice applies"] == threads["Alice applies"]
    # One row a conversation in Sent, its latest message.
    assert folder_subjects(app, team.rita, "sent") == ["Another topic", "Re: Alice applies", "Re: Hello Bob"]


def test_a_sent_message_that_cannot_be_read_is_kept_unclassified_beside_the_others(
    app, redis, team, dovecot, monkeypatch
):
    from webapp.mail.sync import importer

    real_parse = importer.parse

    def parse(raw: bytes):
        if b"Broken one" in raw:
            raise ValueError("unreadable")
        return real_parse(raw)

    monkeypatch.setattr(importer, "parse", parse)
    dovecot.deliver(RITA, mail(RITA, "alice@outside.test", "Broken one"), folder="Sent")
    dovecot.deliver(RITA, mail(RITA, "alice@outside.test", "Fine one"), folder="Sent")
    from webapp.jobs.sync import sync_job

    with app.app_context():
        sync_job(connect(app, team.rita, dovecot))
        rows = db.session.execute(
            select(Message.message_id, Message.direction, Message.outcome, Message.status)
        ).all()
    by_mid = {r.message_id: r for r in rows}
    assert by_mid["<fine-one@mail.test>"].direction == Direction.OUTBOUND
    assert by_mid["<fine-one@mail.test>"].status == Status.SENT
    # Left for the classify sweep (which quarantines what it cannot read): not lost, not sent mail.
    assert by_mid["<broken-one@mail.test>"].direction == Direction.INBOUND
    assert by_mid["<broken-one@mail.test>"].outcome is None
