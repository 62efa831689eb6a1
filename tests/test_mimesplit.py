"""mimesplit builds the tree the stdlib's feed parser builds, or leaves the message to it."""

import io
import random
import re
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.corpus import corpus_files
from tests.mailmaker import raw_mail
from webapp.mail.inbound import parse as parse_module
from webapp.mail.inbound.mimesplit import split_parse
from webapp.mail.inbound.parse import _policy, parse_file

DATA = Path(__file__).resolve().parent / "data"


def tree(msg) -> tuple:
    """Everything the feed parser decides about a message: headers, payloads, the lot."""
    payload = msg._payload
    return (
        type(msg).__name__,
        msg._headers,
        msg._unixfrom,
        msg._default_type,
        msg.preamble,
        msg.epilogue,
        [(type(d).__name__, str(d)) for d in msg.defects],
        [tree(p) for p in payload] if isinstance(payload, list) else payload,
    )


def fed(raw: bytes):
    parser = BytesFeedParser(policy=_policy())
    parser.feed(raw)
    return parser.close()


def all_mail() -> list[bytes]:
    files = list(corpus_files().values()) + sorted(DATA.rglob("*.eml"))
    return [path.read_bytes() for path in dict.fromkeys(files)]


def client_mail() -> list[bytes]:
    """Mail as clients build it: alternatives, attachments, related images, nesting, LF or CRLF."""
    plain = EmailMessage()
    plain.set_content("Hello\n\n-- \nAlice\n")
    alternative = EmailMessage()
    alternative.set_content("Hello")
    alternative.add_alternative("<p>Hello</p>", subtype="html")
    mixed = EmailMessage()
    mixed.set_content("My CV, attached.\n")
    mixed.add_alternative("<p>My CV, attached.</p>", subtype="html")
    mixed.add_attachment(bytes(range(256)) * 300, maintype="application", subtype="pdf", filename="cv.pdf")
    mixed.add_attachment("name,role\nAlice,dev\n", subtype="csv", filename="roles.csv")
    related = EmailMessage()
    related.set_content("See the logo")
    related.add_alternative('<p><img src="cid:logo"></p>', subtype="html")
    related.get_payload()[1].add_related(b"\x89PNG" * 500, "image", "png", cid="<logo>")
    related.add_attachment(b"%PDF-1.4 " * 2000, maintype="application", subtype="pdf", filename="a.pdf")
    shapes = [plain, alternative, mixed, related]
    for msg in shapes:
        msg["From"], msg["To"], msg["Subject"] = "Alice <alice@outside.test>", "rita@mail.demo.test", "Hi"
    raw = [m.as_bytes() for m in shapes]
    crlf = [re.sub(rb"\r?\n", b"\r\n", r) for r in raw]
    with_preamble = [
        r.replace(b"\n\n--", b"\n\nThis is a multi-part message in MIME format.\n\n--", 1) + b"\nepilogue\n"
        for r in raw[1:]
    ]
    return raw + crlf + with_preamble + [raw_mail(attachment=("cv.pdf", b"%PDF-1.4 x"))]


def test_mail_as_clients_send_it_is_split_into_the_feed_parsers_tree():
    for raw in client_mail():
        split = split_parse(raw, _policy())
        assert split is not None, raw[:200]
        assert tree(split) == tree(fed(raw))


def test_every_corpus_message_split_is_the_feed_parsers_tree():
    mail = all_mail()
    split = [(raw, msg) for raw in mail if (msg := split_parse(raw, _policy())) is not None]
    assert len(split) > len(mail) // 3  # the common shapes are taken (reports, with message/* parts, are not)
    for raw, msg in split:
        assert tree(msg) == tree(fed(raw))


@pytest.mark.parametrize(
    "irregular",
    [
        b"Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n",  # no close
        b"Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter at all\r\n",
        b"Subject: a\r\nContent-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",  # no boundary
        b"Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--\r\n",
        b"Subject: a\rFrom: b\r\n\r\nlone CR\r\n",
        b"Subject: a\r\nnot a header\r\n\r\nbody\r\n",  # no blank line after the headers
        b"Subject: a\r\nFrom x@y Mon Jan 1\r\n\r\nbody\r\n",  # an envelope From among the headers
        b"Subject: a\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx\r\n",
        b"Content-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nSubject: x\r\n\r\ny\r\n--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"--b\r\n\r\nx\r\n--b--\r\n",
    ],
)
def test_what_the_feed_parser_repairs_or_reads_its_own_way_is_left_to_it(irregular):
    assert split_parse(irregular, _policy()) is None
    parsed, _head = parse_file(io.BytesIO(irregular))
    assert tree(parsed.email) == tree(fed(irregular))


def test_boundary_lines_are_read_as_the_feed_parser_reads_them():
    """Blanks after a delimiter, a look-alike that runs on, a close at the very end, the line
    break before each delimiter (it belongs to the delimiter), an empty epilogue."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"preamble\n"
        b"--b \t\n\nfirst\n--bb\nstill first\n\n"
        b"--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\n\ninner\n--c--\n\n"
        b"--b--"
    )
    split = split_parse(raw, _policy())
    assert split is not None
    assert tree(split) == tree(fed(raw))
    first, nested = split.get_payload()
    assert first.get_payload() == "first\n--bb\nstill first\n"
    assert nested.epilogue == ""


def test_mutated_mail_split_or_left_is_always_the_feed_parsers_tree():
    """Mail cut, doubled and spliced near its delimiters (a seeded fuzz): whatever is split
    is exactly what the feed parser builds."""
    rng = random.Random(10)
    sources = [raw for raw in all_mail() + client_mail() if b"\n--" in raw and len(raw) < 100_000]
    pieces = [
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b"--",
        b"\n\n",
        b"From x\n",
        b":",
        b"--\r\n",
        b"X-A: b\r\n",
        b"\xff",
    ]
    taken = 0
    for _ in range(400):
        raw = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            near = [m.start() for m in re.finditer(rb"\n--", bytes(raw))] or [0]
            at = min(len(raw) - 1, max(0, rng.choice(near) + rng.randint(-3, 30)))
            line = raw.rfind(b"\n", 0, at) + 1, (raw.find(b"\n", at) + 1) or len(raw)
            action = rng.randrange(4)
            if action == 0:
                raw[at:at] = rng.choice(pieces)
            elif action == 1:
                del raw[at : at + rng.randint(1, 20)]
            elif action == 2:
                raw[line[0] : line[0]] = raw[line[0] : line[1]]
            else:
                del raw[line[0] : line[1]]
        split = split_parse(bytes(raw), _policy())
        if split is not None:
            taken += 1
            assert tree(split) == tree(fed(bytes(raw)))
    assert taken > 50


def test_a_message_over_the_whole_size_is_fed_in_chunks(monkeypatch):
    monkeypatch.setattr(parse_module, "WHOLE_BYTES", 1000)
    raw = client_mail()[2]  # a CV attached: bigger than 1,000 bytes
    called = []
    monkeypatch.setattr(parse_module, "split_parse", lambda *a: called.append(1))
    parsed, head = parse_file(io.BytesIO(raw), head_bytes=100)
    assert not called
    assert head == raw[:100]
    assert tree(parsed.email) == tree(fed(raw))
    assert [a.filename for a in parsed.attachments] == ["cv.pdf", "roles.csv"]
