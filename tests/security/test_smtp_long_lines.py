"""SMTP lines over RFC 5321's 1000 bytes are accepted, as real MTAs do, up to the size limit: refusing
them (500) made senders bounce real mail (HTML on one line, base64 without breaks)."""

import smtplib

from tests.test_smtpd import listener, stored  # noqa: F401  (the listener fixture)


def long_line_mail(length: int) -> bytes:
    return (
        b"From: Alice Able <alice@outside.test>\r\n"
        b"To: rita@mail.demo.test\r\n"
        b"Subject: One long line\r\n"
        b"Message-ID: <long@outside.test>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"\r\n" + b"<p>" + b"x" * length + b"</p>\r\n"
    )


def test_a_line_over_1000_bytes_is_accepted(app, listener):  # noqa: F811
    raw = long_line_mail(5000)
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        assert smtp.sendmail("alice@outside.test", ["rita@mail.demo.test"], raw) == {}
    [msg] = stored(app)
    from webapp.services import blob_store

    with app.app_context():
        assert blob_store().get(msg.raw_sha256).replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")


def test_a_line_over_the_size_limit_is_still_refused(app, listener):  # noqa: F811
    raw = long_line_mail(25_000)  # the listener's limit is 20,000 bytes
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.helo()  # no ESMTP SIZE: the data limit itself must stop it
        smtp.mail("alice@outside.test")
        smtp.rcpt("rita@mail.demo.test")
        code, _text = smtp.data(raw)
    assert code in (500, 552)  # a permanent refusal: the line (and the message) is over the limit
    assert stored(app) == []


def test_a_long_command_line_is_still_refused(app, listener):  # noqa: F811
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        code, _text = smtp.docmd("MAIL FROM:<" + "a" * 3000 + "@outside.test>")
    assert code == 500
