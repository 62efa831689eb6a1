"""Erasing a candidate: nothing of them is left in the database, the storage folder or Redis;
the audit log says who erased whom and when; their next message is a stranger's."""

from datetime import timedelta

import pytest
from rq.job import Job
from rq.results import Result
from sqlalchemy import func, select

from tests.helpers import open_and_read
from tests.mailmaker import raw_mail
from tests.privacy_helpers import database_traces, receive, redis_traces, row, send, storage_traces
from tests.test_folder_entries import counted, counters, snapshot
from webapp import audit
from webapp.extensions import db
from webapp.jobs.enqueue import CLASSIFY_JOB, wake_sender
from webapp.models import (
    Attachment,
    AuditLog,
    Candidate,
    CandidateFile,
    CandidateFollow,
    FolderEntry,
    FolderRole,
    MailboxAppend,
    MailboxConnection,
    MailboxFolder,
    Message,
    MessageRead,
    Outcome,
    SentCopy,
)
from webapp.models.types import utcnow
from webapp.people import operations
from webapp.queues import get_queue

ADDRESS = "alicia.zw@outside.test"
NAME = "Alicia Zwickau"
NEEDLES = [ADDRESS, "Zwickau"]
BROCHURE = b"%PDF-1.4 the company brochure, sent to many people"


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "secret": "Secret job"},
        users={
            "Rita Recruiter": ["job"],
            "Val Recruiter": ["secret"],
            "Sam Recruiter": [],
            "Ada Admin": "admin",
        },
        candidates={
            NAME: {"offers": ["job"], "emails": [ADDRESS]},
            "Bob Baker": ["job"],
            "Carla Both": {"offers": ["job", "secret"], "emails": ["carla@outside.test"]},
        },
    )


@pytest.fixture
def history(app, client, auth, team, redis, smtp):
    """What a real candidate leaves: mail both ways with files, a CV on the profile, a scheduled
    message, a mention elsewhere, follows, read states, a CV link, audit rows, jobs in Redis."""
    cv = receive(
        app,
        raw_mail(
            frm=f"{NAME} <{ADDRESS}>",
            subject="Application Zwickau",
            body="Hello, my CV and the brochure you sent me.",
            attachment=("Alicia_Zwickau_CV.pdf", b"%PDF-1.4 CV of Alicia Zwickau, " + ADDRESS.encode()),
        ),
    )
    brochure = receive(
        app,
        raw_mail(
            frm="Events Desk <events@agency.test>", subject="Brochure", attachment=("brochure.pdf", BROCHURE)
        ),
    )
    thread_id = row(app, cv).thread_id
    reply = send(
        app, team.rita, ADDRESS, "Re: Application Zwickau", "Hello Alicia Zwickau", ("brochure.pdf", BROCHURE)
    )
    later = send(app, team.rita, ADDRESS, "Interview", "See you", send_at=utcnow() + timedelta(days=2))
    mention = receive(
        app, raw_mail(frm="Ref Erral <ref@agency.test>", body=f"Please consider {ADDRESS}, a great fit.")
    )
    with app.test_request_context():
        attachment = db.session.scalar(select(Attachment).where(Attachment.message_id == cv))
        db.session.add(CandidateFile(candidate_id=team.alicia.id, attachment_id=attachment.id))
        operations.follow_candidate(team.rita.id, team.alicia.id, on=True)
        audit.record(team.rita.id, "add_address_to_candidate", "candidate", team.alicia.id, address=ADDRESS)
        db.session.commit()
        wake_sender(utcnow() + timedelta(days=2))  # the scheduled message's wake-up
        # A job naming one of their messages, still queued (an older worker's per-message job).
        get_queue("classify").enqueue(CLASSIFY_JOB, cv, job_id=f"erase-test-{cv}")
        failed = Job.create(
            CLASSIFY_JOB, args=(mention,), connection=redis, origin=get_queue("classify").name
        )
        error = f"ValueError: bad header {ADDRESS}"
        get_queue("classify").failed_job_registry.add(failed, exc_string=error)
        Result.create_failure(failed, 3600, error)  # where a worker keeps the traceback
    auth.login(team.rita.email)
    assert open_and_read(client, auth, f"/mail/inbox/{thread_id}").status_code == 200  # a read state
    for _ in range(2):  # seen again: the list and the conversation are kept in Redis
        client.get("/mail/inbox", headers={"HX-Request": "true", "HX-Target": "message-list"})
        client.get(f"/mail/inbox/{thread_id}", headers={"HX-Request": "true", "HX-Target": "message-pane"})
    token = auth.csrf_token(f"/candidates/{team.alicia.id}")
    made = client.post(
        f"/candidates/{team.alicia.id}/shares", data={"csrf_token": token, "section": "profile"}
    )
    link = made.get_data(as_text=True).split('value="http://localhost')[1].split('"')[0]
    assert client.get(link).status_code == 200  # a logged view
    return {
        "cv": cv,
        "brochure": brochure,
        "reply": reply,
        "later": later,
        "mention": mention,
        "thread": thread_id,
    }


