"""Outbound mail against a real SMTP server: headers, envelope, privacy, failures, retries."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs.send import send_due_job
from webapp.mail.outbound import compose, delivery
from webapp.mail.outbound.compose import Compose, ComposeError
from webapp.models import Message, User
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain

DOMAIN = "mail.demo.test"


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"]},
        candidates={"Alice Able": ["job"], "Bob Baker": ["job"]},
    )


def create(app, user, **kw) -> Message:
    data = Compose(
        to=kw.pop("to", ["alice@outside.test"]),
        subject=kw.pop("subject", "Interview"),
        body=kw.pop("body", "Hello Alice"),
        **kw,
    )
    with app.app_context():
        msg = compose.create(db.session.get(User, user.id), data, mail_domain(), blob_store())
        db.session.commit()
        db.session.refresh(msg)
        db.session.expunge(msg)
        return msg


def drain_once(app) -> int:
    """Run the drain job as a worker would, in this process; how many messages it sent."""
    with app.app_context():
        return send_due_job()


def load(app, message_id) -> Message:
    with app.app_context():
        msg = db.session.get(Message, message_id)
        db.session.expunge(msg)
        return msg


def test_what_arrives_headers_envelope_body(app, team, smtp, redis):
    from webapp.mail.addresses import bounce_address, reply_address

    msg = create(app, team.rita, cc=["colleague@partner.test"], bcc=["archive@partner.test"])
    assert msg.status == "queued"
    assert msg.message_id.endswith(f"@{DOMAIN}>")
    assert drain_once(app) == 1
    [got] = smtp.messages
    email = message_from_bytes(got.data, policy=policy.default)
    assert email["From"] == f"Rita Recruiter <rita@{DOMAIN}>"
    assert email["To"] == "alice@outside.test"
    assert email["Cc"] == "colleague@partner.test"
    assert email["Bcc"] is None
    assert b"archive@partner.test" not in got.data
    assert sorted(got.rcpt_tos) == ["alice@outside.test", "archive@partner.test", "colleague@partner.test"]
    assert email["Message-ID"] == msg.message_id
    assert email["Reply-To"] == reply_address(msg.thread_id, DOMAIN, app.config["INBOUND_SECRET"])
    assert got.mail_from == bounce_address(msg.id, DOMAIN, app.config["INBOUND_SECRET"])
    assert email.get_body().get_content().strip() == "Hello Alice"
    sent = load(app, msg.id)
    assert sent.status == "sent"
    assert sent.sent_at
    assert sent.raw_sha256


def test_reply_carries_in_reply_to_and_references(app, make, team, smtp, redis):
    thread = make.thread("Application", candidate=team.alice)
    original = make.message(
        thread, candidate=team.alice, message_id="<orig@outside.test>", references="<a@x>"
    )
    with app.app_context():
        original_row = db.session.get(Message, original.id)
        db.session.expunge(original_row)
    msg = create(app, team.rita, subject="Re: Application", thread_id=thread.id, in_reply_to=original_row)
    drain_once(app)
    email = message_from_bytes(smtp.messages[0].data, policy=policy.default)
    assert email["In-Reply-To"] == "<orig@outside.test>"
    assert email["References"] == "<a@x> <orig@outside.test>"
    assert load(app, msg.id).thread_id == thread.id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hi\r\nBcc: evil@attacker.test"),
        ("subject", "Hi\nX-Injected: yes"),
        ("subject", "=?utf-8?q?Hi=0D=0ABcc:_evil@attacker.test?="),
    ],
)
def test_header_injection_is_neutralised(app, team, smtp, redis, field, value):
    create(app, team.rita, **{field: value})
    drain_once(app)
    [got] = smtp.messages
    email = message_from_bytes(got.data, policy=policy.default)
    assert email["Bcc"] is None
    assert email["X-Injected"] is None
    assert got.rcpt_tos == ["alice@outside.test"]
    assert "\n" not in email["Subject"]
    assert "\r" not in email["Subject"]


def test_injection_in_names_and_addresses(app, make, team, smtp, redis):
    evil = make.user("Eve\r\nBcc: evil@attacker.test")
    create(app, evil)
    drain_once(app)
    email = message_from_bytes(smtp.messages[0].data, policy=policy.default)
    assert email["Bcc"] is None
    assert smtp.messages[0].rcpt_tos == ["alice@outside.test"]
    # In an address field, CR/LF only separate entries: "Bcc:" is not an address, never a header.
    good, bad = compose.parse_addresses(
        "alice@outside.test\r\nBcc: evil@attacker.test", allow_test_domains=True
    )
    assert good == ["alice@outside.test", "evil@attacker.test"]
    assert bad == ["Bcc:"]
    good, bad = compose.parse_addresses("a@b.test\r\n, not-an-address, c@d", allow_test_domains=True)
    assert good == ["a@b.test"]
    assert bad == ["not-an-address", "c@d"]
    assert compose.parse_addresses("a@b.test") == ([], ["a@b.test"])  # reserved names, in production


def test_candidates_may_not_be_in_cc_or_bcc(app, team):
    with pytest.raises(ComposeError) as refused:
        create(app, team.rita, to=["partner@agency.test"], cc=["alice@outside.test"])
    assert "alice@outside.test is a candidate's address" in refused.value.errors["cc"][0]
    assert "bulk email" in refused.value.errors["cc"][0]
    with pytest.raises(ComposeError) as refused:
        create(app, team.rita, bcc=["bob@outside.test"])
    assert "bcc" in refused.value.errors
    with pytest.raises(ComposeError) as refused:
        create(app, team.rita, to=["alice@outside.test", "bob@outside.test"])
    assert "Several candidates" in refused.value.errors["to"][0]
    with app.app_context():
        assert db.session.scalar(select(Message.id)) is None  # nothing stored


def test_time_in_the_past_is_refused(app, team):
    with pytest.raises(ComposeError) as refused:
        create(app, team.rita, send_at=utcnow() - timedelta(minutes=1))
    assert "future" in refused.value.errors["send_at"][0]


def test_permanent_error_fails_at_once_with_the_reason(app, team, smtp, redis):
    smtp.handler.refuse["alice@outside.test"] = "550 5.1.1 No such user"
    msg = create(app, team.rita)
    assert drain_once(app) == 0
    failed = load(app, msg.id)
    assert failed.status == "failed"
    assert "550" in failed.error
    assert "No such user" in failed.error
    assert smtp.messages == []


def test_temporary_error_retries_with_backoff_then_fails(app, team, smtp, redis):
    smtp.handler.refuse["alice@outside.test"] = "451 4.7.1 Greylisted, try later"
    msg = create(app, team.rita)
    assert drain_once(app) == 0
    waiting = load(app, msg.id)
    assert waiting.status == "queued"
    assert waiting.scheduled_at > utcnow()
    assert "Greylisted" in waiting.error
    assert drain_once(app) == 0  # not due yet: a duplicate job does nothing
    assert load(app, msg.id).send_attempts == 1
    for _ in range(len(delivery.RETRY_DELAYS)):
        with app.app_context():
            db.session.get(Message, msg.id).scheduled_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert drain_once(app) == 0
    gave_up = load(app, msg.id)
    assert gave_up.status == "failed"
    assert gave_up.send_attempts == len(delivery.RETRY_DELAYS) + 1
    assert gave_up.error.startswith("Gave up after")
    del smtp.handler.refuse["alice@outside.test"]


def test_a_dead_server_is_temporary(app, team, redis):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"
    try:
        msg = create(app, team.rita)
        assert drain_once(app) == 0
    finally:
        app.config["SMTP_URL"] = None
    waiting = load(app, msg.id)
    assert waiting.status == "queued"
    assert waiting.scheduled_at > utcnow()


def test_outbox_folder_by_default(app, team, tmp_path, redis):
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    msg = create(app, team.rita)
    assert drain_once(app) == 1
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    assert msg.message_id.encode() in eml.read_bytes()


def test_sending_twice_delivers_once(app, team, smtp, redis):
    msg = create(app, team.rita)
    assert [drain_once(app), drain_once(app)] == [1, 0]
    assert len(smtp.messages) == 1
    assert load(app, msg.id).status == "sent"


def test_cancel_and_edit_are_compare_and_set(app, team, smtp, redis):
    later = utcnow() + timedelta(hours=1)
    msg = create(app, team.rita, send_at=later)
    with app.app_context():
        edited = Compose(to=["alice@outside.test"], subject="New subject", body="New body", send_at=later)
        rita = db.session.get(User, team.rita.id)
        assert compose.update_scheduled(msg.id, rita, edited, mail_domain().domain)
        assert compose.cancel(msg.id, team.rita.id)
        db.session.commit()
        assert not compose.cancel(msg.id, team.rita.id)  # already cancelled
        db.session.get(Message, msg.id).scheduled_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert drain_once(app) == 0
    assert smtp.messages == []
    assert load(app, msg.id).subject == "New subject"


def test_reconciler_marks_stuck_sends_unknown_and_requeues_due(app, team):
    stuck = create(app, team.rita)
    due = create(app, team.rita, send_at=utcnow() + timedelta(seconds=1))
    with app.app_context():
        row = db.session.get(Message, stuck.id)
        row.status, row.send_started_at = "sending", utcnow() - timedelta(hours=1)
        db.session.get(Message, due.id).scheduled_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        found = delivery.reconcile()
    assert found.unknown == [stuck.id]
    assert found.due == [due.id]
    assert load(app, stuck.id).status == "unknown"
