"""The direct writer (wire.py) gives the same message as the stdlib builder, or defers to it."""

import itertools
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.policy import SMTP

import pytest

from webapp.mail.outbound.build import Draft, OutgoingFile, build
from webapp.mail.outbound.wire import to_bytes

DATE = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
NAMES = [
    "Rita Recruiter",
    'Rita "R" Recruiter',
    "O'Brien, Siobhán",
    "Dr. Rita Q. Recruiter",
    "",
    "Léa Martin-Müller",
    "张伟",
    "a\\b",
]
SUBJECTS = [
    "Interview",
    "Entretien — équipe produit",
    "Re: " + "long subject words " * 12,
    "x" * 200,
    "Mix of ASCII and 日本語 and more ASCII words " * 3,
    "=?utf-8?q?not=20a=20word?=",
]
BODIES = [
    "Hello Alice,\n\nSee you on Tuesday.\n",
    "Bonjour Léa,\r\nà mardi.",
    "",
    "line\n.\nafter a dot",
    "one long paragraph typed without line breaks " * 10,
    "trailing spaces   \nand\ttabs\t\n",
    "=== equals = signs ===",
    "naïve café " * 20,
]
FILES = [
    [],
    [OutgoingFile("Backend-Engineer.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40)],
    [
        OutgoingFile("notes.txt", "text/plain", b"plain\nnotes\n"),
        OutgoingFile("photo (1).png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 500),
    ],
]


def drafts():
    for name, subject, body, files in itertools.product(NAMES, SUBJECTS, BODIES, FILES):
        yield Draft(
            from_name=name,
            from_address="rita@mail.demo.test",
            to=[("", "alice@outside.test")],
            cc=[("", "colleague@partner.test"), ("", "boss@partner.test")],
            subject=subject,
            text=body,
            reply_to="reply+12.abcdef@mail.demo.test",
            in_reply_to="<prev.1@outside.test>",
            references=" ".join(f"<ref.{i}.{'x' * 30}@outside.test>" for i in range(8)),
            attachments=files,
        )


HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Bcc",
)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def summary(raw: bytes) -> dict:
    """What a mail client shows: decoded headers, the text, the attachments."""
    msg = parsed(raw)
    return {
        "headers": {k: str(msg[k]) for k in HEADERS},
        # Line ends are the transfer's business (quoted-printable keeps CRLF, base64 LF).
        "text": msg.get_body(("plain",)).get_content().replace("\r\n", "\n"),
        "files": [(p.get_filename(), p.get_content_type(), p.get_content()) for p in msg.iter_attachments()],
        "defects": [type(d).__name__ for part in msg.walk() for d in part.defects],
    }


def test_same_message_as_the_stdlib_for_every_combination():
    written = 0
    for draft in drafts():
        fast = to_bytes(draft, "<id.1@mail.demo.test>", DATE)
        if fast is None:
            continue
        written += 1
        slow = build(draft, "<id.1@mail.demo.test>", DATE).as_bytes(policy=SMTP)
        assert summary(fast) == summary(slow), draft
        lines = fast.split(b"\r\n")
        assert all(b"\r" not in line and b"\n" not in line for line in lines)  # CRLF only, no bare ends
        assert max(len(line) for line in lines) <= 998
        header = fast.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are pure ASCII
        # Folded to 78 wherever there is a space to fold at (a 200-letter word cannot be).
        assert all(
            len(line) <= 78 or " " not in line.strip().split(" ", 1)[-1] for line in header.split("\r\n")
        )
    # The common case must take the direct path (else it would silently cost the stdlib's time).
    # Only text that looks like an encoded word goes to the stdlib (whose header_text defuses it).
    assert written == sum(1 for d in drafts() if "=?" not in d.subject)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Hi\r\nBcc: spy@evil.test"},
        {"from_name": "Rita\r\nBcc: spy@evil.test"},
        {"to": [("", "alice@outside.test\r\nBcc: spy@evil.test")]},
        {"to": [("", "ünï@outside.test")]},  # internationalised: the stdlib's job
        {"references": "<a@b.test>\r\nBcc: spy@evil.test"},
        {"in_reply_to": "<a@b.test> <c@d.test>"},
        {"attachments": [OutgoingFile('evil"\r\nX-Injected: 1.pdf', "application/pdf", b"x")]},
        {"attachments": [OutgoingFile("cv.pdf", "application/pdf\r\nX-Injected: 1", b"x")]},
        {"attachments": [OutgoingFile("Lebenslauf Müller.pdf", "application/pdf", b"x")]},
        {"html": "<p>hi</p>"},
        {"subject": "=?utf-8?q?Hi=0D=0ABcc:_spy@evil.test?="},
        {"from_name": "=?utf-8?q?Rita=0D=0A?="},
        {"to": [("Alice", "alice@outside.test")]},
    ],
)
def test_anything_unusual_is_left_to_the_stdlib(change):
    base = dict(
        from_name="Rita",
        from_address="rita@mail.demo.test",
        to=[("", "alice@outside.test")],
        subject="Hello",
        text="Body",
    )
    assert to_bytes(Draft(**base), "<id@x.test>", DATE) is not None
    assert to_bytes(Draft(**(base | change)), "<id@x.test>", DATE) is None
