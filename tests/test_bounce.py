"""Bounce detection: real reports from the corpus, synthetic ones, and garbage that must not raise."""

import base64
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

import pytest

from tests.corpus import corpus_files, has_shared
from webapp.mail.inbound.bounce import DIAGNOSTIC_LENGTH, parse_bounce

BOUNCES = corpus_files("flanker/bounce")

# What each sample says, read off the files themselves.
# name: (is_delay, recipients, status, original_message_id, words in the diagnostic)
EXPECTED = {
    # Text notice from "Postmaster"; the quoted original has no Message-ID.
    "broken-mime.eml": (False, ["info@example.net"], None, None, "Delivery failed 10 attempts"),
    # A bare message/delivery-status: "Action: failed" with 4.2.2 is a final failure, not a delay.
    "delayed-broken.eml": (False, ["demo@example.com"], "4.2.2", None, "mailbox is full"),
    # RFC 3464's example: deferred for 5 days, then "Action: failed"; the copy has no Message-ID.
    "delayed.eml": (False, ["foo@example.com"], "4.0.0", None, "426 connection timed out"),
    "gmail-invalid-address.eml": (
        False,
        ["awfawfawfawfawfaw@someserverhere.com"],
        "5.1.0",
        "<CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com>",
        "Recipient rejected",
    ),
    "gmail-no-dns.eml": (False, ["user@example.comm"], None, None, "DNS Error: Domain name not found"),
    "mailbox-full.eml": (
        False,
        ["user@aol.com"],
        "5.2.2",
        "<4E326A95.3010907@example.com>",
        "user MAILBOX FULL",
    ),
    # The one real delay: "Action: delayed", "Delayed Mail (still being retried)".
    "no-mx.eml": (
        True,
        ["user@example.com"],
        "4.4.4",
        "<19E44CA63F984902B7D654F8FF40F89D@bo>",
        "no MX or A for domain",
    ),
    "office365.eml": (
        False,
        ["noname@example.com"],
        "5.1.10",
        "<20171013111011.20866.254C2F3A4D7AA526@ninomail.com>",
        "RecipientNotFound",
    ),
    "zed.eml": (
        False,
        ["asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com"],
        "5.1.1",
        "<20090708054735.GC7578@example.com>",
        "The email account that you tried to reach does not exist",
    ),
}


def _corpus(files: dict[str, Path]):
    """One parameter per corpus file, named by its place in the corpus."""
    return [pytest.param(path, id=name) for name, path in files.items()]


def _load(path: Path) -> EmailMessage:
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def _non_bounce_files() -> dict[str, Path]:
    return {name: path for name, path in corpus_files().items() if name not in BOUNCES}


# Real-world reports


def test_every_bounce_sample_has_an_expectation():
    names = {path.name for path in BOUNCES.values()}
    # Our own corpus holds some of the samples; the shared one, all of them.
    assert names == set(EXPECTED) if has_shared() else names and names <= set(EXPECTED)


@pytest.mark.parametrize("path", _corpus(BOUNCES))
def test_corpus_bounce_is_reported(path):
    is_delay, recipients, status, original_id, reason = EXPECTED[path.name]
    report = parse_bounce(_load(path))
    assert report is not None
    assert report.is_delay is is_delay
    assert report.recipients == recipients
    assert report.status == status
    assert report.original_message_id == original_id
    assert reason in report.diagnostic
    assert len(report.diagnostic) <= DIAGNOSTIC_LENGTH
    assert "\n" not in report.diagnostic
    assert "\r" not in report.diagnostic


@pytest.mark.parametrize("path", _corpus(corpus_files("flanker/complaints")))
def test_feedback_loop_complaint_is_not_a_bounce(path):
    assert parse_bounce(_load(path)) is None


@pytest.mark.parametrize("path", _corpus(_non_bounce_files()))
def test_other_corpus_mail_is_not_a_bounce(path):
    # Includes a read receipt (multipart/report) and ordinary mail from postmaster@ (long-links.eml).
    assert parse_bounce(_load(path)) is None


# Synthetic reports, built with the stdlib and parsed back from bytes as the pipeline would


def _dsn_part(*blocks: dict[str, str]) -> MIMEPart:
    """A message/delivery-status part: one header-like block per dict."""
    part = MIMEPart()
    part["Content-Type"] = "message/delivery-status"
    payload = []
    for fields in blocks:
        block = MIMEPart()
        for name, value in fields.items():
            block[name] = value
        payload.append(block)
    part.set_payload(payload)
    return part


def _report(subject: str, notice: str, *parts: MIMEPart) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    msg["To"] = "rita@mail.demo.test"
    msg["Subject"] = subject
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(notice)
    msg.make_mixed()
    msg.set_type("multipart/report")
    msg.set_param("report-type", "delivery-status")
    for part in parts:
        msg.attach(part)
    return msg.as_bytes()


def _original_headers(message_id: str) -> MIMEPart:
    part = MIMEPart()
    headers = f"Message-ID: {message_id}\nFrom: Rita <rita@mail.demo.test>\nTo: alice@candidate.test\n"
    part.set_content(headers + "Subject: Your interview\n", subtype="rfc822-headers")
    return part