@pytest.fixture
def synced(app, team, history):
    """Mail of theirs imported by Rita's mailbox sync, stored as the importer stores it (source
    "mailbox"): one message classified, one still waiting for the classify queue, one she sent
    from her own client (filed as hers), and the note that a reply sent from Hiremail was copied
    to her Sent folder."""
    from webapp.mail.inbound.parse import parse
    from webapp.mail.inbound.pipeline import classify_stored, store_inbound
    from webapp.mail.sync.sent import SOURCE, file_sent
    from webapp.services import blob_store, mail_domain, mailbox_vault

    mails = {
        "synced_in": (FolderRole.INCOMING, f"{NAME} <{ADDRESS}>", "rita@team.test", "Synced Zwickau note"),
        "synced_waiting": (FolderRole.INCOMING, f"{NAME} <{ADDRESS}>", "rita@team.test", "Waiting Zwickau"),
        "synced_sent": (
            FolderRole.SENT,
            "Rita Recruiter <rita@team.test>",
            ADDRESS,
            "From my client, Zwickau",
        ),
    }
    with app.app_context():
        connection = MailboxConnection(
            user_id=team.rita.id,
            host="127.0.0.1",
            port=993,
            username="rita@team.test",
            secret=mailbox_vault().encrypt("imap-secret"),
        )
        db.session.add(connection)
        db.session.flush()
        for name, role in (("INBOX", FolderRole.INCOMING), ("Sent", FolderRole.SENT)):
            db.session.add(
                MailboxFolder(connection_id=connection.id, name=name, role=role, uidvalidity=7, last_uid=3)
            )
        db.session.add(MailboxAppend(connection_id=connection.id, message_id=history["reply"]))
        ids = {}
        for key, (role, frm, to, subject) in mails.items():
            raw = raw_mail(frm=frm, to=to, subject=subject, body=f"Dear {NAME}, about {ADDRESS}.")
            incoming = role == FolderRole.INCOMING
            msg = store_inbound(
                raw, store=blob_store(), source=SOURCE, envelope_to=["rita@mail.test"] if incoming else []
            )
            if not incoming:
                file_sent(msg.id, team.rita.id, parse(raw), blob_store(), utcnow())
            ids[key] = msg.id
        db.session.commit()
        classify_stored(ids["synced_in"], settings=mail_domain(), store=blob_store())
        assert db.session.get_one(Message, ids["synced_in"]).candidate_id == team.alicia.id
        assert db.session.get_one(Message, ids["synced_waiting"]).outcome is None
        assert db.session.get_one(Message, ids["synced_sent"]).candidate_id == team.alicia.id
    return ids


def erase(client, auth, candidate_id: int, name: str = NAME):
    token = auth.csrf_token(f"/candidates/{candidate_id}/erase")
    return client.post(f"/candidates/{candidate_id}/erase", data={"csrf_token": token, "confirm_name": name})


