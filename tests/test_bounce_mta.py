"""Bounce recognition on reports modelled on what each kind of mail server sends, and on subjects
in every language we read, decoded whatever their charset; human mail is never a report.

The messages are in tests/data/mta/: bounce/ (one per server or gateway, from its documented
format) and human/ (mail from people that looks a little like a report).
"""

from email.header import Header
from pathlib import Path

import pytest

from webapp.mail.inbound.autoreply import auto_reply_reason
from webapp.mail.inbound.bounce import parse_bounce, plain_problem
from webapp.mail.inbound.parse import parse

DATA = Path(__file__).resolve().parent / "data" / "mta"

ALICE = "alice@candidate.test"


def _hard(status: str | None) -> list[tuple[str, str | None, str]]:
    return [(ALICE, status, "hard")]


# name: (is_delay, [(address, status, kind)], original Message-ID, words in the first diagnostic)
EXPECTED = {
    "exim.eml": (False, _hard("5.1.1"), "<exim-1@mail.demo.test>", "User unknown"),
    "exim-delay.eml": (True, [("alice@candidate.test", "4.2.2", "delay")], None, "over quota"),
    "postfix-lenient.eml": (
        False,
        [("alice@candidate.test", "5.1.1", "hard"), ("bob@candidate.test", "4.2.2", "soft")],
        "<postfix-2@mail.demo.test>",
        "Recipient address rejected: User unknown",
    ),
    "sendmail.eml": (False, _hard("5.1.1"), "<sendmail-3@mail.demo.test>", "User unknown"),
    "qmail.eml": (False, _hard("5.1.1"), "<qmail-4@mail.demo.test>", "No such user"),
    "office365.eml": (
        False,
        _hard("5.1.10"),
        "<o365-5@mail.demo.test>",
        "RecipientNotFound",
    ),
    "o365-delayed.eml": (True, [("alice@candidate.test", "4.4.7", "delay")], None, "delayed"),
    "exchange-de.eml": (False, _hard("5.1.1"), "<exde-6@mail.demo.test>", "Unbekannter"),
    "gmail.eml": (False, _hard("5.7.1"), "<gmail-7@mail.demo.test>", "unsolicited"),
    "gmail-fr.eml": (False, _hard("5.1.1"), None, "does not exist"),
    "yahoo.eml": (False, _hard(None), "<yahoo-8@mail.demo.test>", "mailbox not found"),
    "yahoo-full.eml": (False, _hard("5.2.2"), "<yahoo-9@mail.demo.test>", "quota"),
    "domino.eml": (
        False,
        _hard(None),
        "<domino-10@mail.demo.test>",
        "not listed in Domino Directory",
    ),
    "groupwise.eml": (False, _hard("5.1.1"), "<gw-11@mail.demo.test>", "User unknown"),
    "mdaemon.eml": (False, _hard("5.1.1"), "<md-12@mail.demo.test>", "User unknown"),
    "amavis-virus.eml": (False, _hard("5.7.0"), None, "INFECTED"),
    "scanmail-blocked.eml": (False, _hard("5.7.1"), "<scan-13@mail.demo.test>", "spam"),
    "null-return-path.eml": (False, _hard("5.1.1"), None, "user unknown"),
    "post-master-iso2022jp.eml": (False, _hard("5.1.1"), None, "配信できませんでした"),
    "shift-jis-raw.eml": (False, _hard("5.1.1"), None, "配信できませんでした"),
    "gb2312-raw.eml": (False, _hard("5.1.1"), None, "无法投递"),
    "koi8r-raw.eml": (False, _hard("5.1.1"), None, "не может быть доставлено"),
    "nested-gateway.eml": (False, _hard("5.1.1"), "<nested-14@mail.demo.test>", "no such"),
    "boundary-mismatch.eml": (
        False,
        _hard("5.1.1"),
        "<broken-15@mail.demo.test>",
        "user unknown",
    ),
    "auto-generated-failure.eml": (False, _hard("5.1.1"), None, "unavailable"),
    "body-fallback.eml": (False, _hard("5.7.1"), "<fallback-16@mail.demo.test>", "spam"),
    # A mailbox's filter refusing the message (RFC 5429's reject, an MDN: Dovecot, Cyrus).
    "sieve-reject.eml": (False, _hard(None), "<sieve-17@mail.demo.test>", "automatically rejected"),
    # A gateway that attached the whole report to add its disclaimer.
    "gateway-wrapped-dsn.eml": (False, _hard("5.1.1"), "<wrapped-18@mail.demo.test>", "failed"),
    # Exchange's summary ("To:", "Subject:" lines before the recipients), from a quoted local part.
    "exchange-summary.eml": (False, _hard("5.1.1"), None, "does not exist"),
    # Exchange 5.5/2000, naming the recipient in its X.400 form only ("dda:SMTP=...").
    "exchange-x400.eml": (False, _hard(None), None, "did not reach"),
    # An antivirus gateway's delay notice: no daemon name, no code, no copy of the message.
    "antivirus-delay.eml": (True, [(ALICE, None, "delay")], None, "could not be delivered"),
    # A mail service's notice with Precedence: bulk (no list) and a bracketed SMTP code.
    "smtp-service-bulk.eml": (False, _hard(None), "<svc-19@mail.demo.test>", "mailbox unavailable"),
    # A postmaster whose From no parser reads, warning of a delay.
    "postmaster-postponed.eml": (True, [(ALICE, None, "delay")], None, "postponed"),
    "mail-failed-returning.eml": (False, _hard(None), "<air-20@mail.demo.test>", "unknown host"),
    # Apache James: its boundary folded onto an unindented line; a transcript naming MAIL FROM too.
    "apache-james.eml": (False, _hard(None), "<james-22@mail.demo.test>", "no such user"),
    # An empty From, Auto-Submitted: auto-replied, one sentence (a report, before an auto-reply).
    "empty-from-not-valid-user.eml": (False, _hard(None), "<nvu-23@mail.demo.test>", "not a valid user"),
    # A summary of the message ("Subject:", "Date:" lines) before the recipients and the reason.
    "gateway-summary-errors.eml": (False, _hard("5.4.6"), None, "hop count exceeded"),
    # Sendmail 5 giving up on a whole domain, no address in its words: the unsent message's To.
    "sendmail-v5-domain.eml": (False, _hard(None), "<v5-25@mail.demo.test>", "connection timed out"),
}
# Reporting MTAs a report names (Reporting-MTA, the notice's own words, else From's domain).
REPORTING = {
    "postfix-lenient.eml": "mx.postfix.example",
    "office365.eml": "AM0PR01MB1234.eurprd01.prod.exchangelabs.com",
    "qmail.eml": "mx.qmail.example",
    "yahoo.eml": "yahoo.com",
    "nested-gateway.eml": "mx.inner.example",
    "gateway-wrapped-dsn.eml": "mx1.wrap.example",
    "postmaster-postponed.eml": "mx.relay.example",
    "empty-from-not-valid-user.eml": "mx.olympic.example",
    "gateway-summary-errors.eml": "x6-mx6.smtp.example",
}


