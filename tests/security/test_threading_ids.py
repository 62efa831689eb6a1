"""Replying to a message whose Message-ID or References decode to a line break: identifiers are kept
raw (never decoded) and only well-formed ones go into threading headers, so the reply leaves."""

from email import message_from_bytes, policy

import pytest

from tests.test_inbound import receive, row
from tests.test_outbound import create, drain_once, load
from webapp.extensions import db
from webapp.mail.msgids import threading_headers, valid_ids
from webapp.models import Message

ENCODED_ID = "=?utf-8?q?<x=0D=0ABcc:_evil@attacker.test>?="
ENCODED_REF = "=?utf-8?q?<y=0A@z.test>?="


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"}, users={"Rita Recruiter": ["job"]}, candidates={"Alice Able": ["job"]}
    )


def hostile(message_id: str, references: str) -> bytes:
    return (
        "From: Alice Able <alice@outside.test>\r\n"
        "To: rita@mail.demo.test\r\n"
        "Subject: Application\r\n"
        f"Message-ID: {message_id}\r\n"
        f"References: <ok-1@outside.test>\r\n {references} <ok-2@outside.test>\r\n"
        "Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n"
        "\r\n"
        "Hello\r\n"
    ).encode()


def test_identifiers_are_stored_as_received(app, team):
    stored = row(app, receive(app, hostile(ENCODED_ID, ENCODED_REF), envelope_to=["rita@mail.demo.test"]))
    assert stored.message_id == ENCODED_ID
    assert stored.references == f"<ok-1@outside.test> {ENCODED_REF} <ok-2@outside.test>"
    assert "\r" not in stored.message_id
    assert "\n" not in stored.message_id


def test_a_reply_to_it_leaves_with_only_the_valid_ids(app, team, smtp, redis):
    received = receive(app, hostile(ENCODED_ID, ENCODED_REF), envelope_to=["rita@mail.demo.test"])
    original = row(app, received)
    reply = create(
        app, team.rita, subject="Re: Application", thread_id=original.thread_id, in_reply_to=original
    )
    assert drain_once(app) == 1
    assert load(app, reply.id).status == "sent"
    [got] = smtp.messages
    email = message_from_bytes(got.data, policy=policy.default)
    assert email["Bcc"] is None
    assert got.rcpt_tos == ["alice@outside.test"]
    assert email["In-Reply-To"] is None  # the original's id is not a valid one
    assert email["References"] == "<ok-1@outside.test> <ok-2@outside.test>"


@pytest.mark.parametrize(
    "decoded",
    ["<x\r\nBcc: evil@attacker.test>", "<a@b> Bcc: evil@attacker.test", "<x\x0b@y>", "<xé@y>", "<x @y>"],
)
def test_a_row_stored_decoded_before_still_sends(app, team, make, smtp, redis, decoded):
    """Rows from before identifiers were kept raw: their invalid ids are left out at send time."""
    thread = make.thread("Application", candidate=team.alice)
    original = make.message(thread, candidate=team.alice, message_id="<orig@outside.test>")
    reply = create(
        app, team.rita, subject="Re: Application", thread_id=thread.id, in_reply_to=load(app, original.id)
    )
    with app.app_context():
        db.session.get(Message, reply.id).in_reply_to = decoded
        db.session.get(Message, reply.id).references = f"<ok@outside.test> {decoded}"
        db.session.commit()
    assert drain_once(app) == 1
    [got] = smtp.messages
    email = message_from_bytes(got.data, policy=policy.default)
    assert email["Bcc"] is None
    assert email["References"] == " ".join(["<ok@outside.test>", *valid_ids(decoded)])
    assert valid_ids(decoded) in ([], ["<a@b>"])


def test_threading_headers():
    assert threading_headers("<a@b>", "<r1@x> <r2@x>") == ("<a@b>", "<r1@x> <r2@x> <a@b>")
    assert threading_headers(ENCODED_ID, "<r1@x>") == (None, "<r1@x>")
    assert threading_headers(None, None) == (None, None)
    assert threading_headers("<a@b> (comment)", None) == ("<a@b>", "<a@b>")
    many = " ".join(f"<ref-{i:04}@example.test>" for i in range(400))
    _, references = threading_headers("<a@b>", many)
    assert len(references) <= 4000
    assert references.endswith("<ref-0399@example.test> <a@b>")
    assert valid_ids("<a b> <ok@x> <é@x> <>") == ["<ok@x>"]
