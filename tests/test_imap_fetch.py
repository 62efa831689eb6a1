"""The FETCH reader: answers as servers write them (RFC 9051 7.5.2), read off the connection.

These answers are written by hand from the RFC's grammar and from what Dovecot, Gmail and
Exchange send; the sync tests read real answers from Dovecot.
"""

import imaplib
import io

import pytest

from webapp.mail.sync import imap


class Wire:
    """Just enough of an imaplib connection: what was sent, and a canned answer to read."""

    abort = imaplib.IMAP4.abort
    error = imaplib.IMAP4.error

    def __init__(self, answer: bytes):
        self.file = io.BufferedReader(io.BytesIO(answer))
        self.sent: list[bytes] = []
        self.tagged_commands: dict[bytes, object] = {}

    def _new_tag(self) -> bytes:
        self.tagged_commands[b"A7"] = None
        return b"A7"

    def send(self, data: bytes) -> None:
        self.sent.append(data)


def test_literals_uids_and_sizes_wherever_the_server_puts_them():
    wire = Wire(
        b"* 1 FETCH (UID 4 RFC822.SIZE 1200 BODY[HEADER.FIELDS (FROM)] {18}\r\nFrom: a@b.test\r\n\r\n)\r\n"
        b"* 3 EXISTS\r\n"
        b"* 2 FETCH (FLAGS (\\Seen) UID 5)\r\n"  # a flag change, no literal: not a message
        b"* 2 FETCH (BODY[HEADER.FIELDS (FROM)] {2}\r\n\r\n UID 5 RFC822.SIZE 99)\r\n"  # UID after it
        b"A7 OK Fetch completed (0.001 + 0.000 secs).\r\n"
        b"* 9 EXISTS\r\n"  # the next command's: left on the wire
    )
    got = imap.fetch(wire, [5, 4], "UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM)]")
    assert wire.sent == [b"A7 UID FETCH 4:5 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM)])\r\n"]
    assert [(f.uid, f.size, f.data) for f in got] == [(4, 1200, b"From: a@b.test\r\n\r\n"), (5, 99, b"\r\n")]
    assert wire.tagged_commands == {}
    assert wire.file.read() == b"* 9 EXISTS\r\n"


def test_a_literal_holding_what_looks_like_the_completion_is_data():
    body = b"A7 OK not the end\r\n* 3 FETCH {5}\r\n"
    wire = Wire(b"* 1 FETCH (UID 8 BODY[] {%d}\r\n%s)\r\nA7 OK done\r\n" % (len(body), body))
    [one] = imap.fetch(wire, [8], "UID BODY.PEEK[]")
    assert (one.uid, one.data, one.size) == (8, body, len(body))


def test_a_refused_fetch_is_a_server_error():
    wire = Wire(b"A7 NO [SERVERBUG] Internal error occurred.\r\n")
    with pytest.raises(imap.MailboxError) as failed:
        imap.fetch(wire, [1], "UID BODY.PEEK[]")
    assert failed.value.kind == imap.ErrorKind.SERVER
    assert "SERVERBUG" in failed.value.detail


@pytest.mark.parametrize(
    "answer",
    [
        b"* 1 FETCH (UID 8 BODY[] {50}\r\nonly part of it",  # the connection dropped mid-literal
        b"* 1 FETCH (UID 8 BODY[] {3}\r\nabc)\r\n",  # no completion: the connection closed
        b"* BYE Server shutting down.\r\n",
    ],
)
def test_a_connection_that_ends_early_is_an_abort(answer):
    with pytest.raises(imaplib.IMAP4.abort):
        imap.fetch(Wire(answer), [8], "UID BODY.PEEK[]")


def test_nothing_to_fetch_sends_nothing():
    wire = Wire(b"")
    assert imap.fetch(wire, [], "UID BODY.PEEK[]") == []
    assert wire.sent == []
