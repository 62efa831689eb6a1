"""Offer access: mail of a candidate on an offer the user can't access is a 404 everywhere."""

import pytest

from tests.helpers import row_subjects
from webapp.models import Direction

HTMX_PANE = {"HX-Request": "true", "HX-Target": "message-pane"}
HTMX_LIST = {"HX-Request": "true", "HX-Target": "message-list"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"secret": "Secret job", "open_job": "Open job"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["open_job"]},
        candidates={"Sue Secret": ["secret"]},
    )


def _secret_mail(make, team, slug):
    """Mail that would be in `slug` for rita if she could access the secret job."""
    subject = f"Secret mail for {slug}"
    if slug == "inbox":
        return make.message(candidate=team.sue, to_users=[team.rita], subject=subject)
    if slug == "sent":
        return make.message(
            direction=Direction.OUTBOUND, sender=team.rita, candidate=team.sue, subject=subject
        )
    if slug == "scheduled":
        return make.message(
            direction=Direction.OUTBOUND,
            sender=team.rita,
            candidate=team.sue,
            subject=subject,
            status="scheduled",
        )
    if slug == "followed-candidates":
        make.follow(team.rita, team.sue)
    if slug == "followed-jobs":
        make.follow(team.rita, team.secret)
    if slug == "archived":
        thread = make.thread(subject, candidate=team.sue, archived=True)
        return make.message(thread, candidate=team.sue, to_users=[team.rita])
    if slug == "incoming-cv":
        return make.message(
            subject=subject, is_cv=True, cv_offer_id=team.secret.id, from_address="a@agency.test"
        )
    return make.message(candidate=team.sue, to_users=[team.rita], subject=subject)


FOLDERS = [
    "inbox",
    "sent",
    "scheduled",
    "candidates",
    "followed-candidates",
    "followed-jobs",
    "non-candidates",
    "archived",
    "incoming-cv",
]


@pytest.mark.parametrize("slug", FOLDERS)
def test_no_access_means_404_in_every_view(client, auth, make, team, slug):
    msg = _secret_mail(make, team, slug)
    pane_url = f"/mail/{slug}/{msg.thread_id}"
    auth.login(team.rita.email)

    page = client.get(f"/mail/{slug}").get_data(as_text=True)
    fragment = client.get(f"/mail/{slug}", headers=HTMX_LIST).get_data(as_text=True)
    assert msg.subject not in row_subjects(page)
    assert msg.subject not in fragment
    assert client.get(pane_url).status_code == 404
    assert client.get(pane_url, headers=HTMX_PANE).status_code == 404
    for other in FOLDERS:
        assert client.get(f"/mail/{other}/{msg.thread_id}").status_code == 404

    # The same URLs work for someone who may see it, so the 404 above is about access.
    # (Rita's scheduled mail is hers alone; test_granting_access_shows_it covers it.)
    if slug == "scheduled":
        return
    auth.logout()
    auth.login(team.ada.email)
    assert client.get(pane_url).status_code == 200
    assert msg.subject in client.get(pane_url, headers=HTMX_PANE).get_data(as_text=True)


@pytest.mark.parametrize("slug", [f for f in FOLDERS if f != "non-candidates"])
def test_granting_access_shows_it(client, auth, make, team, slug):
    msg = _secret_mail(make, team, slug)
    make.grant(team.rita, team.secret)
    auth.login(team.rita.email)
    assert msg.subject in row_subjects(client.get(f"/mail/{slug}").get_data(as_text=True))
    assert client.get(f"/mail/{slug}/{msg.thread_id}", headers=HTMX_PANE).status_code == 200


def test_company_cv_inbox_is_admins_only(client, auth, make, team):
    msg = make.message(subject="Spontaneous CV", is_cv=True, from_address="someone@example.test")
    auth.login(team.rita.email)
    assert "Spontaneous CV" not in client.get("/mail/incoming-cv").get_data(as_text=True)
    assert client.get(f"/mail/incoming-cv/{msg.thread_id}").status_code == 404
    auth.logout()
    auth.login(team.ada.email)
    assert "Spontaneous CV" in row_subjects(client.get("/mail/incoming-cv").get_data(as_text=True))


def test_attachment_download_checks_access(app, client, auth, make, team):
    from webapp.extensions import db
    from webapp.mail.storage import BlobStore
    from webapp.models import Attachment

    msg = make.message(candidate=team.sue, subject="With CV")
    with app.app_context():
        sha = BlobStore(app.config["STORAGE_DIR"]).put(b"%PDF-1.4 secret cv")
        att = Attachment(
            message_id=msg.id, filename="cv.pdf", content_type="application/pdf", size=18, sha256=sha
        )
        db.session.add(att)
        db.session.commit()
        att_id = att.id

    auth.login(team.rita.email)
    assert client.get(f"/attachments/{att_id}").status_code == 404
    auth.logout()
    auth.login(team.ada.email)
    response = client.get(f"/attachments/{att_id}")
    assert response.status_code == 200
    assert response.data == b"%PDF-1.4 secret cv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_missing_thread_is_404(client, auth, team):
    auth.login(team.rita.email)
    assert client.get("/mail/inbox/999999").status_code == 404
    assert client.get("/attachments/999999").status_code == 404