def test_dsn_with_rfc822_headers():
    raw = _report(
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.example.org.\n\nYour message could not be delivered.\n",
        _dsn_part(
            {"Reporting-MTA": "dns; mx.example.org"},
            {
                "Original-Recipient": "rfc822; Alice@Candidate.test",
                "Final-Recipient": "rfc822; alice@candidate.test",
                "Action": "failed",
                "Status": "5.1.1",
                "Diagnostic-Code": "smtp; 550 5.1.1 <alice@candidate.test>: User unknown",
            },
        ),
        _original_headers("<orig-1@mail.demo.test>"),
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.is_delay is False
    assert report.recipients == ["alice@candidate.test"]
    assert report.status == "5.1.1"
    assert report.original_message_id == "<orig-1@mail.demo.test>"
    assert report.diagnostic == "550 5.1.1 <alice@candidate.test>: User unknown"


def test_dsn_delayed():
    raw = _report(
        "Delivery Status Notification (Delay)",
        "Delivery to the following recipient has been delayed: alice@candidate.test\n",
        _dsn_part(
            {"Reporting-MTA": "dns; mx.example.org"},
            {"Final-Recipient": "rfc822; alice@candidate.test", "Action": "delayed", "Status": "4.4.7"},
        ),
        _original_headers("<orig-3@mail.demo.test>"),
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.is_delay is True
    assert report.status == "4.4.7"
    assert report.recipients == ["alice@candidate.test"]
    assert report.original_message_id == "<orig-3@mail.demo.test>"
    assert "has been delayed" in report.diagnostic


def test_dsn_with_only_successful_deliveries_is_not_a_bounce():
    # A NOTIFY=SUCCESS receipt is a delivery-status report too, but nothing failed.
    raw = _report(
        "Successful Mail Delivery Report",
        "Your message was delivered.\n",
        _dsn_part(
            {"Reporting-MTA": "dns; mx"}, {"Final-Recipient": "rfc822; a@b.test", "Action": "delivered"}
        ),
    )
    assert parse_bounce(_parse(raw)) is None


def test_dsn_without_diagnostic_explains_the_status():
    raw = (
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; "
        b"a@b.test\nAction: failed\nStatus: 5.2.2\n"
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.diagnostic == "The mailbox is full (5.2.2)"


POSTFIX_NOTICE = """\
This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<alice@candidate.test>: host mx.candidate.test[192.0.2.1] said: 550 5.1.1
    <alice@candidate.test>: Recipient address rejected: User unknown (in reply
    to RCPT TO command)

--- Below this line is a copy of the message.

Return-Path: <rita@mail.demo.test>
Message-ID: <orig-2@mail.demo.test>
From: Rita <rita@mail.demo.test>
To: Alice <alice@candidate.test>
Subject: Your interview

Hello Alice,
"""


def _plain_notice(sender: str, subject: str, body: str = POSTFIX_NOTICE) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "rita@mail.demo.test"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


def test_plain_text_postfix_notice():
    raw = _plain_notice(
        "MAILER-DAEMON@mx.example.org (Mail Delivery System)", "Undelivered Mail Returned to Sender"
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.is_delay is False
    # Rita's own address in the quoted copy is not a failed recipient.
    assert report.recipients == ["alice@candidate.test"]
    assert report.status == "5.1.1"
    assert report.original_message_id == "<orig-2@mail.demo.test>"
    assert "Recipient address rejected: User unknown" in report.diagnostic


@pytest.mark.parametrize(
    "sender",
    [
        "postmaster@example.org",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Mail Delivery System <x@y.test>",
    ],
)
def test_daemon_senders(sender):
    assert parse_bounce(_parse(_plain_notice(sender, "Mail delivery failed"))) is not None


def test_plain_text_delay_notice():
    body = "Your message has not been delivered yet. It will be retried until it is 5 days old.\n"
    raw = _plain_notice("MAILER-DAEMON@mx.example.org", "Delayed Mail (still being retried)", body)
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.is_delay is True


def test_bounce_words_from_a_person_are_not_a_bounce():
    raw = _plain_notice("Alice <alice@candidate.test>", "Undeliverable: my CV bounced, resending")
    assert parse_bounce(_parse(raw)) is None


def test_daemon_mail_about_something_else_is_not_a_bounce():
    raw = _plain_notice("postmaster@example.org", "Please enjoy this link", "Hello\n")
    assert parse_bounce(_parse(raw)) is None


# Garbage: never raise; a message that is clearly a report still gives one


def test_empty_message():
    assert parse_bounce(EmailMessage()) is None
    assert parse_bounce(_parse(b"")) is None


def test_not_a_message_at_all():
    assert parse_bounce(None) is None


def test_report_with_no_parts():
    raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=xyz\n\nno parts here\n"
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert report.recipients == []
    assert report.diagnostic


def test_delivery_status_part_with_binary_junk():
    junk = bytes(range(256)) * 4 + b"\n\n:\n\x00: \xff\n\tcontinued\n"
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\nSubject: Undeliverable\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=xyz\n\n"
        b"--xyz\nContent-Type: message/delivery-status\n\n" + junk + b"\n--xyz--\n"
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert len(report.diagnostic) <= DIAGNOSTIC_LENGTH
    assert "\n" not in report.diagnostic


def test_base64_delivery_status_part_is_decoded():
    # Stdlib splits the still-encoded text into blocks; the fields must come from the decoded text.
    fields = b"Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b.test\nAction: delayed\nStatus: 4.4.7\n"
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\nSubject: Delivery delayed\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=xyz\n\n"
        b"--xyz\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(fields)
        + b"\n--xyz--\n"
    )
    report = parse_bounce(_parse(raw))
    assert report is not None
    assert (report.is_delay, report.recipients, report.status) == (True, ["a@b.test"], "4.4.7")


class _ExplodingMessage(EmailMessage):
    def get_payload(self, *args, **kwargs):
        raise RuntimeError("unreadable body")


def test_unreadable_report_still_gives_a_report():
    msg = _ExplodingMessage()
    msg["Content-Type"] = "multipart/report; report-type=delivery-status; boundary=xyz"
    msg["Subject"] = "Delivery Status Notification (Failure)"
    report = parse_bounce(msg)
    assert report is not None
    assert report.recipients == []
