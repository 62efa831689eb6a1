"""Internationalised addresses: IDN domains go out as A-labels, look-alike (mixed-script) domains are
refused with a clear message, and a non-ASCII local part travels with SMTPUTF8 when the server
offers it (and fails with a clear reason when it does not)."""

from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.sinks import SinkHandler, SmtpSink, free_port
from tests.test_compose import PANE, messages
from tests.test_outbound import create, drain_once, load
from webapp.mail.idn import looks_alike, unicode_domain
from webapp.mail.outbound.compose import parse_addresses


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"}, users={"Rita Recruiter": ["job"]}, candidates={"Alice Able": ["job"]}
    )


def send_form(client, auth, to):
    token = auth.csrf_token("/mail/inbox")
    form = {"csrf_token": token, "preset": "now", "to": to, "subject": "Hello", "body": "Hi"}
    return client.post("/compose", data=form, headers=PANE, content_type="multipart/form-data")


def test_compose_writes_idn_domains_as_a_labels():
    assert parse_addresses("user@exämple.com, Jürgen@Bücher.de") == (
        ["user@xn--exmple-cua.com", "jürgen@xn--bcher-kva.de"],
        [],
    )
    assert unicode_domain("xn--exmple-cua.com") == "exämple.com"


@pytest.mark.parametrize(
    ("domain", "refused"),
    [
        ("exämple.com", False),
        ("bücher.de", False),
        ("пример.рф", False),  # Cyrillic throughout
        ("例え.jp", False),  # Japanese beside a Latin top-level domain
        ("ドメイン名例.jp", False),
        ("xn--exmple-cua.com", False),
        ("pаypal.com", True),  # a Cyrillic "а" among Latin letters
        ("аррӏе.com", True),  # a Latin name written in Cyrillic, under .com
        ("gοοgle.com", True),  # Greek omicrons
        ("xn--pypal-4ve.com", True),  # the same look-alike, written as A-labels
    ],
)
def test_look_alike_domains(domain, refused):
    assert looks_alike(domain) is refused


def test_an_idn_address_is_sent_to_its_a_label_domain(app, client, auth, team, smtp):
    # (Not the `redis` fixture: it keeps an app context pushed, which would share `g` between requests.)
    auth.login(team.rita.email)
    assert send_form(client, auth, "user@exämple.com").status_code == 200
    assert messages(app)[-1].to_addresses == ["user@xn--exmple-cua.com"]
    assert drain_once(app) == 1
    [got] = smtp.messages
    assert got.rcpt_tos == ["user@xn--exmple-cua.com"]
    assert message_from_bytes(got.data, policy=policy.default)["To"] == "user@xn--exmple-cua.com"


def test_a_look_alike_domain_is_refused_with_a_clear_message(app, client, auth, team):
    auth.login(team.rita.email)
    response = send_form(client, auth, "billing@pаypal.com")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "mixes alphabets in its domain name (pаypal.com)" in html
    assert messages(app) == []


class Utf8NotingHandler(SinkHandler):
    """Keeps, beside each message, whether its MAIL command asked for SMTPUTF8."""

    asked_smtputf8: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        self.asked_smtputf8.append(envelope.smtp_utf8)
        return await super().handle_DATA(server, session, envelope)


def sink(app, offers_smtputf8: bool):
    made = SmtpSink()
    made.handler = Utf8NotingHandler()
    made.handler.asked_smtputf8 = []
    made.controller = Controller(
        made.handler,
        hostname="127.0.0.1",
        port=free_port(),
        decode_data=False,
        enable_SMTPUTF8=offers_smtputf8,
    )
    made.start()
    app.config["SMTP_URL"] = made.url
    return made


@pytest.fixture
def utf8_smtp(app):
    """An SMTP server that offers SMTPUTF8, and the app sending through it."""
    made = sink(app, offers_smtputf8=True)
    yield made
    app.config["SMTP_URL"] = None
    made.stop()


@pytest.fixture
def ascii_smtp(app):
    """An SMTP server that does not offer SMTPUTF8."""
    made = sink(app, offers_smtputf8=False)
    yield made
    app.config["SMTP_URL"] = None
    made.stop()


def test_a_non_ascii_local_part_travels_with_smtputf8(app, team, utf8_smtp, redis):
    msg = create(app, team.rita, to=["jürgen@xn--bcher-kva.de"])
    assert drain_once(app) == 1
    assert load(app, msg.id).status == "sent"
    [got] = utf8_smtp.messages
    assert got.rcpt_tos == ["jürgen@xn--bcher-kva.de"]
    assert utf8_smtp.handler.asked_smtputf8 == [True]
    assert message_from_bytes(got.data, policy=policy.default)["To"] == "jürgen@xn--bcher-kva.de"


def test_an_ascii_address_never_asks_for_smtputf8(app, team, utf8_smtp, redis):
    create(app, team.rita, to=["user@xn--exmple-cua.com"])
    create(app, team.rita, to=["jürgen@xn--bcher-kva.de"])
    create(app, team.rita, to=["alice@outside.test"])  # after a UTF-8 one, on the same connection
    drain_once(app)
    assert utf8_smtp.handler.asked_smtputf8 == [False, True, False]


def test_without_smtputf8_the_send_fails_with_a_clear_reason(app, team, ascii_smtp, redis):
    msg = create(app, team.rita, to=["jürgen@xn--bcher-kva.de"])
    ok = create(app, team.rita, to=["user@xn--exmple-cua.com"])
    drain_once(app)
    failed = load(app, msg.id)
    assert failed.status == "failed"
    assert "needs SMTPUTF8, which our mail server does not offer" in failed.error
    assert load(app, ok.id).status == "sent"  # an A-label domain needs nothing
    assert [m.rcpt_tos for m in ascii_smtp.messages] == [["user@xn--exmple-cua.com"]]
