"""The settings page: name, signature, time zone, language, password; and what they change."""

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.conftest import AuthActions
from tests.dom import parse
from webapp.compose import prefill
from webapp.extensions import db
from webapp.models import AuditLog, User

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": {"offers": ["job"], "timezone": "Europe/Paris"}},
        candidates={"Alice Able": ["job"]},
    )


@pytest.fixture
def rita(client, auth, team):
    auth.login(team.rita.email)
    return auth


def profile(auth, **changes):
    data = {"name": "Rita Recruiter", "signature": "", "timezone": "Europe/Paris", "locale": "", **changes}
    return auth.client.post("/settings", data={"csrf_token": auth.csrf_token("/settings"), **data})


def change_password(auth, current="password123", new="a new secret", again=None):
    data = {"current_password": current, "new_password": new, "confirm_password": again or new}
    return auth.client.post("/settings/password", data={"csrf_token": auth.csrf_token("/settings"), **data})


def stored(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get_one(User, user_id)
        db.session.expunge(user)
        return user


def raw(element) -> str:
    """A textarea's text as typed (line breaks kept)."""
    return "".join(c if isinstance(c, str) else raw(c) for c in element.children)


def preset_labels(html: str) -> list[str]:
    return [o.own_text for o in parse(html).one(id="preset").find_all("option")]


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_the_account_menu_links_to_the_settings_page(client, rita):
    page = parse(client.get("/mail/inbox").get_data(as_text=True))
    link = page.one(id="account-menu").one("a", href="/settings")
    assert link.text == "Settings"
    html = client.get("/settings").get_data(as_text=True)
    settings = parse(html)
    assert settings.one(id="name").get("value") == "Rita Recruiter"
    assert settings.one(id="timezone").one("option", selected=True).get("value") == "Europe/Paris"
    labels = {label.text for label in settings.find_all("label")}
    for label in ("Name", "Signature", "Time zone", "Language", "Current password", "New password"):
        assert label in labels
    assert settings.one("a", href="/settings/mailbox")  # the mailbox connection has its own page


def test_saving_the_profile_changes_name_signature_zone_and_language(app, client, rita, team):
    response = profile(
        rita, name="Rita R.", signature="Rita\nTalent team", timezone="America/New_York", locale="fr"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings?saved=profile"
    user = stored(app, team.rita.id)
    assert (user.name, user.signature, user.timezone, user.locale) == (
        "Rita R.",
        "Rita\nTalent team",
        "America/New_York",
        "fr",
    )
    html = client.get("/settings?saved=profile").get_data(as_text=True)
    assert "Vos réglages sont enregistrés." in html  # the page now speaks French
    assert "Rita R." in parse(client.get("/mail/inbox").get_data(as_text=True)).one(class_="whoami").text


def test_a_bad_zone_or_an_empty_name_is_refused_in_place(app, client, rita, team):
    response = profile(rita, name="  ", timezone="Mars/Olympus", signature="Kept as typed")
    assert response.status_code == 422
    page = parse(response.get_data(as_text=True))
    assert "Enter your name." in page.one(id="name-error").text
    assert "Choose a time zone from the list." in page.one(id="timezone-error").text
    assert page.one(id="signature").text == "Kept as typed"  # nothing typed is lost
    assert profile(rita, timezone="posixrules").status_code == 422  # a file zoneinfo has, no place
    assert profile(rita, locale="de").status_code == 422
    user = stored(app, team.rita.id)
    assert (user.name, user.timezone, user.signature) == ("Rita Recruiter", "Europe/Paris", "")


def test_the_signature_goes_into_new_mail_and_above_the_quote_of_a_reply(app, client, rita, team, make):
    assert profile(rita, signature="Rita\nTalent team").status_code == 302
    new = parse(client.get("/compose", headers=PANE).get_data(as_text=True))
    assert raw(new.one(id="body")).endswith("-- \nRita\nTalent team")
    msg = make.message(candidate=team.alice, to_users=[team.rita], body_text="Are you free?")
    reply = parse(client.get(f"/compose/reply/{msg.id}", headers=PANE).get_data(as_text=True))
    body = raw(reply.one(id="body"))
    assert body.index("Talent team") < body.index("> Are you free?")


def test_compose_presets_say_the_time_in_the_users_language(app, client, rita, team):
    html = client.get("/compose", headers=PANE).get_data(as_text=True)
    assert preset_labels(html)[1] == "Tomorrow 8:00 AM"  # (a narrow no-break space before AM)
    profile(rita, locale="fr")
    assert preset_labels(client.get("/compose", headers=PANE).get_data(as_text=True))[1] == "Demain 08:00"


@pytest.mark.parametrize(
    ("now", "locale", "zone", "labels"),
    [
        # Friday 10:00 UTC: tomorrow is Saturday, Monday is three days away.
        (
            datetime(2026, 12, 4, 10, tzinfo=UTC),
            "en",
            "Europe/Paris",
            ["Tomorrow 8:00\u202fAM", "Monday 8:00\u202fAM"],
        ),
        (datetime(2026, 12, 4, 10, tzinfo=UTC), "fr", "Europe/Paris", ["Demain 08:00", "Lundi 08:00"]),
        # Sunday: tomorrow is Monday, one choice only.
        (datetime(2026, 12, 6, 10, tzinfo=UTC), "en", "Europe/Paris", ["Tomorrow 8:00\u202fAM"]),
        # Sunday 23:30 UTC is already Monday in Tokyo: tomorrow is Tuesday, Monday a week away.
        (
            datetime(2026, 12, 6, 23, 30, tzinfo=UTC),
            "en",
            "Asia/Tokyo",
            ["Tomorrow 8:00\u202fAM", "Monday 8:00\u202fAM"],
        ),
    ],
)
def test_preset_labels_say_the_time_in_the_users_zone_and_language(app, now, locale, zone, labels):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale(locale):
        found = prefill.presets(zone, now)
        offered = prefill.preset_choices(zone, now)
    assert [label for _key, label in offered] == labels
    assert [key for key, _label, _at in found] == ["tomorrow", "monday"]  # both still understood
    for _key, _label, at in found:
        local = at.astimezone(prefill.ZoneInfo(zone))
        assert (local.hour, local.minute) == (8, 0)
    if zone == "Asia/Tokyo":
        assert found[1][2].astimezone(prefill.ZoneInfo(zone)).day == 14


def test_password_change_needs_the_current_password(app, client, rita, team):
    response = change_password(rita, current="not it")
    assert response.status_code == 422
    page = parse(response.get_data(as_text=True))
    assert "That is not your current password." in page.one(id="current_password-error").text
    assert "password_change_refused" in actions(app)
    assert change_password(rita, new="short").status_code == 422
    assert "Use at least 8 characters." in change_password(rita, new="short").get_data(as_text=True)
    response = change_password(rita, new="a new secret", again="a new secrex")
    assert "The two new passwords differ." in response.get_data(as_text=True)
    assert stored(app, team.rita.id).check_password("password123")


def test_password_change_ends_every_other_session_but_keeps_this_one(app, client, rita, team):
    other = AuthActions(app.test_client())  # another browser, remembered
    token = other.csrf_token("/login")
    other.client.post(
        "/login",
        data={"email": team.rita.email, "password": "password123", "remember": "y", "csrf_token": token},
    )
    assert other.client.get("/mail/inbox").status_code == 200
    remember = other.client.get_cookie("remember_token")
    assert remember is not None

    response = change_password(rita)
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings?saved=password"
    html = client.get("/settings?saved=password").get_data(as_text=True)
    assert "Your password is changed." in html  # still signed in here

    assert other.client.get("/mail/inbox").status_code == 302  # the other session is over
    stolen = app.test_client()
    stolen.set_cookie("remember_token", remember.value)  # and so is its remember cookie
    assert stolen.get("/mail/inbox").status_code == 302
    assert "password_changed" in actions(app)
    rita.logout()
    assert rita.login(team.rita.email, "password123").status_code == 422  # the old one is refused
    assert rita.login(team.rita.email, "a new secret").status_code == 302


def test_a_remembered_session_stays_remembered_after_its_password_change(app, team):
    auth = AuthActions(app.test_client())
    token = auth.csrf_token("/login")
    auth.client.post(
        "/login",
        data={"email": team.rita.email, "password": "password123", "remember": "y", "csrf_token": token},
    )
    assert change_password(auth).status_code == 302
    remember = auth.client.get_cookie("remember_token")
    fresh = app.test_client()  # the browser restarted: only the new remember cookie is left
    fresh.set_cookie("remember_token", remember.value)
    assert fresh.get("/mail/inbox").status_code == 200


def test_a_mailbox_section_links_the_mailbox_page_when_the_app_has_one(app, team, instance_dir):
    """Another part of the app owns /settings/mailbox: the settings page links it once it exists."""
    from tests.conftest import _redis_url
    from webapp import create_app
    from webapp.config import TestConfig

    environ = {**os.environ, "TEST_REDIS_URL": _redis_url(os.environ)}
    with_mailbox = create_app(TestConfig(environ, instance_dir=str(instance_dir)))  # the same database
    with_mailbox.add_url_rule("/settings/mailbox", "mailbox_settings", lambda: "the mailbox page")
    auth = AuthActions(with_mailbox.test_client())
    auth.login(team.rita.email)
    page = parse(auth.client.get("/settings").get_data(as_text=True))
    assert page.one(id="mailbox-title").text == "Mailbox"
    assert page.find("a", href="/settings/mailbox") is not None


def test_a_formatted_signature_is_cleaned_and_keeps_a_plain_twin(app, client, rita, team):
    editor = (
        "<b>Rita</b> <script>alert(1)</script><div><i>Talent team</i>, "
        '<a href="https://acme.example/jobs" onclick="x()">our jobs</a> '
        '<a href="javascript:alert(1)">bad</a><img src="https://t.example/p.gif"></div>'
    )
    response = profile(rita, signature="ignored", signature_format="html", signature_html=editor)
    assert response.status_code == 302
    user = stored(app, team.rita.id)
    assert "<b>Rita</b>" in user.signature_html
    assert '<a href="https://acme.example/jobs" rel="noopener noreferrer">our jobs</a>' in user.signature_html
    for gone in ("script", "onclick", "javascript", "img", "alert"):
        assert gone not in user.signature_html
    assert user.signature == "Rita\nTalent team, our jobs <https://acme.example/jobs> bad"
    settings = parse(client.get("/settings").get_data(as_text=True))
    assert settings.one(id="signature-editor").one("b").text == "Rita"  # the editor shows it formatted
    assert settings.one(id="signature_format-1").get("checked") is not None

    # Back to plain: the HTML is gone; formatting that is only line breaks is plain too.
    assert profile(rita, signature="Rita", signature_format="text").status_code == 302
    assert stored(app, team.rita.id).signature_html is None
    profile(rita, signature_format="html", signature_html="Rita<div>Talent team</div>")
    user = stored(app, team.rita.id)
    assert (user.signature, user.signature_html) == ("Rita\nTalent team", None)


def test_mail_with_a_formatted_signature_has_it_in_html_and_in_text(app, client, rita, team, smtp, redis):
    from email import message_from_bytes, policy

    from tests.test_outbound import drain_once

    profile(
        rita,
        signature_format="html",
        signature_html='<b>Rita</b><div><a href="https://acme.example">Acme</a></div>',
    )
    body = parse(client.get("/compose", headers=PANE).get_data(as_text=True))
    typed = "Hello <Alice>\nSee you\n" + raw(body.one(id="body"))
    assert typed.endswith("-- \nRita\nAcme <https://acme.example>")
    token = rita.csrf_token("/compose")
    data = {"csrf_token": token, "to": "alice@outside.test", "subject": "Hi", "body": typed, "preset": "now"}
    assert client.post("/compose", data=data, headers=PANE).status_code == 200
    drain_once(app)
    [got] = smtp.messages
    email = message_from_bytes(got.data, policy=policy.default)
    text = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = email.get_body(("html",)).get_content()
    assert text.rstrip().endswith("-- \nRita\nAcme <https://acme.example>")
    assert "Hello &lt;Alice&gt;<br>" in html  # what was typed is text, escaped
    assert "<b>Rita</b>" in html
    assert 'href="https://acme.example"' in html
    assert "Acme &lt;https" not in html  # the formatted signature replaces the plain one

    # Taken out of the body by the sender: plain text only, as before.
    data["body"] = "No signature this time"
    client.post("/compose", data=data, headers=PANE)
    drain_once(app)
    assert message_from_bytes(smtp.messages[1].data, policy=policy.default).get_body(("html",)) is None
