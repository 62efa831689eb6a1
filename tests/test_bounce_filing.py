"""What a delivery report changes and how it is shown: per-recipient rows, a verified report fails
the message and marks the candidate's address, a forged one changes nothing; plain words first."""

from sqlalchemy import select

from tests.mailmaker import dsn, raw_mail
from tests.test_inbound import DOMAIN, outcome, row
from webapp.extensions import db
from webapp.mail.addresses import bounce_address
from webapp.mail.inbound.bounce import parse_bounce
from webapp.mail.inbound.parse import parse
from webapp.models import BounceRecipient, CandidateEmail, Direction


def _sent(make, team):
    thread = make.thread("Interview", candidate=team.alice)
    return make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)


def _verp(app, sent) -> str:
    return bounce_address(sent.id, DOMAIN, app.config["INBOUND_SECRET"])


def _address(app, email="alice@outside.test") -> CandidateEmail:
    with app.app_context():
        found = db.session.scalar(select(CandidateEmail).where(CandidateEmail.email == email))
        db.session.expunge(found)
        return found


def _recipients(app, message_id):
    with app.app_context():
        rows = db.session.scalars(select(BounceRecipient).where(BounceRecipient.message_id == message_id))
        return [(r.address, r.status, r.kind, r.reporting_mta, r.diagnostic) for r in rows]


def test_a_verified_hard_bounce_records_its_recipients_and_marks_the_address(app, make, team):
    sent = _sent(make, team)
    verp = _verp(app, sent)
    _, report = outcome(app, dsn(sent.message_id, "alice@outside.test", to=verp), envelope_to=[verp])
    assert report.bounced_message_id == sent.id
    assert _recipients(app, report.id) == [
        (
            "alice@outside.test",
            "5.1.1",
            "hard",
            "mx.outside.test",
            "550 5.1.1 The email account does not exist",
        ),
    ]
    address = _address(app)
    assert address.failing_since is not None
    assert "5.1.1" in address.failing_reason
    # A later message from the address proves it works.
    outcome(app, raw_mail(frm="Alice <alice@outside.test>", subject="I am here"))
    assert _address(app).failing_since is None


def test_a_delay_does_not_mark_the_address(app, make, team):
    sent = _sent(make, team)
    verp = _verp(app, sent)
    raw = dsn(
        sent.message_id, "alice@outside.test", to=verp, action="delayed", status="4.4.7", diagnostic="x"
    )
    _, report = outcome(app, raw, envelope_to=[verp])
    assert _recipients(app, report.id)[0][:3] == ("alice@outside.test", "4.4.7", "delay")
    assert _address(app).failing_since is None


def test_a_report_on_nothing_we_sent_still_records_its_recipients(app, team):
    result, report = outcome(app, dsn("<not-ours@nowhere>", "someone@else.test"))
    assert result == "bounce"
    assert _recipients(app, report.id)[0][:3] == ("someone@else.test", "5.1.1", "hard")


def test_a_forged_report_quoting_a_message_id_changes_nothing_and_says_so(app, client, auth, make, team):
    sent = _sent(make, team)
    forged = dsn(
        sent.message_id,
        "alice@outside.test",
        diagnostic="550 5.1.1 Mailbox moved, log in at https://phish.example/login to read it",
    )
    _, report = outcome(app, forged)
    assert report.bounced_message_id is None
    assert row(app, sent.id).status == "sent"
    assert _address(app).failing_since is None
    auth.login("rita@team.test")
    pane = client.get(f"/mail/inbox/{sent.thread_id}").get_data(as_text=True)
    assert "Unverified delivery report" in pane
    assert "Not delivered" not in pane


def _reported(app, make, team, **report) -> tuple:
    """A message sent to Alice, and a delivery report on it to its signed return path:
    (the sent message, the report's outcome, the report's row)."""
    sent = _sent(make, team)
    verp = _verp(app, sent)
    result, report_row = outcome(
        app, dsn(sent.message_id, "alice@outside.test", to=verp, **report), envelope_to=[verp]
    )
    return sent, result, report_row


def test_a_bounced_message_says_what_happened_in_plain_words(app, client, auth, make, team):
    diagnostic = "552 5.2.2 Mailbox full, see https://phish.example/x"
    sent, _, report = _reported(app, make, team, status="5.2.2", diagnostic=diagnostic)
    auth.login("rita@team.test")
    pane = client.get(f"/mail/sent/{sent.thread_id}").get_data(as_text=True)
    assert "Not delivered: Mailbox full" in pane
    assert "<summary>Details</summary>" in pane
    assert "phish.example/x" in pane
    assert 'href="https://phish.example' not in pane  # the server's words are text, never a link
    # The report: a delivery report, not an automatic reply, and nothing to answer the daemon with.
    section = pane[pane.index(f'id="message-{report.id}"') :]
    section = section[: section.index("</section>")]
    assert "Delivery report" in section
    assert "Automatic reply" not in section
    assert "Reply" not in section.replace("Delivery report", "")
    assert "Forward" not in section


def test_candidate_page_and_compose_say_the_address_does_not_work(app, client, auth, make, team):
    sent = _sent(make, team)
    verp = _verp(app, sent)
    outcome(app, dsn(sent.message_id, "alice@outside.test", to=verp), envelope_to=[verp])
    auth.login("rita@team.test")
    page = client.get(f"/candidates/{team.alice.id}").get_data(as_text=True)
    assert "alice@outside.test does not work" in page
    assert "Address not found" in page
    compose = client.get(f"/compose/reply/{sent.id}").get_data(as_text=True)
    assert "does not work" in compose


