"""Auto-replies in many languages and from challenge-response systems, the "away until" date in
each language, and where an auto-reply from a candidate goes."""

from datetime import date
from email import message_from_bytes, policy
from email.header import Header

import pytest
from sqlalchemy import select

from tests.mailmaker import raw_mail
from tests.test_inbound import outcome
from webapp.extensions import db
from webapp.mail.inbound.autoreply import auto_reply_reason
from webapp.mail.inbound.away import away_until
from webapp.models import Candidate, Direction, Message


def _msg(subject: str, body: str = "Hello\n", **headers: str):
    raw = (
        "From: Alice <alice@candidate.test>\r\nTo: rita@mail.demo.test\r\n"
        f"Subject: {Header(subject, 'utf-8').encode()}\r\n"
        + "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
    )
    return message_from_bytes(raw.encode(), policy=policy.default)


SUBJECTS = {
    "en": ["Out of Office: Interview", "Automatic reply: Interview", "On vacation", "Away from the office"],
    "fr": ["Réponse automatique : Entretien", "Absence du bureau", "Je suis absent", "Absent : entretien"],
    "de": ["Abwesenheitsnotiz: Termin", "Automatische Antwort: Bewerbung", "Abwesend", "Außer Haus"],
    "es": ["Respuesta automática: Entrevista", "Fuera de la oficina", "Ausente"],
    "it": ["Risposta automatica: Colloquio", "Fuori ufficio", "Assente"],
    "pt": ["Resposta automática: Entrevista", "Ausente", "Fora do escritório"],
    "nl": ["Automatisch antwoord: Sollicitatie", "Afwezig", "Niet op kantoor"],
    "pl": ["Automatyczna odpowiedź: Rozmowa", "Poza biurem", "Nieobecność"],
    "lv": ["Automātiskā atbilde: Intervija"],
    "sv": ["Automatiskt svar: Intervju", "Frånvarande"],
    "cs": ["Automatická odpověď: Pohovor"],
    "ru": ["Автоответ: Собеседование", "Автоматический ответ"],
    "ja": ["自動応答: 面接", "不在のお知らせ"],
    "zh": ["自动回复: 面试", "自動回覆"],
}


@pytest.mark.parametrize(
    "subject",
    [pytest.param(s, id=f"{lang}-{s[:18]}") for lang, subjects in SUBJECTS.items() for s in subjects],
)
def test_out_of_office_subject_in_every_language(subject):
    assert auto_reply_reason(_msg(subject)) == "out-of-office subject"
    assert auto_reply_reason(_msg(f"RE: {subject}")) == "out-of-office subject"


@pytest.mark.parametrize(
    "subject",
    [
        "Holiday plans for the team offsite",
        "Absence of feedback",
        "Assente? No, present!",
        "Réponse à votre offre",
    ],
)
def test_ordinary_subjects_are_not_auto_replies(subject):
    assert auto_reply_reason(_msg(subject)) is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, "X-Auto-Response-Suppress: OOF/AutoReply"),
        ({"X_Mailer": "vacation 1.2.7"}, "X-Mailer of a vacation program"),
        ({"Return_Path": "<>", "Precedence": "bulk"}, "null Return-Path with Precedence: bulk"),
        ({"Return_Path": "<>", "Precedence": "junk"}, "null Return-Path with Precedence: bulk"),
        ({"X_Boxbe_Challenge": "yes"}, "challenge-response request"),
    ],
)
def test_header_signals(headers, reason):
    assert auto_reply_reason(_msg("Re: Interview", **headers)) == reason


def test_a_list_post_with_a_null_return_path_is_not_an_auto_reply():
    msg = _msg("Weekly digest", Return_Path="<>", Precedence="list", List_Id="<devs.lists.example>")
    assert auto_reply_reason(msg) is None
    msg = _msg("Weekly digest", Return_Path="<>", Precedence="bulk", List_Id="<devs.lists.example>")
    assert auto_reply_reason(msg) is None


def test_auto_submitted_from_a_mail_daemon_is_no_auto_reply():
    msg = message_from_bytes(
        b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Notice\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nHello\r\n",
        policy=policy.default,
    )
    assert auto_reply_reason(msg) is None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Please confirm your email address",
            "Your message will be delivered once you confirm you are a person.",
        ),
        ("Sender verification required", "I use a whitelist: click to be added to my approved senders."),
        ("[SpamArrest] Please verify your message", "Click the link."),
        ("Boxbe: Alice Able requests your verification", "Your message is waiting."),
    ],
)
def test_challenge_response_requests_are_auto_replies(subject, body):
    assert auto_reply_reason(_msg(subject, body)) == "challenge-response request"


def test_a_person_asking_to_confirm_is_not_a_challenge():
    assert auto_reply_reason(_msg("Please confirm your availability", "Is Tuesday fine?")) is None


