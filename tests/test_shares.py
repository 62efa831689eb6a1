"""Sharing a CV by link: made by who may see the candidate, opened without login, logged,
rate-limited, kept out of search engines and caches, ended by expiry or revoke (410)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.mailmaker import raw_mail
from tests.privacy_helpers import receive
from webapp.extensions import db
from webapp.models import Attachment, AuditLog, CandidateFile, CvShare, CvShareView
from webapp.models.types import utcnow

CV_BYTES = b"%PDF-1.4 the CV of Alice Able"


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "secret": "Secret job"},
        users={"Rita Recruiter": ["job"], "Sam Recruiter": ["secret"]},
        candidates={"Alice Able": ["job"]},
    )


@pytest.fixture
def cv(app, team):
    """Alice's CV, from her mail, on her profile; the message id."""
    message_id = receive(app, raw_mail(subject="My application", attachment=("Alice_CV.pdf", CV_BYTES)))
    with app.app_context():
        attachment = db.session.scalar(select(Attachment).where(Attachment.message_id == message_id))
        db.session.add(CandidateFile(candidate_id=team.alice.id, attachment_id=attachment.id))
        db.session.commit()
        return attachment.id


def make_link(client, auth, candidate_id: int, **form) -> tuple[int, str]:
    token = auth.csrf_token(f"/candidates/{candidate_id}")
    if "cv" in form:  # the document's box, as the page checks it
        form["file_id"] = str(form.pop("cv"))
    response = client.post(f"/candidates/{candidate_id}/shares", data={"csrf_token": token, **form})
    html = response.get_data(as_text=True)
    found = re.search(r'value="http://localhost(/s/[^"]+)"', html)
    return response.status_code, found.group(1) if found else html


def test_a_link_shows_the_cv_without_login_and_logs_each_view(app, client, auth, team, cv):
    auth.login(team.rita.email)
    status, link = make_link(client, auth, team.alice.id, name="Hiring manager at Acme", cv=cv)
    assert status == 201
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits, base64: at least the 128 asked
    with app.app_context():
        share = db.session.scalar(select(CvShare))
        assert share.token_hash != token
        assert token not in share.token_hash
        assert (share.expires_at - share.created_at).days == 14  # the default: 14 days
    auth.logout()

    page = client.get(link, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "CV of Alice Able" in html
    assert "Alice_CV.pdf" in html
    assert "alice@outside.test" not in html  # the profile was not chosen
    assert "My application" not in html  # nor the messages
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    document = client.get(f"{link}/files/{cv}", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert document.status_code == 200
    assert document.data == CV_BYTES
    assert document.headers["Cache-Control"] == "no-store"
    assert "attachment" in document.headers["Content-Disposition"]
    client.get(link, environ_base={"REMOTE_ADDR": "198.51.100.9"})

    auth.login(team.rita.email)
    candidate_page = client.get(f"/candidates/{team.alice.id}").get_data(as_text=True)
    assert "Hiring manager at Acme" in candidate_page
    assert "viewed 3 times, last by IP 198.51.100.9" in candidate_page


def test_sections_are_chosen_profile_and_messages(app, client, auth, team, cv):
    auth.login(team.rita.email)
    _status, link = make_link(client, auth, team.alice.id, section=["profile", "messages"])
    html = client.get(link).get_data(as_text=True)
    assert "alice@outside.test" in html
    assert "Backend" in html
    assert "My application" in html


def test_a_document_not_in_the_link_is_not_served(app, client, auth, team, cv):
    auth.login(team.rita.email)
    _status, link = make_link(client, auth, team.alice.id, file_id="999999")
    assert "Alice_CV.pdf" not in client.get(link).get_data(as_text=True)
    assert client.get(f"{link}/files/{cv}").status_code == 404


def test_expired_and_revoked_links_are_gone_with_a_clear_page(app, client, auth, team, cv):
    auth.login(team.rita.email)
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    _status, link = make_link(client, auth, team.alice.id, expires=tomorrow, cv=cv)
    assert client.get(link).status_code == 200
    with app.app_context():
        share = db.session.scalar(select(CvShare))
        share.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    gone = client.get(link)
    assert gone.status_code == 410
    assert "This link has ended" in gone.get_data(as_text=True)
    assert "It expired on" in gone.get_data(as_text=True)
    assert gone.headers["X-Robots-Tag"].startswith("noindex")
    assert client.get(f"{link}/files/{cv}").status_code == 410

    _status, second = make_link(client, auth, team.alice.id)
    with app.app_context():
        share_id = db.session.scalar(select(CvShare.id).order_by(CvShare.id.desc()))
    token = auth.csrf_token(f"/candidates/{team.alice.id}")
    revoked = client.post(f"/candidates/{team.alice.id}/shares/{share_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    response = client.get(second)
    assert response.status_code == 410
    assert "revoked it" in response.get_data(as_text=True)
    assert client.get("/s/not-a-real-token").status_code == 404
    with app.app_context():
        actions = list(db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("share_%"))))
    assert actions == ["share_created", "share_created", "share_revoked"]


def test_bad_expiry_dates_are_refused(client, auth, team, cv):
    auth.login(team.rita.email)
    past = (utcnow() - timedelta(days=2)).date().isoformat()
    assert make_link(client, auth, team.alice.id, expires=past)[0] == 422
    far = (utcnow() + timedelta(days=400)).date().isoformat()
    assert make_link(client, auth, team.alice.id, expires=far)[0] == 422
    assert make_link(client, auth, team.alice.id, expires="soon")[0] == 422


def test_only_who_may_see_the_candidate_makes_or_revokes_a_link(app, client, auth, team, cv):
    auth.login(team.rita.email)
    make_link(client, auth, team.alice.id)
    auth.logout()
    auth.login(team.sam.email)
    token = auth.csrf_token("/mail/inbox")
    assert client.post(f"/candidates/{team.alice.id}/shares", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        share_id = db.session.scalar(select(CvShare.id))
    revoke = client.post(f"/candidates/{team.alice.id}/shares/{share_id}/revoke", data={"csrf_token": token})
    assert revoke.status_code == 404
    auth.logout()
    auth.login(team.rita.email)
    assert client.post(f"/candidates/{team.alice.id}/shares", data={}).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.scalar(select(CvShare.revoked_at)) is None


def test_links_are_rate_limited_per_client(app, client, auth, team, cv, redis):
    auth.login(team.rita.email)
    _status, link = make_link(client, auth, team.alice.id)
    auth.logout()
    answers = [client.get(link, environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code for _ in range(31)]
    assert answers[:30] == [200] * 30
    assert answers[30] == 429
    guesses = client.get("/s/guess", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert guesses.status_code == 429  # guessing counts too
    assert client.get(link, environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 200  # others are served
    with app.app_context():
        assert db.session.query(CvShareView).count() == 31