def _files(kind: str):
    return [pytest.param(p, id=p.name) for p in sorted((DATA / kind).glob("*.eml"))]


def test_every_sample_has_an_expectation():
    assert {p.name for p in (DATA / "bounce").glob("*.eml")} == set(EXPECTED)


@pytest.mark.parametrize("path", _files("bounce"))
def test_server_report_is_recognised(path):
    is_delay, failures, original, words = EXPECTED[path.name]
    parsed = parse(path.read_bytes())
    report = parse_bounce(parsed.email)
    assert report is not None
    assert report.is_delay is is_delay
    assert [(f.address, f.status, f.kind) for f in report.failures] == failures
    assert report.recipients == [f[0] for f in failures]
    assert report.original_message_id == original
    assert words.lower() in report.failures[0].diagnostic.lower()
    assert report.reporting_mta == REPORTING.get(path.name, report.reporting_mta)
    assert report.reporting_mta


# What the sender is told first (filing stores the status and the server's words as the error).
PLAIN = {
    "sieve-reject.eml": "Mailbox full",
    "empty-from-not-valid-user.eml": "Address not found",
    "exchange-x400.eml": "Address not found",
    "exchange-summary.eml": "Address not found",
    "apache-james.eml": "Address not found",
    "mail-failed-returning.eml": "Domain not found",
    "antivirus-delay.eml": "Delivery delayed, still trying",
    "postmaster-postponed.eml": "Delivery delayed, still trying",
    "sendmail-v5-domain.eml": "Gave up after retrying",
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_what_failed_in_plain_words(name):
    report = parse_bounce(parse((DATA / "bounce" / name).read_bytes()).email)
    error = f"{report.status or ''} {report.diagnostic}"
    assert str(plain_problem(error, delayed=report.is_delay)) == PLAIN[name]


@pytest.mark.parametrize("path", _files("human"))
def test_human_mail_is_never_a_report(path):
    msg = parse(path.read_bytes()).email
    assert parse_bounce(msg) is None
    assert auto_reply_reason(msg) is None


def test_raw_8bit_subjects_are_read_in_their_charset():
    subjects = {
        "gb2312-raw.eml": "系统退信",
        "shift-jis-raw.eml": "配信不能のお知らせ",
        "koi8r-raw.eml": "Недоставленное сообщение",
        "post-master-iso2022jp.eml": "配信エラー",
        "exchange-de.eml": "Unzustellbar: Ihr Vorstellungsgespräch",
    }
    for name, subject in subjects.items():
        assert parse((DATA / "bounce" / name).read_bytes()).subject == subject


# Subjects, per language: a mail daemon's notice with only that subject and a one-line body.
SUBJECTS = {
    "en": [
        "Undelivered Mail Returned to Sender",
        "Mail delivery failed: returning message to sender",
        "Returned mail: see transcript for details",
        "failure notice",
        "Undeliverable: Your interview",
        "Delivery Status Notification (Failure)",
        "Mail Delivery Problem",
        "FAILED MAIL",
        "Mail failure",
        "There was an error sending your mail",
        "bounce notification",
        "Warning: could not send message for past 4 hours",
        "Warning: alice@candidate.test User unknown",
        "Non-Delivery Report",
        "DELIVERY FAILURE: User alice not listed in Domino Directory",
        "Message status - undeliverable",
        "Permanent Delivery Failure",
        "Nondeliverable mail",
        "Returned mail",
        "mail failed, returning to sender",
        "Returned Mail - Error During Delivery",
        "Mail Delivery Warning",
    ],
    "fr": [
        "Non remis : Votre entretien",
        "Notification d'état de la distribution (échec)",
        "Échec de la remise du message",
        "Message non délivré",
        "Courrier retourné",
        "Avis de non-remise",
    ],
    "de": [
        "Unzustellbar: Ihr Vorstellungsgespräch",
        "Nicht zustellbar",
        "Benachrichtigung über den Zustellstatus (Fehler)",
        "Zustellung fehlgeschlagen",
        "Unzustellbare Nachricht",
    ],
    "es": [
        "No se puede entregar: Su entrevista",
        "Notificación de estado de entrega (Error)",
        "Mensaje no entregado",
        "Correo devuelto",
    ],
    "it": ["Non recapitabile: Il tuo colloquio", "Notifica stato di consegna (Errore)", "Mancato recapito"],
    "pt": [
        "Não é possível entregar: Sua entrevista",
        "Notificação de status de entrega (falha)",
        "Mensagem não entregue",
        "Falha na entrega",
    ],
    "nl": ["Onbestelbaar: Uw sollicitatiegesprek", "Bezorgingsstatusmelding (mislukt)", "Niet bezorgd"],
    "pl": [
        "Niedostarczalne: Twoja rozmowa",
        "Powiadomienie o stanie dostarczenia (Niepowodzenie)",
        "Wiadomość niedostarczona",
    ],
    "ru": ["Недоставленное сообщение", "Не удалось доставить письмо", "Уведомление о доставке (ошибка)"],
    "ja": ["配信不能", "配信エラー", "メール送信失敗のお知らせ", "配信状態通知 (失敗)"],
    "zh": ["系统退信", "邮件投递失败", "無法傳遞: 面試", "退信通知", "邮件传输失败！"],
    # Exchange's "Undeliverable:" as it writes it in other languages.
    "more": [
        "Ei voi toimittaa: Haastattelu",
        "Teslim Edilemeyen: Görüşme",
        "Nelivrabil: Interviu",
        "Neisporučivo: Razgovor",
        "Ni mogoče dostaviti: Razgovor",
        "Nepristatyta: Pokalbis",
        "Kättetoimetamatu: Intervjuu",
        "No es pot lliurar: Entrevista",
        "Tidak dapat dikirim: Wawancara",
        "Không gửi được: Phỏng vấn",
        "Δεν είναι δυνατή η παράδοση: Συνέντευξη",
        "לא ניתן למסירה: ראיון",
        "تعذر التسليم: مقابلة",
        "ไม่สามารถส่งได้: สัมภาษณ์",
        "배달 못 함: 면접",
        "Не доставлено: Співбесіда",
        "Недоставено: Интервю",
    ],
}
# The encodings a language's servers use, tried on each subject: encoded words and raw 8-bit.
ENCODINGS = {
    "fr": ["latin-1"],
    "de": ["latin-1"],
    "es": ["latin-1"],
    "it": ["latin-1"],
    "pt": ["latin-1"],
    "pl": ["iso-8859-2"],
    "ru": ["koi8-r", "cp1251"],
    "ja": ["shift_jis", "iso-2022-jp", "euc-jp"],
    "zh": ["gb2312", "big5"],
}


def _subject_cases():
    for lang, subjects in SUBJECTS.items():
        for subject in subjects:
            yield pytest.param(subject, None, id=f"{lang}-utf8-{subject[:20]}")
            for charset in ENCODINGS.get(lang, []):
                try:
                    subject.encode(charset)
                except UnicodeEncodeError:
                    continue
                yield pytest.param(subject, charset, id=f"{lang}-{charset}-{subject[:20]}")


def _notice(subject_header: bytes) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: rita@mail.demo.test\r\n"
        b"Subject: " + subject_header + b"\r\n\r\nalice@candidate.test\r\n"
    )


