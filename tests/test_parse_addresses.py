"""Plain address headers are read without the policy's parser, with the very same result."""

import pytest

from webapp.mail.inbound import parse

VALUES = [
    "Alice Able <alice@x.test>",
    "alice@x.test",
    "<alice@x.test>",
    "a@x, b@y",
    "a@x,b@y ",
    "Alice  Able <a@x>",
    '"Able, Alice" <a@x>',
    "Al.ice <a@x>",
    "a..b@x",
    "Dr. No <no@x>",
    "=?utf-8?q?Al=C3=AFce?= <a@x>",
    "a@x (Alice)",
    "undisclosed-recipients:;",
    "Alice <a@x",
    "a@",
    "@x",
    "Alice Able a@x",
    "a@x,\r\n b@y",
    "a@x,\r\n\tb@y",
    "O'Brien <o'b@x.test>",
    "a+b@x.test",
    "Bob <b@y>, Carol <c@z>",
    "x",
    "",
    " a@x",
    "a@x.",
    "a@.x",
    "a.@x",
    "<a@x> Alice",
    "Alice <a@x> <b@y>",
    "a@b@c",
    "A B C <a@b.c>, d@e.f, <g@h.i>",
    "Ünï <u@x>",
    "a@x,",
    ", a@x",
    "a@x,, b@y",
    "#%/ <a{b}@x>",
    "a=?b@x",
    "RITA@Mail.Demo.Test",
]


def fields(raw: bytes) -> tuple:
    parsed = parse.parse(raw)
    return parsed.from_name, parsed.from_address, parsed.to, parsed.cc


@pytest.mark.parametrize("value", VALUES)
def test_address_headers_read_as_the_policy_reads_them(value, monkeypatch):
    raw = f"From: {value}\r\nTo: {value}\r\nCc: {value}, z@z.test\r\nSubject: t\r\n\r\nbody\r\n".encode()
    fast = fields(raw)
    monkeypatch.setattr(parse, "plain_mailboxes", lambda msg, name: None)  # always the policy
    assert fast == fields(raw)


def test_only_plain_values_skip_the_policy():
    plain = parse.parse(b"To: Alice Able <alice@x.test>, bob@y.test\r\n\r\n").email
    assert parse.plain_mailboxes(plain, "To") == ["Alice Able <alice@x.test>, bob@y.test"]
    for value in ('"Able, Alice" <a@x>', "=?utf-8?q?A?= <a@x>", "a@x (Alice)", "team: a@x;", "Ünï <u@x>"):
        msg = parse.parse(f"To: {value}\r\n\r\n".encode()).email
        assert parse.plain_mailboxes(msg, "To") is None, value
