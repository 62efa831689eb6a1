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
    from webapp.jobs.enqueue import CLASSIFY_DUE_JOB
    from webapp.queues import get_queue

    with app.app_context():  # a classify drain is woken (one for any number of messages)
        assert [job.func_name for job in get_queue("classify").jobs] == [CLASSIFY_DUE_JOB]


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


def test_a_burst_is_stored_in_batches_each_answered_after_its_commit(app, listener, monkeypatch):
    """Group commit: DATA that arrives while a batch is stored waits for the next batch, one
    commit for all of them; every sender still gets 250 with its own message's id."""
    import threading
    import time

    from webapp.receiving import smtpd

    batches = []
    real = smtpd.receive_many

    def slow_receive_many(arrivals):
        time.sleep(0.3)  # a slow disk: the others arrive meanwhile
        ids = real(arrivals)
        batches.append(len(arrivals))
        return ids

    monkeypatch.setattr(smtpd, "receive_many", slow_receive_many)
    replies = []

    def client(i):
        with smtplib.SMTP(listener.hostname, listener.port) as smtp:
            smtp.ehlo()
            smtp.mail("alice@outside.test")
            smtp.rcpt("rita@mail.demo.test")
            replies.append(smtp.data(raw_mail(subject=f"Burst {i}")))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = stored(app)
    assert max(batches) > 1
    assert sum(batches) == 8
    assert len(rows) == 8
    assert sorted(r.subject or "" for r in rows) == [""] * 8  # stored, not parsed
    answered = sorted(int(text.split()[-1]) for code, text in replies if code == 250)
    assert answered == [r.id for r in rows]


def test_a_batch_that_cannot_be_stored_is_refused_with_451_and_the_next_one_is_kept(
    app, listener, monkeypatch
):
    from webapp.receiving import smtpd

    real = smtpd.receive_many
    calls = []

    def failing_once(arrivals):
        calls.append(len(arrivals))
        if len(calls) == 1:
            raise OSError("disk full")
        return real(arrivals)

    monkeypatch.setattr(smtpd, "receive_many", failing_once)
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        smtp.mail("alice@outside.test")
        smtp.rcpt("rita@mail.demo.test")
        code, _ = smtp.data(raw_mail(subject="First"))
        assert code == 451  # the sender keeps it and tries again: never lost
        smtp.mail("alice@outside.test")
        smtp.rcpt("rita@mail.demo.test")
        code, _ = smtp.data(raw_mail(subject="Second"))
        assert code == 250
    assert len(stored(app)) == 1


def test_data_is_stored_byte_for_byte_with_the_senders_dots_removed(app, listener):
    """DATA is read up to each line-ending `.`, not line by line: lines that start or end with
    dots, a lone-dot-looking line and a message right after an oversized one all come out as sent."""
    from webapp.services import blob_store

    head = b"From: alice@outside.test\r\nTo: rita@mail.demo.test\r\nSubject: Dots\r\n\r\n"
    dotted = head + b".starts\r\n..two\r\n.\r\nends.\r\n.\r\nlast line.\r\n"
    plain = head + b"x\r\n"
    too_big = head + b"y." * 15_000 + b"\r\n"  # one line over INBOUND_MAX_BYTES, full of dots
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        for raw in (dotted, too_big, plain):
            smtp.mail("alice@outside.test")
            smtp.rcpt("rita@mail.demo.test")
            code, _ = smtp.data(raw)  # smtplib doubles every line's leading dot
            assert (code >= 500) if raw is too_big else code == 250
    rows = stored(app)
    with app.app_context():
        assert [blob_store().get(r.raw_sha256) for r in rows] == [dotted, plain]


def test_after_the_database_refuses_a_batch_the_next_one_is_stored(app, listener, monkeypatch):
    """One thread stores every batch with one session for its life: a failed INSERT must not
    leave that session unusable for the mail that follows."""
    from webapp.receiving import receive

    real = receive.unclassified_values
    calls = []

    def broken_once(*args):
        row = real(*args)
        calls.append(1)
        return {**row, "direction": None} if len(calls) == 1 else row  # NOT NULL: refused

    monkeypatch.setattr(receive, "unclassified_values", broken_once)
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        for subject, expected in (("First", 451), ("Second", 250)):
            smtp.mail("alice@outside.test")
            smtp.rcpt("rita@mail.demo.test")
            assert smtp.data(raw_mail(subject=subject))[0] == expected
    assert len(stored(app)) == 1


def test_a_sender_that_hangs_up_during_data_stores_nothing_and_the_next_is_served(app, listener):
    with socket.create_connection((listener.hostname, listener.port)) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # greeting
        for command in (
            b"HELO client.test",
            b"MAIL FROM:<alice@outside.test>",
            b"RCPT TO:<rita@mail.demo.test>",
        ):
            sock.sendall(command + b"\r\n")
            assert reader.readline()[:1] == b"2"
        sock.sendall(b"DATA\r\n")
        assert reader.readline()[:3] == b"354"
        sock.sendall(b"Subject: cut\r\n\r\nhalf a message, no end.\r\n")
        reader.close()  # then the line drops
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        assert smtp.sendmail("alice@outside.test", ["rita@mail.demo.test"], raw_mail()) == {}
    assert len(stored(app)) == 1