@pytest.mark.parametrize(("subject", "charset"), list(_subject_cases()))
def test_report_subject_in_every_language(subject, charset):
    if charset is None:  # an RFC 2047 encoded word (UTF-8), as most servers send
        header = Header(subject, "utf-8").encode().encode()
    elif charset == "iso-2022-jp":  # 7-bit escapes, no encoded word
        header = subject.encode(charset)
    else:  # raw 8-bit bytes, no charset declared anywhere
        header = subject.encode(charset)
    report = parse_bounce(parse(_notice(header)).email)
    assert report is not None, subject
    assert report.recipients == ["alice@candidate.test"]


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Delivery of your laptop",
        "Your interview on Tuesday",
        "Undeliverable? Let's talk",
        "Meine Bewerbung",
        "Candidature spontanée",
    ],
)
def test_a_persons_mail_with_these_subjects_is_not_a_report(subject):
    raw = (
        b"From: Alice <alice@candidate.test>\r\nTo: rita@mail.demo.test\r\nSubject: "
        + subject.encode()
        + b"\r\n\r\nHello, my previous mail could not be delivered, I think.\r\n"
    )
    assert parse_bounce(parse(raw).email) is None


@pytest.mark.parametrize(
    ("return_path", "sender"),
    [
        ("<MAILER-DAEMON@mx.example.org>", "Mail <relay@mx.example.org>"),
        ("<postmaster@mx.example.org>", "Relay <relay@mx.example.org>"),
        ("<post_master@mx.example.org>", "Relay <relay@mx.example.org>"),
        ("<mdaemon@mx.example.org>", "Relay <relay@mx.example.org>"),
        ("<>", "Relay <relay@mx.example.org>"),
        ("", "<>"),
        ("", ""),
    ],
)
def test_daemon_return_path_or_null_sender_makes_a_notice(return_path, sender):
    raw = (
        (f"Return-Path: {return_path}\r\n" if return_path else "")
        + f"From: {sender}\r\nTo: rita@mail.demo.test\r\nSubject: Mail delivery failed\r\n\r\n"
        + "alice@candidate.test: 550 5.1.1 user unknown\r\n"
    ).encode()
    report = parse_bounce(parse(raw).email)
    assert report is not None
    assert report.recipients == ["alice@candidate.test"]


def test_a_report_from_an_ordinary_address_with_its_words_and_code():
    raw = (
        b"From: No Reply <noreply@gateway.example>\r\nTo: rita@mail.demo.test\r\n"
        b"Subject: Undeliverable: Your interview\r\n\r\n"
        b"Your message to alice@candidate.test couldn't be delivered.\r\n"
        b"Remote server returned 550 5.1.1 User unknown\r\n"
    )
    report = parse_bounce(parse(raw).email)
    assert report is not None
    assert (report.recipients, report.status) == (["alice@candidate.test"], "5.1.1")
    # The same words from a person are theirs (a candidate pasting a report, resending).
    person = raw.replace(b"No Reply <noreply@gateway.example>", b"Al <al@x.test>")
    assert parse_bounce(parse(person).email) is None
