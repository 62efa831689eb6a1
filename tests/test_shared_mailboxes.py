"""Shared mailboxes (jobs@, talent@): an admin connects one and names who shares it; its candidate
mail reaches their inboxes with the mailbox's name, never a candidate they may not see; a mailbox
is connected once. Against a real Dovecot."""

import pytest
from sqlalchemy import select

from tests.dom import parse
from tests.dovecot import DOVECOT, NOT_INSTALLED, Dovecot, mail, running_dovecot, sync
from tests.helpers import add_mailbox
from webapp.extensions import db
from webapp.mail.read import folders
from webapp.models import Direction, MailboxConnection, MailboxShare, Message, SentCopy, User
from webapp.models.types import utcnow
from webapp.services import mailbox_vault

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
JOBS = "jobs@team.test"
RITA = "rita@team.test"
PASSWORD = "jobs-secret"
URL = "/settings/shared-mailboxes"


@pytest.fixture
def dovecot():
    with running_dovecot({JOBS: PASSWORD, RITA: "rita-secret"}) as server:
        yield server


@pytest.fixture
def team(make_team):
    # Rita sees both offers; Sam only the backend job: Bob (on the secret one) is not his to see.
    return make_team(
        offers={"job": "Backend", "secret": "Confidential CTO search"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job", "secret"], "Sam Recruiter": ["job"]},
        candidates={"Alice Able": ["job"], "Bob Baker": ["secret"]},
    )


def inbox(app, user) -> list[str]:
    with app.app_context():
        rows, _ = folders.list_rows("inbox", db.session.get(User, user.id))
        return sorted(row.message.subject for row in rows)


def connect_form(auth, server: Dovecot, *users, **fields) -> dict:
    data = {
        "csrf_token": auth.csrf_token(URL),
        "name": "Jobs",
        "host": server.host,
        "port": str(server.port),
        "security": "none",
        "username": JOBS,
        "password": PASSWORD,
        "incoming_folder": "INBOX",
        "users": [str(u.id) for u in users],
    }
    return data | fields


def test_an_admin_connects_a_shared_mailbox_whose_mail_reaches_those_sharing_it(
    app, client, auth, team, dovecot, redis
):
    dovecot.deliver(JOBS, mail("alice@outside.test", JOBS, "Alice applies to jobs"))
    dovecot.deliver(JOBS, mail("bob@outside.test", JOBS, "Bob about the CTO role"))
    dovecot.deliver(JOBS, mail("news@letters.test", JOBS, "Weekly newsletter"))
    auth.login(team.ada.email)
    assert client.get("/settings/mailbox").status_code == 200
    response = client.post(URL, data=connect_form(auth, dovecot, team.rita, team.sam))
    assert response.status_code == 302
    with app.app_context():
        connection = db.session.scalar(select(MailboxConnection))
        assert (connection.shared, connection.name, connection.username) == (True, "Jobs", JOBS)
        assert mailbox_vault().decrypt(connection.secret) == PASSWORD
        shared_with = set(db.session.scalars(select(MailboxShare.user_id)))
    assert shared_with == {team.rita.id, team.sam.id}
    page = parse(client.get(URL).get_data(as_text=True))
    assert "Jobs" in page.one(id=f"shared-{connection.id}").text

    assert sync(app, connection.id) == 2  # the newsletter stays out
    assert inbox(app, team.rita) == ["Alice applies to jobs", "Bob about the CTO role"]
    # Sam shares the mailbox but may not see Bob (an offer he has no access to): never shown.
    assert inbox(app, team.sam) == ["Alice applies to jobs"]
    auth.logout()
    auth.login(team.sam.email)
    listing = parse(client.get("/mail/inbox").get_data(as_text=True))
    chips = [c.text for c in listing.find_all("span", class_="chip-mailbox")]
    assert chips == ["Jobs"]
    assert "CTO" not in listing.text
    with app.app_context():
        bob_mail = db.session.scalar(select(Message.thread_id).where(Message.subject.like("Bob%")))
    assert client.get(f"/mail/candidates/{bob_mail}").status_code == 404


def test_a_mailbox_is_connected_once(app, client, auth, team, dovecot, redis):
    auth.login(team.ada.email)
    assert client.post(URL, data=connect_form(auth, dovecot, team.rita)).status_code == 302
    again = client.post(
        URL, data=connect_form(auth, dovecot, team.sam, name="Jobs again", username=JOBS.upper())
    )
    assert again.status_code == 422
    said = parse(again.get_data(as_text=True)).one(id="test-result").text
    assert "connected already, as the shared mailbox Jobs" in said
    auth.logout()
    # Rita cannot connect it as her own either: its mail would come in twice.
    auth.login(RITA)
    own = client.post(
        "/settings/mailbox",
        data={
            "csrf_token": auth.csrf_token("/settings/mailbox"),
            "host": dovecot.host,
            "port": str(dovecot.port),
            "security": "none",
            "username": JOBS,
            "password": PASSWORD,
            "incoming_folder": "INBOX",
            "sent_folder": "",
        },
    )
    assert own.status_code == 422
    assert "connected already" in parse(own.get_data(as_text=True)).one(id="test-result").text
    with app.app_context():
        assert db.session.scalar(select(MailboxConnection.name)) == "Jobs"
        assert len(db.session.scalars(select(MailboxConnection)).all()) == 1


def test_admins_only_change_who_shares_it_and_disconnect_it(app, client, auth, team, dovecot, redis):
    auth.login(RITA)
    assert client.get(URL).status_code == 404
    token = auth.csrf_token("/settings/mailbox")
    assert client.post(URL, data={"csrf_token": token, "name": "Mine"}).status_code == 404
    auth.logout()
    auth.login(team.ada.email)
    client.post(URL, data=connect_form(auth, dovecot, team.rita))
    with app.app_context():
        connection_id = db.session.scalar(select(MailboxConnection.id))
    response = client.post(
        f"{URL}/{connection_id}/users",
        data={"csrf_token": auth.csrf_token(URL), f"m{connection_id}-users": [str(team.sam.id)]},
    )
    assert response.status_code == 302
    with app.app_context():
        assert list(db.session.scalars(select(MailboxShare.user_id))) == [team.sam.id]
    assert client.post(f"{URL}/{connection_id}/disconnect", data={}).status_code == 400  # CSRF
    response = client.post(f"{URL}/{connection_id}/disconnect", data={"csrf_token": auth.csrf_token(URL)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(MailboxConnection)) is None


def jobs_shared_with_rita(app, team) -> int:
    """The jobs@ mailbox, connected by Ada and shared with Rita (not synced): its id."""
    with app.app_context():
        jobs = add_mailbox(team.ada, shared=True, name="Jobs", username=JOBS, password=PASSWORD)
        db.session.add(MailboxShare(connection_id=jobs.id, user_id=team.rita.id))
        db.session.commit()
        return jobs.id


def test_compose_offers_the_shared_mailbox_as_from_and_keeps_the_last_one_used(
    app, client, auth, team, redis
):
    jobs_id = jobs_shared_with_rita(app, team)
    pane = {"HX-Request": "true", "HX-Target": "message-pane"}

    def send(sender: str):
        token = auth.csrf_token("/mail/inbox")
        data = {
            "csrf_token": token,
            "preset": "now",
            "to": "alice@outside.test",
            "subject": "Hi",
            "body": "Hello",
        }
        return client.post("/compose", data=data | {"sender": sender}, headers=pane)

    def offered() -> tuple[list[str], str]:
        select_ = parse(client.get("/compose", headers=pane).get_data(as_text=True)).find(
            "select", id="sender"
        )
        if select_ is None:
            return [], ""
        chosen = select_.find("option", selected=True)
        return [o.text for o in select_.find_all("option")], (chosen.get("value") or "") if chosen else ""

    auth.login(RITA)
    options, chosen = offered()
    assert options[1] == f"Jobs <{JOBS}>"
    assert options[0].startswith("Rita Recruiter <")
    assert chosen == ""  # her own address until she writes from Jobs
    assert send(str(jobs_id)).status_code == 200
    with app.app_context():
        sent = db.session.scalar(select(Message).order_by(Message.id.desc()))
        assert (sent.from_address, sent.from_name, sent.sender_id) == (JOBS, "Rita Recruiter", team.rita.id)
    assert offered()[1] == str(jobs_id)  # the last one used stays selected
    assert send("").status_code == 200
    assert offered()[1] == ""
    auth.logout()
    # Sam does not share Jobs: it is not offered, and a forged choice is refused.
    auth.login(team.sam.email)
    assert offered() == ([], "")
    refused = send(str(jobs_id))
    assert refused.status_code == 422
    assert "not shared with you" in refused.get_data(as_text=True)


def sent_from_hiremail(app, user, from_address: str, subject: str) -> int:
    with app.app_context():
        raw = (
            f"From: {from_address}\r\nTo: alice@outside.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@hiremail.test>\r\n\r\nHello\r\n"
        ).encode()
        msg = Message(
            direction=Direction.OUTBOUND,
            status="sent",
            sender_id=user.id,
            subject=subject,
            from_address=from_address,
            message_id=f"<{subject.replace(' ', '-')}@hiremail.test>",
            sent_at=utcnow(),
            sort_at=utcnow(),
        )
        db.session.add(msg)
        db.session.flush()
        db.session.add(SentCopy(message_id=msg.id, raw=raw))
        db.session.commit()
        return msg.id


def sent_subjects(server: Dovecot, user: str) -> list[str]:
    conn = server.imap(user)
    try:
        conn.select("Sent", readonly=True)
        typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return sorted(
            item[1].decode().strip().removeprefix("Subject: ") for item in data if isinstance(item, tuple)
        )
    finally:
        conn.logout()


def test_mail_written_from_the_shared_mailbox_is_copied_to_its_sent_folder_not_the_writers(
    app, client, auth, team, dovecot, redis
):
    from webapp.jobs.sync import append_due_job, append_sent_job

    auth.login(team.ada.email)
    client.post(URL, data=connect_form(auth, dovecot, team.rita))
    with app.app_context():
        jobs_id = db.session.scalar(select(MailboxConnection.id))
        rita_own = MailboxConnection(
            user_id=team.rita.id,
            host=dovecot.host,
            port=dovecot.port,
            security="none",
            username=RITA,
            secret=mailbox_vault().encrypt("rita-secret"),
        )
        db.session.add(rita_own)
        db.session.commit()
        rita_id = rita_own.id
    sent_from_hiremail(app, team.rita, JOBS, "From jobs to Alice")
    sent_from_hiremail(app, team.rita, team.rita.inbound_address("x.test"), "From Rita to Alice")
    sent_from_hiremail(app, team.ada, "ada-own@team.test", "The admin's own mail")
    with app.app_context():
        assert append_due_job() == 2  # Jobs and Rita's own; never the admin's mail into Jobs
        assert append_sent_job(jobs_id) == 1
        assert append_sent_job(rita_id) == 1
    assert sent_subjects(dovecot, JOBS) == ["From jobs to Alice"]
    assert sent_subjects(dovecot, RITA) == ["From Rita to Alice"]


def test_a_draft_keeps_the_shared_mailbox_it_was_written_from(app, client, auth, team, redis):
    jobs_id = jobs_shared_with_rita(app, team)
    pane = {"HX-Request": "true", "HX-Target": "message-pane"}
    auth.login(RITA)
    data = {
        "csrf_token": auth.csrf_token("/mail/inbox"),
        "preset": "now",
        "to": "alice@outside.test",
        "subject": "Draft from jobs",
        "body": "Half written",
        "sender": str(jobs_id),
    }
    assert client.post("/compose/draft", data=data, headers=pane).status_code == 200
    with app.app_context():
        draft = db.session.scalar(select(Message).where(Message.status == "draft"))
        assert draft.from_address == JOBS
        draft_id = draft.id
    # Meanwhile she writes from her own address: the draft still opens on Jobs.
    token = auth.csrf_token("/mail/inbox")
    mine = {"csrf_token": token, "preset": "now", "to": "alice@outside.test", "subject": "Own", "body": "x"}
    assert client.post("/compose", data=mine | {"sender": ""}, headers=pane).status_code == 200
    page = parse(client.get(f"/compose/draft/{draft_id}", headers=pane).get_data(as_text=True))
    assert page.one("select", id="sender").find("option", selected=True).get("value") == str(jobs_id)
