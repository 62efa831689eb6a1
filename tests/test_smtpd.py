"""The SMTP/LMTP listener, driven by a real SMTP client (smtplib)."""

import smtplib
import socket

import pytest
from sqlalchemy import select

from tests.mailmaker import raw_mail
from webapp.extensions import db
from webapp.models import Message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener(app, make, redis):
    """The listener on a free port, for a team with rita, a job and its CV address."""
    from webapp.receiving.smtpd import InboundController

    make.offer("Backend")
    make.user("Rita Recruiter")
    app.config["INBOUND_MAX_BYTES"] = 20_000
    controller = InboundController(app, "127.0.0.1", free_port())
    controller.start()
    yield controller
    controller.stop()
    app.config["INBOUND_MAX_BYTES"] = 25 * 1024 * 1024


def stored(app) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).order_by(Message.id)))
        db.session.expunge_all()
        return rows


def test_delivers_and_answers_250_after_storing(app, listener):
    raw = raw_mail(subject="Over SMTP")
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        refused = smtp.sendmail(
            "alice@outside.test", ["rita@mail.demo.test", "cv+backend@mail.demo.test"], raw
        )
    assert refused == {}
    [msg] = stored(app)
    assert msg.source == "smtp"
    assert msg.envelope_from == "alice@outside.test"
    assert msg.envelope_to == ["rita@mail.demo.test", "cv+backend@mail.demo.test"]
    from webapp.queues import get_queue

    with app.app_context():
        assert [job.args for job in get_queue("classify").jobs] == [(msg.id,)]


def test_unknown_recipient_gets_550(app, listener):
    with (
        smtplib.SMTP(listener.hostname, listener.port) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        smtp.sendmail("alice@outside.test", ["nobody@mail.demo.test"], raw_mail())
    assert refused.value.recipients["nobody@mail.demo.test"][0] == 550
    for address in (
        "rita@other-domain.test",
        "reply+1.deadbeef@mail.demo.test",
    ):
        with smtplib.SMTP(listener.hostname, listener.port) as smtp:
            smtp.ehlo()
            smtp.mail("alice@outside.test")
            assert smtp.rcpt(address)[0] == 550, address
    assert stored(app) == []


def test_message_over_the_limit_gets_552(app, listener):
    big = raw_mail(body=("x" * 70 + "\n") * 700)
    errors = (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
    with smtplib.SMTP(listener.hostname, listener.port) as smtp, pytest.raises(errors) as error:
        smtp.sendmail("alice@outside.test", ["rita@mail.demo.test"], big)
    assert error.value.smtp_code == 552
    # A client that ignores the SIZE extension is stopped by the data limit too.
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.helo()  # no ESMTP, no SIZE
        smtp.mail("alice@outside.test")
        smtp.rcpt("rita@mail.demo.test")
        code, text = smtp.data(big)
    assert code == 552, text
    assert stored(app) == []


def test_lmtp_answers_once_per_recipient(app, make, redis):
    """LMTP (behind Postfix): one reply per recipient after DATA (smtplib.LMTP reads only one)."""
    from webapp.receiving.smtpd import InboundController

    make.user("Rita Recruiter")
    make.user("Sam Recruiter")
    controller = InboundController(app, "127.0.0.1", free_port(), lmtp=True)
    controller.start()
    try:
        with socket.create_connection((controller.hostname, controller.port), timeout=5) as conn:
            reader = conn.makefile("rb")

            def say(line: bytes) -> bytes:
                conn.sendall(line + b"\r\n")
                reply = reader.readline()
                while reply[3:4] == b"-":  # multi-line reply
                    reply = reader.readline()
                return reply

            assert reader.readline().startswith(b"220")
            assert say(b"LHLO client.test").startswith(b"250")
            assert say(b"MAIL FROM:<alice@outside.test>").startswith(b"250")
            assert say(b"RCPT TO:<rita@mail.demo.test>").startswith(b"250")
            assert say(b"RCPT TO:<sam@mail.demo.test>").startswith(b"250")
            assert say(b"DATA").startswith(b"354")
            conn.sendall(raw_mail() + b".\r\n")
            replies = [reader.readline(), reader.readline()]
            assert all(r.startswith(b"250 2.0.0 Stored") for r in replies), replies
            assert say(b"QUIT").startswith(b"221")
    finally:
        controller.stop()
    assert len(stored(app)) == 1