def test_a_report_keeps_the_original_message_and_shows_no_empty_chip(app, client, auth, make, team):
    from pathlib import Path

    from webapp.models import Attachment

    sent = _sent(make, team)
    raw = (Path(__file__).parent / "data" / "mta" / "bounce" / "sendmail.eml").read_bytes()
    raw = raw.replace(b"<sendmail-3@mail.demo.test>", sent.message_id.encode())
    boundary = b"--wB1K9xY0012345.1733043605/mx.sendmail.example--"
    empty = (
        b"--wB1K9xY0012345.1733043605/mx.sendmail.example\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="empty.bin"\r\n\r\n\r\n'
    )
    _, report = outcome(app, raw.replace(boundary, empty + boundary))
    with app.app_context():
        files = {
            a.filename: a.size
            for a in db.session.scalars(select(Attachment).where(Attachment.message_id == report.id))
        }
    assert files["empty.bin"] == 0
    assert files["message.eml"] > 200  # the original, as it was attached (not an empty part)
    auth.login("rita@team.test")
    pane = client.get(f"/mail/sent/{sent.thread_id}").get_data(as_text=True)
    section = pane[pane.index(f'id="message-{report.id}"') :]
    section = section[: section.index("</section>")]
    assert "message.eml" in section
    assert "empty.bin" not in section
    assert ">0 B<" not in section


def _drain_together(app, *mails):
    """Store the mails, then classify them in one drain (one group, one transaction), in order."""
    from webapp.mail.inbound.pipeline import drain_unclassified
    from webapp.receiving.receive import receive as store
    from webapp.services import blob_store, mail_domain

    with app.test_request_context():
        for raw, envelope_to in mails:
            store(raw, "test", envelope_to=envelope_to)
        done = drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60)
    assert done.count == len(mails)


def test_in_one_drain_group_the_later_of_a_bounce_and_the_candidates_mail_decides(app, make, team):
    """A drain writes "this address works" once for its group: a bounce after it still marks it."""
    sent = _sent(make, team)
    verp = _verp(app, sent)
    hello = raw_mail(frm="Alice <alice@outside.test>", subject="I am here")
    report = dsn(sent.message_id, "alice@outside.test", to=verp)
    _drain_together(app, (hello, ()), (report, [verp]))
    assert _address(app).failing_since is not None
    _drain_together(app, (raw_mail(frm="Alice <alice@outside.test>", subject="Still here"), ()))
    assert _address(app).failing_since is None


def _sieve_reject(message_id: str, to: str) -> bytes:
    """A mailbox filter's refusal (RFC 5429 reject, as Dovecot sends it: an MDN)."""
    return (
        f"From: Mail Delivery Subsystem <postmaster@outside.test>\r\nTo: {to}\r\n"
        "Subject: Automatically rejected mail\r\nAuto-Submitted: auto-replied (rejected)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="S"\r\n\r\n'
        "--S\r\nContent-Type: text/plain\r\n\r\n"
        "Your message to <alice@outside.test> was automatically rejected:\r\n"
        "Quota exceeded (mailbox for user is full)\r\n\r\n"
        "--S\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: outside.test; Dovecot Mail Delivery Agent\r\n"
        f"Final-Recipient: rfc822; alice@outside.test\r\nOriginal-Message-ID: {message_id}\r\n"
        "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n\r\n--S--\r\n"
    ).encode()


def test_a_mailbox_filter_refusing_the_message_shows_as_not_delivered(app, client, auth, make, team):
    sent = _sent(make, team)
    verp = _verp(app, sent)
    result, report = outcome(app, _sieve_reject(sent.message_id, verp), envelope_to=[verp])
    assert result == "bounce"
    assert report.bounced_message_id == sent.id
    assert parse_bounce(parse(_sieve_reject(sent.message_id, verp)).email).original_message_id == (
        sent.message_id  # named in the MDN's Original-Message-ID field
    )
    assert _recipients(app, report.id)[0][:3] == ("alice@outside.test", None, "hard")
    auth.login("rita@team.test")
    pane = client.get(f"/mail/sent/{sent.thread_id}").get_data(as_text=True)
    assert "Not delivered: Mailbox full" in pane
    assert "disposition-notification.txt" in pane  # its machine-readable part, named for what it is


def test_a_challenge_response_report_is_a_note_and_leaves_the_address_working(app, client, auth, make, team):
    diagnostic = "X-Boxbe-Notice; Sender not pre-approved. Follow instructions in above notice"
    sent, result, note = _reported(app, make, team, status="4.7.0", diagnostic=diagnostic)
    assert result == "auto_reply"
    assert row(app, sent.id).status == "sent"
    assert _address(app).failing_since is None
    # It came to the message's signed return path: a note in its conversation, where the
    # recruiter sees what the system asks (its sender is no candidate).
    assert (note.thread_id, note.is_auto_reply) == (sent.thread_id, True)
    assert "its VERP return path names the message" in note.outcome_reason


def test_an_out_of_office_sent_to_the_return_path_joins_the_conversation(app, make, team):
    # RFC 3834 asks automatic replies to answer the envelope sender: our signed VERP address.
    sent = _sent(make, team)
    verp = _verp(app, sent)
    raw = raw_mail(
        frm="Alice's assistant <assistant@elsewhere.test>",
        to=verp,
        subject="Automatic reply: Interview",
        headers={"Auto-Submitted": "auto-replied"},
        body="I am out of the office until 14 December.",
    )
    result, note = outcome(app, raw, envelope_to=[verp])
    assert result == "auto_reply"
    assert (note.thread_id, note.is_auto_reply) == (sent.thread_id, True)