def test_erase_leaves_nothing_of_the_candidate(app, client, auth, team, history, synced, redis, smtp):
    with app.app_context():
        assert db.session.get(SentCopy, history["reply"]) is not None
        assert db.session.scalar(select(func.count()).select_from(MessageRead)) > 0
        assert db.session.get(CandidateFollow, (team.rita.id, team.alicia.id)) is not None
    assert database_traces(app, NEEDLES)
    assert storage_traces(app, NEEDLES)
    assert redis_traces(redis, NEEDLES)
    kept = [key for key in redis.scan_iter(match="*hm:page:*") if ADDRESS.encode() in redis.get(key)]
    assert kept  # a kept page shows her mail
    assert get_queue("classify").fetch_job(f"erase-test-{history['cv']}") is not None

    response = erase(client, auth, team.alicia.id)

    assert response.status_code == 200
    assert "Candidate erased" in response.get_data(as_text=True)
    assert database_traces(app, NEEDLES) == []
    assert storage_traces(app, NEEDLES) == []
    assert redis_traces(redis, NEEDLES) == []
    assert get_queue("classify").fetch_job(f"erase-test-{history['cv']}") is None
    for key in ("cv", "reply", "later", "mention"):
        assert row(app, history[key]) is None, key
    for key, message_id in synced.items():  # what her mailbox sync imported goes too
        assert row(app, message_id) is None, key
    with app.app_context():
        assert db.session.get(Candidate, team.alicia.id) is None
        assert db.session.scalar(select(func.count()).select_from(MailboxAppend)) == 0
        # Rita's mailbox stays connected, where it was: only their mail went.
        assert [f.last_uid for f in db.session.scalars(select(MailboxFolder))] == [3, 3]
        assert db.session.scalar(select(func.count()).select_from(MessageRead)) == 0
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(FolderEntry)
                .where(FolderEntry.thread_id == history["thread"])
            )
            == 0
        )
        # The unread counters lost the erased mail too: they agree with the entries left.
        assert counters() == counted(snapshot())
        # Someone else's mail stays, with the file it shares with the erased mail.
        kept = db.session.get(Message, history["brochure"])
        assert kept is not None
        brochure = db.session.scalar(select(Attachment).where(Attachment.message_id == history["brochure"]))
        from webapp.services import blob_store

        assert blob_store().exists(brochure.sha256)
        assert blob_store().exists(kept.raw_sha256)
        [log] = db.session.scalars(select(AuditLog).where(AuditLog.action == "candidate_erased"))
        assert (log.user_id, log.target_type, log.target_id) == (team.rita.id, "candidate", team.alicia.id)
        assert log.created_at is not None
        assert set(log.details) == {"messages", "conversations", "files"}
    # Their candidate page is gone, for everyone.
    assert client.get(f"/candidates/{team.alicia.id}").status_code == 404


def test_their_next_message_arrives_as_a_strangers(app, client, auth, team, history):
    erase(client, auth, team.alicia.id)
    again = row(app, receive(app, raw_mail(frm=f"{NAME} <{ADDRESS}>", subject="Any news?")))
    assert again.outcome == Outcome.NON_CANDIDATE
    assert again.candidate_id is None


def test_erase_asks_for_the_name_first(app, client, auth, team):
    auth.login(team.rita.email)
    page = client.get(f"/candidates/{team.alicia.id}/erase")
    assert page.status_code == 200
    assert "Type the name to confirm" in page.get_data(as_text=True)
    wrong = erase(client, auth, team.alicia.id, name="Alicia")
    assert wrong.status_code == 422
    assert "exactly as shown" in wrong.get_data(as_text=True)
    token = auth.csrf_token(f"/candidates/{team.alicia.id}/erase")
    assert client.post(f"/candidates/{team.alicia.id}/erase", data={"confirm_name": NAME}).status_code == 400
    with app.app_context():
        assert db.session.get(Candidate, team.alicia.id) is not None
    assert token
    # Case and spacing do not matter.
    assert erase(client, auth, team.alicia.id, name="  alicia   zwickau ").status_code == 200


def test_who_may_erase(app, client, auth, team):
    # Sam cannot see the candidate: 404, as for one that does not exist.
    auth.login(team.sam.email)
    assert client.get(f"/candidates/{team.alicia.id}/erase").status_code == 404
    token = auth.csrf_token("/mail/inbox")
    posted = client.post(
        f"/candidates/{team.alicia.id}/erase", data={"csrf_token": token, "confirm_name": NAME}
    )
    assert posted.status_code == 404
    auth.logout()
    # Val sees Carla (the secret job) but not all of Carla's offers: 403, and no button.
    auth.login(team.val.email)
    assert client.get(f"/candidates/{team.carla.id}/erase").status_code == 403
    assert "Erase this candidate" not in client.get(f"/candidates/{team.carla.id}").get_data(as_text=True)
    auth.logout()
    # Rita has access to every offer Alicia is on; an admin may erase anyone.
    auth.login(team.rita.email)
    assert "Erase this candidate" in client.get(f"/candidates/{team.alicia.id}").get_data(as_text=True)
    auth.logout()
    auth.login(team.ada.email)
    assert erase(client, auth, team.carla.id, name="Carla Both").status_code == 200
    with app.app_context():
        assert db.session.get(Candidate, team.carla.id) is None


def test_no_erase_while_a_message_to_them_is_being_sent(app, client, auth, team):
    later = send(app, team.rita, ADDRESS, "Hello", "Hi", send_at=utcnow() + timedelta(hours=1))
    with app.app_context():
        db.session.get(Message, later).status = "sending"
        db.session.commit()
    auth.login(team.rita.email)
    response = erase(client, auth, team.alicia.id)
    assert response.status_code == 409
    assert "being sent right now" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Candidate, team.alicia.id) is not None
