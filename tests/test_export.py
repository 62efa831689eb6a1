"""Exporting a candidate: one zip with their mail as received or as sent, files, and profile."""

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from tests.mailmaker import raw_mail
from tests.privacy_helpers import receive, send
from webapp.extensions import db
from webapp.models import AuditLog, Message, SentCopy
from webapp.services import blob_store


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "secret": "Secret job"},
        users={"Rita Recruiter": ["job"], "Sam Recruiter": [], "Val Recruiter": ["secret"]},
        candidates={"Alice Able": ["job"], "Carla Both": ["job", "secret"]},
    )


def export(client, auth, candidate_id: int):
    token = auth.csrf_token(f"/candidates/{candidate_id}")
    return client.post(f"/candidates/{candidate_id}/export", data={"csrf_token": token})


def test_the_zip_holds_the_mail_as_it_travelled_files_and_profile(app, client, auth, team, redis, smtp):
    inbound = receive(app, raw_mail(subject="Application", attachment=("Alice_CV.pdf", b"%PDF-1.4 cv")))
    outbound = send(app, team.rita, "alice@outside.test", "Re: Application", "Thanks Alice")
    with app.app_context():
        received = blob_store().get(db.session.get(Message, inbound).raw_sha256)
        sent = db.session.get(SentCopy, outbound).raw
    auth.login(team.rita.email)
    response = export(client, auth, team.alice.id)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"candidate-{team.alice.id}.zip" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    emls = sorted(n for n in names if n.endswith(".eml"))
    assert len(emls) == 2
    assert {archive.read(n) for n in emls} == {received, sent}  # byte for byte
    [cv] = [n for n in names if n.startswith("attachments/")]
    assert cv.endswith("Alice_CV.pdf")
    assert archive.read(cv) == b"%PDF-1.4 cv"
    profile = json.loads(archive.read("profile.json"))
    assert profile["candidate"]["emails"] == ["alice@outside.test"]
    assert profile["candidate"]["first_name"] == "Alice"
    assert profile["placements"][0]["offer"] == "Backend"
    assert {m["subject"] for m in profile["messages"]} == {"Application", "Re: Application"}
    with app.app_context():
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "candidate_exported"))
        assert (log.user_id, log.target_id) == (team.rita.id, team.alice.id)


def test_who_may_export(client, auth, team):
    auth.login(team.sam.email)
    assert export(client, auth, team.alice.id).status_code == 404  # cannot see her
    auth.logout()
    auth.login(team.val.email)
    assert export(client, auth, team.carla.id).status_code == 403  # sees Carla, not all her offers
    auth.logout()
    auth.login(team.rita.email)
    assert client.get(f"/candidates/{team.alice.id}/export").status_code == 405  # a POST, with CSRF
    assert client.post(f"/candidates/{team.alice.id}/export").status_code == 400
