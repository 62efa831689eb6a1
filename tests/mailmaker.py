"""Build realistic raw messages for inbound tests (stdlib email, policy.default)."""

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from webapp.models.types import utcnow


def raw_mail(
    frm: str = "Alice Able <alice@outside.test>",
    to: str = "rita@mail.demo.test",
    subject: str = "Hello",
    body: str = "Hello there",
    *,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict | None = None,
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(domain="outside.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
    return msg.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire


def dsn(
    original_message_id: str,
    recipient: str,
    *,
    to: str = "rita@mail.demo.test",
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 The email account does not exist",
) -> bytes:
    """A multipart/report delivery-status notification, as Postfix or Gmail send them."""
    report = (
        f"Reporting-MTA: dns; mx.outside.test\n\nFinal-Recipient: rfc822; {recipient}\n"
        f"Action: {action}\nStatus: {status}\nDiagnostic-Code: smtp; {diagnostic}\n"
    )
    raw = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.outside.test>\r\nTo: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        f"Message-ID: {make_msgid(domain='mx.outside.test')}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n\r\n'
        "--BOUND\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--BOUND\r\nContent-Type: message/delivery-status\r\n\r\n{report}\r\n"
        "--BOUND\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: rita@mail.demo.test\r\nTo: {recipient}\r\nMessage-ID: {original_message_id}\r\nSubject: "
        f"Hi\r\n\r\n"
        "--BOUND--\r\n"
    )
    return raw.encode()