def test_a_pipelining_sender_gets_each_reply_in_order(app, listener):
    """PIPELINING (RFC 2920) is offered: MAIL, RCPT and DATA sent at once are answered one by
    one, in order; a refused recipient does not cost the others the message, and a DATA
    with no recipient left is refused without taking the message."""
    with socket.create_connection((listener.hostname, listener.port)) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            lines = [reader.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(reader.readline())
            return b"".join(lines)

        reply()  # greeting
        sock.sendall(b"EHLO sender.outside.test\r\n")
        assert b"250-PIPELINING\r\n" in reply()
        sock.sendall(
            b"MAIL FROM:<alice@outside.test>\r\nRCPT TO:<rita@mail.demo.test>\r\n"
            b"RCPT TO:<nobody@mail.demo.test>\r\nDATA\r\n"
        )
        assert [reply()[:3] for _ in range(4)] == [b"250", b"250", b"550", b"354"]
        sock.sendall(raw_mail(subject="Pipelined") + b"\r\n.\r\n")
        assert reply().startswith(b"250 2.0.0 Stored as ")
        sock.sendall(b"MAIL FROM:<bob@outside.test>\r\nRCPT TO:<nobody@mail.demo.test>\r\nDATA\r\n")
        assert [reply()[:1] for _ in range(3)] == [b"2", b"5", b"5"]
        sock.sendall(b"QUIT\r\n")
        assert reply()[:3] == b"221"
    [msg] = stored(app)
    assert msg.envelope_from == "alice@outside.test"
    assert msg.envelope_to == ["rita@mail.demo.test"]


@pytest.mark.parametrize(
    "arg",
    [
        "",
        "<alice@outside.test>",
        "<alice@outside.test> SIZE=1000 BODY=8BITMIME",
        "alice@outside.test",
        "<>",
        '<"quoted local"@outside.test>',
        "<@relay.test:alice@outside.test>",
        "<alice@[192.0.2.1]>",
        "<alice@outside.test",
        "<" + "x" * 65 + "@outside.test>",
        "<not an address>",
        "<a@b@c>",
    ],
)
def test_mail_and_rcpt_addresses_are_read_as_aiosmtpd_reads_them(arg):
    """The listener's own _getaddr (without aiosmtpd's per-call class) gives aiosmtpd's answers."""
    from aiosmtpd.smtp import SMTP

    from webapp.receiving.smtpd import WholeData

    class Bare(SMTP):
        pass

    ours, theirs = WholeData.__new__(WholeData), Bare.__new__(Bare)
    ours.local_part_limit = theirs.local_part_limit = 64
    assert ours._getaddr(arg) == theirs._getaddr(arg)


def test_the_log_has_a_line_for_each_message_stored_not_for_each_smtp_command(app, listener, caplog):
    """aiosmtpd logs every command (addresses and all) at INFO; with logging configured at our
    default level only our own line for each message stored reaches the log, and aiosmtpd's
    warnings would."""
    import io
    import logging

    from webapp.observability import configure_logging

    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream=io.StringIO())
    try:
        caplog.set_level(logging.INFO)
        with smtplib.SMTP(listener.hostname, listener.port) as smtp:
            smtp.sendmail("alice@outside.test", ["rita@mail.demo.test"], raw_mail(subject="Logged"))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert not [line for line in lines if line[0] == "mail.log"]
    assert [line for line in lines if line[1].startswith("stored message ")]
    assert logging.getLogger("mail.log").isEnabledFor(logging.WARNING)


def test_a_recipient_check_ends_its_read_without_a_rollback(app, make, redis):
    """psycopg forgets what it prepared on a connection that rolls back an open transaction:
    a check ended that way (the session removed with its read open) had the batches' INSERT,
    on the same pooled connections, planned anew every time."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("prepared statements: PostgreSQL")
    from psycopg.pq import TransactionStatus
    from sqlalchemy import event

    from webapp.receiving.smtpd import InboundHandler

    make.user("Rita Recruiter")
    db.session.commit()
    open_when_rolled_back = []

    def rolled_back(conn):
        status = conn.connection.dbapi_connection.info.transaction_status
        open_when_rolled_back.append(status == TransactionStatus.INTRANS)

    handler = InboundHandler(app)
    event.listen(db.engine, "rollback", rolled_back)
    try:
        assert handler._accepts("rita@mail.demo.test")
        assert not handler._accepts("nobody@mail.demo.test")
    finally:
        event.remove(db.engine, "rollback", rolled_back)
        handler.close()
    assert not any(open_when_rolled_back)
