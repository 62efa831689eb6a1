"""Admin > Audit: what the team did, recorded where it happens, filterable and paginated."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.dom import parse
from tests.mailmaker import raw_mail
from tests.privacy_helpers import receive
from webapp import audit
from webapp.extensions import db
from webapp.models import Attachment, AuditLog, Message

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"], "Ada Admin": "admin"},
        candidates={"Alice Able": ["job"]},
    )


def audit_rows(html: str):
    """The rows of the audit table (the empty-state row has no action)."""
    return [
        tr for tr in parse(html).one("table", id="audit").find_all("tr") if tr.find("td", data_action=True)
    ]


def shown_actions(html: str) -> list[str]:
    return [tr.one("td", data_action=True).get("data-action") for tr in audit_rows(html)]


def actions(app, action: str | None = None) -> list[tuple]:
    with app.app_context():
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return [
            (a.user_id, a.action, a.target_type, a.target_id, a.details) for a in db.session.scalars(query)
        ]


def test_logins_and_failed_logins_are_recorded(app, auth, team):
    auth.login(team.rita.email, password="wrong")
    auth.login("nobody@team.test", password="wrong")
    auth.login(team.rita.email)
    rows = actions(app)
    assert [r[:4] for r in rows] == [
        (None, "login_failed", "user", team.rita.id),  # an attempt names the account, not an actor
        (None, "login_failed", "user", None),
        (team.rita.id, "login", "user", team.rita.id),
    ]
    assert rows[1][4]["email"] == "nobody@team.test"
    assert rows[2][4]["ip"] == "127.0.0.1"


def test_sends_archive_templates_and_admin_downloads_are_recorded(app, client, auth, team, redis):
    message_id = receive(app, raw_mail(attachment=("cv.pdf", b"%PDF-1.4 cv")))
    with app.app_context():
        thread_id = db.session.get(Message, message_id).thread_id
        attachment_id = db.session.scalar(select(Attachment.id).where(Attachment.message_id == message_id))
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    sent = client.post(
        "/compose",
        data={
            "csrf_token": token,
            "preset": "now",
            "to": "alice@outside.test",
            "subject": "Hi",
            "body": "Hello",
        },
        headers=PANE,
    )
    assert sent.status_code == 200
    client.post(f"/mail/inbox/{thread_id}/archive", data={"csrf_token": token})
    client.post("/templates/new", data={"csrf_token": token, "name": "Invite", "subject": "S", "body": "B"})
    assert client.get(f"/attachments/{attachment_id}").status_code == 200  # a recruiter: not recorded
    auth.logout()
    auth.login(team.ada.email)
    assert client.get(f"/attachments/{attachment_id}").status_code == 200
    assert client.get(f"/admin/messages/{message_id}/raw").status_code == 200
    kinds = [(r[1], r[2]) for r in actions(app) if r[1] not in ("login", "login_failed", "logout")]
    assert kinds == [
        ("send", "message"),
        ("archive", "thread"),
        ("template_saved", "template"),
        ("attachment_download", "attachment"),
        ("raw_download", "message"),
    ]


def test_the_audit_page_is_for_admins_and_filters(app, client, auth, team):
    with app.app_context():
        for n in range(60):
            audit.record(team.ada.id, "cv_discarded", "message", n)
        audit.record(team.rita.id, "candidate_exported", "candidate", team.alice.id)
        old = AuditLog(user_id=team.rita.id, action="send", target_type="message", target_id=1, details={})
        old.created_at = datetime(2025, 1, 15, 12, tzinfo=UTC)
        db.session.add(old)
        db.session.commit()
    auth.login(team.rita.email)
    assert client.get("/admin/audit").status_code == 404
    auth.logout()
    auth.login(team.ada.email)

    html = client.get("/admin/audit").get_data(as_text=True)
    assert len(audit_rows(html)) == 50
    older = parse(html).one("a", rel="next").get("href")
    rest = client.get(older).get_data(as_text=True)
    assert parse(rest).find("a", rel="next") is None
    # 60 + export + the old send + 2 sign-ins (rita, ada) + rita's sign-out
    assert len(audit_rows(rest)) == 65 - 50

    by_rita = client.get(f"/admin/audit?actor={team.rita.id}").get_data(as_text=True)
    assert set(shown_actions(by_rita)) == {"login", "logout", "candidate_exported", "send"}
    [row] = audit_rows(client.get("/admin/audit?action=candidate_exported").get_data(as_text=True))
    assert "Exported a candidate" in row.text
    assert f"candidate #{team.alice.id}" in row.text
    january = client.get("/admin/audit?since=2025-01-01&until=2025-01-31").get_data(as_text=True)
    assert shown_actions(january) == ["send"]
    assert client.get("/admin/audit?since=garbage&actor=x").status_code == 200  # ignored, not an error


def test_details_read_in_plain_words_in_english_and_french(app, client, auth, team):
    auth.login(team.rita.email, password="wrong")
    auth.login(team.ada.email)  # not ticking "Keep me signed in"
    with app.app_context():
        audit.record(team.ada.id, "share_created", "candidate", team.alice.id, share=3, sections=["profile"])
        db.session.commit()

    def details(language: str) -> dict[str, str]:
        html = client.get("/admin/audit", headers={"Accept-Language": language}).get_data(as_text=True)
        return {
            tr.one("td", data_action=True).get("data-action"): tr.find_all("td")[-1].text
            for tr in audit_rows(html)
        }

    english = details("en-US")
    assert "Keep me signed in: no" in english["login"]
    assert "IP address: 127.0.0.1" in english["login"]
    assert "Reason: wrong password" in english["login_failed"]
    assert "Sections: profile" in english["share_created"]
    assert "False" not in " ".join(english.values())
    assert "remember" not in " ".join(english.values())
    french = details("fr-FR,fr;q=0.9")
    assert "Rester connecté: non" in french["login"]
    assert "Motif: mot de passe erroné" in french["login_failed"]
