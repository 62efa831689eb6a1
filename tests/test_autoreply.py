"""Auto-reply and bulk-mail detection: one test per signal and per language, negatives, the corpus."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests.corpus import corpus_files
from webapp.mail.inbound.autoreply import auto_reply_reason, is_bulk


def _mail(subject: str = "Re: Interview on Tuesday", **headers: str) -> EmailMessage:
    """A reply from a candidate, with extra headers (underscores in names become dashes)."""
    msg = EmailMessage()
    msg["From"] = "Alice <alice@candidate.test>"
    msg["To"] = "rita@mail.demo.test"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello\n")
    return message_from_bytes(msg.as_bytes(), policy=policy.default)


# Header signals


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified; owner-email=x@y.test"])
def test_auto_submitted(value):
    assert auto_reply_reason(_mail(Auto_Submitted=value)) == f"Auto-Submitted: {value.split(';')[0]}"


def test_auto_submitted_no_is_not_automatic():
    assert auto_reply_reason(_mail(Auto_Submitted="no")) is None


@pytest.mark.parametrize("name", ["X-Autoreply", "X-Autorespond"])
def test_x_autoreply_headers(name):
    assert auto_reply_reason(_mail(**{name: "yes"})) == f"{name} header"


def test_x_autoreply_no_is_not_automatic():
    assert auto_reply_reason(_mail(X_Autoreply="no")) is None


def test_precedence_auto_reply():
    assert auto_reply_reason(_mail(Precedence="auto_reply")) == "Precedence: auto_reply"


def test_x_auto_response_suppress_alone_is_not_automatic():
    # Outlook puts it on ordinary mail written by a person.
    assert auto_reply_reason(_mail(X_Auto_Response_Suppress="All")) is None


# Out-of-office subjects, per language, with the prefixes mail clients add


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Interview on Tuesday",
        "Out of office",
        "Automatic reply: Interview on Tuesday",
        "Auto-reply: Interview",
        "Autoreply",
        "[Auto-Reply] Re: Interview",
        "Absence",
        "Jane Doe is out of the office.",
        "Re: Out of office",
    ],
)
def test_english_subjects(subject):
    assert auto_reply_reason(_mail(subject)) == "out-of-office subject"


@pytest.mark.parametrize(
    "subject",
    ["Réponse automatique : Entretien", "RE : Absent du bureau", "Absence du bureau jusqu'au 5 mai"],
)
def test_french_subjects(subject):
    assert auto_reply_reason(_mail(subject)) == "out-of-office subject"


@pytest.mark.parametrize("subject", ["Abwesenheitsnotiz: Termin", "AW: Automatische Antwort: Bewerbung"])
def test_german_subjects(subject):
    assert auto_reply_reason(_mail(subject)) == "out-of-office subject"


@pytest.mark.parametrize("subject", ["Respuesta automática: Entrevista", "RE: Fuera de la oficina"])
def test_spanish_subjects(subject):
    assert auto_reply_reason(_mail(subject)) == "out-of-office subject"


@pytest.mark.parametrize(
    "subject", ["Automatisch antwoord: Sollicitatie", "Afwezig", "Antw: Afwezig: tot 5 mei"]
)
def test_dutch_subjects(subject):
    assert auto_reply_reason(_mail(subject)) == "out-of-office subject"


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Interview",
        "Re: Interview about out-of-office tools",
        "Absence of feedback after my interview",
        "My availability when I am out of the country",
        "",
    ],
)
def test_ordinary_subjects(subject):
    assert auto_reply_reason(_mail(subject)) is None


# Bulk and mailing-list mail


@pytest.mark.parametrize("value", ["bulk", "list", "junk"])
def test_precedence_bulk(value):
    msg = _mail(Precedence=value)
    assert is_bulk(msg) is True
    assert auto_reply_reason(msg) is None


def test_mailing_list_is_bulk_but_not_an_auto_reply():
    msg = _mail(Precedence="bulk", List_Id="<jobs.lists.example.org>")
    assert is_bulk(msg) is True
    assert auto_reply_reason(msg) is None


def test_list_unsubscribe_is_bulk():
    assert is_bulk(_mail(List_Unsubscribe="<mailto:unsubscribe@lists.example.org>")) is True


def test_personal_mail_is_not_bulk():
    assert is_bulk(_mail()) is False


# Garbage


def test_never_raise():
    for msg in (EmailMessage(), message_from_bytes(b"", policy=policy.default), None):
        assert auto_reply_reason(msg) is None
        assert is_bulk(msg) is False


def test_unparseable_subject_does_not_raise():
    raw = b"From: =?utf-8?q?broken\nSubject: =?x-unknown?b?////?=\nAuto-Submitted:\n\n"
    msg = message_from_bytes(raw, policy=policy.default)
    assert auto_reply_reason(msg) is None


# The corpus: which real messages are flagged, and why


def _corpus_messages() -> dict[str, EmailMessage]:
    return {
        name: message_from_bytes(path.read_bytes(), policy=policy.default)
        for name, path in corpus_files().items()
    }


def _present(expected: dict, messages: dict) -> dict:
    """The expectations for the messages this run has (the shared corpus may be absent)."""
    return {name: value for name, value in expected.items() if name in messages}


def test_corpus_auto_replies():
    messages = _corpus_messages()
    flagged = {name: auto_reply_reason(msg) for name, msg in messages.items()}
    flagged = {name: reason for name, reason in flagged.items() if reason}
    # Bounces say they are automatic too (Auto-Submitted), but from a mail daemon that names no
    # auto-reply: a report the bounce rules missed must never become an "Automatic reply" note.
    expected = {"hiremail/auto-reply.eml": "Auto-Submitted: auto-replied"}
    assert flagged == _present(expected, messages)


def test_corpus_bulk_mail():
    messages = _corpus_messages()
    bulk = sorted(name for name, msg in messages.items() if is_bulk(msg))
    # The new-httpd list posts (Precedence: bulk) and AOL's feedback loop (Precedence: list).
    expected = [
        "flanker/apache-message-news-mime.eml",
        "flanker/complaints/aol.eml",
        "flanker/from-encoding.eml",
        "flanker/message-external-body.eml",
    ]
    assert bulk == [name for name in expected if name in messages]