RECEIVED = date(2026, 12, 6)
AWAY = {
    "en": [
        "I am out of the office until 14 December.",
        "Back on Monday, December 14th.",
        "away till 12/14/2026",
    ],
    "fr": [
        "Je suis absente jusqu'au 14/12.",
        "Je serai de retour le lundi 14 décembre.",
        "jusqu’au 14 déc. inclus",
    ],
    "de": ["Ich bin bis zum 14.12. nicht im Büro.", "Ab dem 14. Dezember bin ich wieder erreichbar."],
    "es": ["Estoy fuera de la oficina hasta el 14 de diciembre.", "Regreso el 14/12/2026."],
    "it": ["Sono fuori ufficio fino al 14 dicembre 2026.", "Rientro il 14/12."],
    "pt": ["Estou ausente até 14 de dezembro.", "Retorno em 14/12/2026."],
    "nl": ["Ik ben afwezig tot en met 14 december.", "Terug op maandag 14 december."],
    "pl": ["Jestem nieobecna do 14 grudnia.", "Wracam 14.12.2026."],
    "iso": ["I will return on 2026-12-14."],
}


@pytest.mark.parametrize(
    "text", [pytest.param(t, id=f"{lang}-{t[:20]}") for lang, texts in AWAY.items() for t in texts]
)
def test_away_until_in_every_language(text):
    assert away_until(text, RECEIVED) == date(2026, 12, 14)


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for your email.",
        "back in 2 weeks",
        "until 14 December 2024",
        "until 31/02",
        "until 14 Smarch",
    ],
)
def test_no_return_date(text):
    assert away_until(text, RECEIVED) is None


def test_a_date_without_a_year_is_the_next_one():
    assert away_until("until 3 January", RECEIVED) == date(2027, 1, 3)


# Where it goes


def test_an_auto_reply_from_a_candidate_naming_nothing_joins_their_latest_conversation(
    app, client, auth, make, team
):
    make.thread("Older", candidate=team.alice)
    latest = make.thread("Interview", candidate=team.alice)
    make.message(latest, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    back = date.today().replace(year=date.today().year + 1, month=1, day=14)
    raw = raw_mail(
        frm="Alice <alice@outside.test>",
        subject="Out of office",
        body=f"I am away until {back.day} January {back.year}.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    result, msg = outcome(app, raw)
    assert result == "auto_reply"
    assert msg.thread_id == latest.id
    assert msg.is_auto_reply
    assert msg.away_until == back
    with app.app_context():
        assert db.session.scalar(select(Candidate.away_until).where(Candidate.id == team.alice.id)) == back
    auth.login("rita@team.test")
    pane = client.get(f"/mail/sent/{latest.id}").get_data(as_text=True)
    assert "Away until" in pane
    assert "Automatic reply" in pane
    assert "Away until" in client.get(f"/candidates/{team.alice.id}").get_data(as_text=True)
    assert "is away until" in client.get("/compose?to=alice@outside.test").get_data(as_text=True)
    # Their own mail says they are back.
    outcome(app, raw_mail(frm="Alice <alice@outside.test>", subject="I am back early"))
    with app.app_context():
        assert db.session.scalar(select(Candidate.away_until).where(Candidate.id == team.alice.id)) is None


def test_an_auto_reply_from_a_stranger_naming_nothing_stays_out_of_folders(app, team):
    raw = raw_mail(
        frm="Bob <bob@stranger.test>", subject="Out of office", headers={"Auto-Submitted": "auto-replied"}
    )
    result, msg = outcome(app, raw)
    assert result == "auto_reply"
    assert msg.thread_id is None


def test_a_send_later_before_the_return_date_offers_to_move_it(app, client, auth, make, team):
    from datetime import UTC, datetime, timedelta

    back = date.today() + timedelta(days=20)
    with app.app_context():
        db.session.get(Candidate, team.alice.id).away_until = back
        db.session.commit()
    thread = make.thread("Interview", candidate=team.alice)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    msg = make.message(
        thread,
        direction=Direction.OUTBOUND,
        sender=team.rita,
        candidate=team.alice,
        status="scheduled",
        at=soon,
    )
    auth.login("rita@team.test")
    pane = client.get(f"/mail/scheduled/{thread.id}").get_data(as_text=True)
    assert "is away until" in pane
    assert f"/messages/{msg.id}/after-away" in pane
    token = auth.csrf_token(f"/mail/scheduled/{thread.id}")
    response = client.post(
        f"/messages/{msg.id}/after-away?folder=scheduled",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    with app.app_context():
        moved = db.session.get(Message, msg.id)
        assert moved.scheduled_at.date() == back
        assert moved.status == "scheduled"
    # Only its author can move it.
    other = make.message(
        thread,
        direction=Direction.OUTBOUND,
        sender=make.user("Sam Sourcer"),
        candidate=team.alice,
        status="scheduled",
        at=soon,
    )
    assert client.post(f"/messages/{other.id}/after-away", headers={"X-CSRFToken": token}).status_code == 404
