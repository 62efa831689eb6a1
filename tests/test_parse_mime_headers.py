"""Headers read as text (parse._HeaderText) give what the stdlib's header objects give.

Content-Type, Content-Disposition and Content-Transfer-Encoding are read from their text, not
parsed into header objects (a sixth of parsing a message: 0.70 -> 0.59 ms on the corpus), and
so are a plain Subject and Date. Every part of every corpus message, and the awkward values
below, must read the same both ways: type, parameters, filename, charset, boundary,
disposition, encoding, and what classification stores (subject and date included).
"""

import pytest

from tests.corpus import corpus_files
from webapp.mail.inbound import parse

AWKWARD = [
    b'Content-Type: text/plain; charset="us-ascii" (plain text)\n',
    b"Content-Type: TEXT/HTML;\n\tcharset=UTF-8;\n format=flowed\n",
    b'Content-Type: application/pdf; name="CV \\"final\\".pdf"\n'
    b'Content-Disposition: attachment; filename="CV \\"final\\".pdf"\n',
    b"Content-Type: application/pdf; name*=utf-8''Lebenslauf%20M%C3%BCller.pdf\n"
    b'Content-Disposition: attachment; filename*0="Lebens"; filename*1="lauf.pdf"\n',
    b'Content-Type: application/octet-stream; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="\n'
    b"Content-Disposition: attachment; filename==?utf-8?b?csOpc3Vtw6kucGRm?=\n",
    b"Content-Type: text\n",  # no subtype: text/plain
    b"Content-Type: ;charset=utf-8\n",
    b"Content-Type: text/plain; charset=\n",
    b"Content-Disposition: INLINE\nContent-Transfer-Encoding: Base64\n",
    b"Content-Transfer-Encoding: quoted-printable (for the long lines)\n",
]


def _message(headers: bytes) -> bytes:
    return (
        b"From: Ada <ada@example.com>\nTo: jobs@example.com\nSubject: CV\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nHello\n'
        b"--b1\n" + headers + b"\naGVsbG8=\n--b1--\n"
    )


def _reading(raw: bytes):
    """What is read of each part, and what classification keeps of the message."""
    parsed = parse.parse(raw)
    parts = [
        (
            part.get_content_type(),
            part.get_params(),
            part.get_filename(),
            part.get_content_disposition(),
            part.get_content_charset(),
            str(part.get("content-transfer-encoding")).lower(),
            part.is_multipart(),
            part.get_boundary(),
        )
        for part in (parsed.email.walk() if parsed.email is not None else ())
    ]
    attachments = [(a.filename, a.content_type, a.data, a.is_inline) for a in parsed.attachments]
    return parts, attachments, parsed.text, parsed.html, parsed.defects, parsed.subject, parsed.date


def _as_objects(monkeypatch):
    """Every header parsed into its object, as before."""
    monkeypatch.setattr(parse, "_READ_AS_TEXT", {})


SUBJECTS_AND_DATES = [
    (b'Re: Backend (2nd round) "final" \\ [ext]  a\tb ', b"Mon, 7 Dec 2026 10:15:00 +0100"),
    (b"  leading and trailing  ", b"7 Dec 2026 10:15:00 -0000"),  # no weekday, no known zone
    (b"Folded\r\n subject\r\n\tover lines", b"Mon, 07 Dec 26 10:15 EST"),  # two-digit year, zone name
    (b"=?utf-8?q?Candidature_=E2=80=93_D=C3=A9veloppeur?=", b"Mon, 7 Dec 2026 10:15:00 +0000 (UTC)"),
    (b"Bewerbung f\xc3\xbcr die Stelle", b"Tue, 31 Feb 2026 10:15:00 +0000"),  # raw 8-bit; no such day
    (b"", b"not a date at all"),
    (b"=?iso-8859-1?q?caf=E9?= and more", b"Mon,7 Dec 2026 10:15:00 GMT"),
    (b"ctrl \x01 char", b"Sun, 06 Dec 2026 23:59:60 +1400"),
]


@pytest.mark.parametrize(("subject", "date"), SUBJECTS_AND_DATES)
def test_subjects_and_dates_read_the_same_as_text_and_as_objects(subject, date, monkeypatch):
    raw = b"From: Ada <ada@example.com>\r\nTo: jobs@example.com\r\nSubject: " + subject
    raw += b"\r\nDate: " + date + b"\r\nMessage-ID: <1@example.com>\r\n\r\nHello\r\n"
    as_text = _reading(raw)
    _as_objects(monkeypatch)
    assert as_text == _reading(raw)


@pytest.mark.parametrize("headers", AWKWARD)
def test_awkward_mime_headers_read_the_same_as_text_and_as_objects(headers, monkeypatch):
    raw = _message(headers)
    as_text = _reading(raw)
    _as_objects(monkeypatch)
    assert as_text == _reading(raw)


def test_every_corpus_message_reads_the_same_as_text_and_as_objects(monkeypatch):
    raws = {name: path.read_bytes() for name, path in corpus_files().items()}
    assert len(raws) > 10  # ours alone are 18; the shared corpus, when there, adds its own
    as_text = {name: _reading(raw) for name, raw in raws.items()}
    _as_objects(monkeypatch)
    differ = [name for name, raw in raws.items() if _reading(raw) != as_text[name]]
    assert not differ


def test_a_header_read_as_text_still_answers_as_a_header_object():
    raw = _message(b'Content-Type: application/pdf; name="cv.pdf"\n')
    part = list(parse.parse(raw).email.walk())[-1]
    header = part["content-type"]
    assert isinstance(header, parse._HeaderText)
    assert header.content_type == "application/pdf"
    assert header.params["name"] == "cv.pdf"
    assert header.defects == ()


def test_a_plain_subject_and_date_are_read_as_text_and_still_answer_as_header_objects():
    raw = b"Subject: Backend role\r\nDate: Mon, 7 Dec 2026 10:15:00 +0100\r\n\r\nHi\r\n"
    msg = parse.parse(raw).email
    subject, date = msg["subject"], msg["date"]
    assert isinstance(subject, parse._HeaderText)
    assert isinstance(date, parse._HeaderText)
    assert str(subject) == "Backend role"
    assert subject.defects == ()
    assert date.datetime.isoformat() == "2026-12-07T10:15:00+01:00"
