"""The demo data: every folder has mail for every demo user, and access holds."""

import pytest

from webapp.mail.read import folders

USERS = ("ada@demo.test", "rita@demo.test", "sam@demo.test")


@pytest.fixture
def demo(app):
    from webapp.demo import load_demo

    with app.app_context():
        load_demo()


def test_seed_command_loads_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0
    assert "3 users" in first.output
    again = runner.invoke(args=["seed", "--demo", "--if-empty"])
    assert "already has users" in again.output
    assert runner.invoke(args=["seed"]).exit_code != 0


@pytest.mark.parametrize("email", USERS)
def test_every_folder_has_mail_for_each_demo_user(app, demo, email):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        for folder in folders.FOLDERS:
            rows, _ = folders.list_rows(folder.slug, user)
            assert rows, f"{email} has nothing in {folder.slug}"


def test_demo_logins_work_and_show_the_inbox(client, auth, demo):
    for email in USERS:
        response = auth.login(email, password="demo-password", follow=True)
        assert response.status_code == 200
        assert 'class="list-head"' in response.get_data(as_text=True)
        auth.logout()


def test_demo_respects_access(app, demo):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        by_email = {u.email: u for u in db.session.scalars(select(User))}
        subjects = {
            email: {r.thread.subject for r in folders.list_rows("candidates", u, limit=500)[0]}
            for email, u in by_email.items()
        }
    assert "Head of Finance application" in subjects["ada@demo.test"]
    assert "Head of Finance application" not in subjects["rita@demo.test"] | subjects["sam@demo.test"]
    assert "Your portfolio" in subjects["rita@demo.test"]
    assert "Your portfolio" not in subjects["sam@demo.test"]
    # Diego is on a job of each recruiter: both see his mail.
    assert "Follow-up on my application" in subjects["rita@demo.test"] & subjects["sam@demo.test"]


def test_demo_mail_is_filed_and_sent_as_real_mail_is(app, demo):
    """Stored and classified like SMTP mail, sent through the delivery drain: no second writer."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Direction, Message, SentCopy

    with app.app_context():
        received = db.session.scalars(select(Message).where(Message.direction == Direction.INBOUND)).all()
        assert all(m.classified_at and m.source == "smtp" for m in received)
        outcomes = {m.outcome for m in received}
        assert {"candidate", "reply", "non_candidate", "incoming_cv", "auto_reply"} <= outcomes
        sent = db.session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).all()
        copies = set(db.session.scalars(select(SentCopy.message_id)))
        assert {m.status for m in sent} == {"sent", "failed", "scheduled", "draft"}  # drafts: never sent
        assert all(m.id in copies and m.raw_sha256 for m in sent if m.status == "sent")


def test_no_demo_message_warns_of_an_unverified_sender(app, client, auth, demo):
    """Demo mail is genuine: our (trusted) receiving server authenticated it."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Direction, Message

    with app.app_context():
        received = db.session.scalars(select(Message).where(Message.direction == Direction.INBOUND)).all()
        assert [m.subject for m in received if m.is_unauthenticated] == []
        lea = next(m for m in received if m.subject == "Your portfolio")
    auth.login("rita@demo.test", password="demo-password")
    pane = client.get(
        f"/mail/candidates/{lea.thread_id}", headers={"HX-Request": "true", "HX-Target": "message-pane"}
    )
    assert pane.status_code == 200
    assert "Unverified sender." not in pane.get_data(as_text=True)
